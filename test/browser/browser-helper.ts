import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { after } from 'node:test'
import type { TestContext } from 'node:test'
import type { AddressInfo } from 'node:net'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../server/app.ts'
import { TEST_PASSWORD, createUser, testConfig } from '../helper.ts'
import type { Role } from '../../server/users/repository.ts'

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

const LAUNCH_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
]

/**
 * The `skip` option for every browser test: a developer without chromium
 * gets skipped tests, but CI must never pass by skipping, so under CI=true a
 * missing chromium makes the launch (and the test) fail.
 */
export const skipWithoutChromium: string | false =
  existsSync(CHROMIUM) || process.env.CI === 'true' ? false : `chromium is not installed at ${CHROMIUM} (apt-get install chromium)`

let launching: Promise<Browser> | null = null

// registered while the test file is being loaded, so it belongs to the file's
// root test and runs once all of the file's tests are done
after(async () => {
  const browser = await launching?.catch(() => null)
  await browser?.close()
})

/**
 * One chromium per test file, started by the first test that needs it. Each
 * file runs in its own process under `node --test`, so the module-level
 * browser is per file.
 */
export function sharedBrowser(): Promise<Browser> {
  launching ??= chromium.launch({ executablePath: CHROMIUM, headless: true, args: LAUNCH_ARGS })
  return launching
}

export interface BrowserSession {
  app: FastifyInstance
  /** http://127.0.0.1:PORT, no trailing slash. */
  base: string
  context: BrowserContext
  page: Page
  /** Absolute URL for a path on the app. */
  url(path: string): string
  /** Another person on the same console: a context of their own (own cookies), closed with the session. */
  newPerson(opts?: { javaScriptEnabled?: boolean }): Promise<Page>
}

/**
 * The real app on its own database, listening on a free loopback port, and a
 * fresh browser context (own cookies) with one page. Both are closed when the
 * test ends: the context first, so no keep-alive connection holds app.close().
 */
export async function openApp(t: TestContext, opts: { javaScriptEnabled?: boolean; app?: FastifyInstance } = {}): Promise<BrowserSession> {
  const browser = await sharedBrowser()
  // a test may bring an app it built with more around it (servers, a repository); it closes that app itself
  const app = opts.app ?? (await buildApp(await testConfig(t), { logger: false }))
  let context: BrowserContext | null = null
  const others: BrowserContext[] = []
  // a script error or a blocked script (CSP) would quietly turn the JS tests
  // into no-JS tests, so any such message fails the test
  const problems: string[] = []
  t.after(async () => {
    for (const other of others) await other.close()
    await context?.close()
    if (!opts.app) await app.close()
    assert.deepEqual(problems, [], 'the pages logged no script errors')
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
  const base = `http://127.0.0.1:${port}`
  context = await browser.newContext({ javaScriptEnabled: opts.javaScriptEnabled ?? true, baseURL: base })
  // a failed expectation should fail fast, not after playwright's 30 s default
  context.setDefaultTimeout(10_000)
  const watch = (page: Page): Page => {
    page.on('pageerror', (err) => problems.push(err.message))
    page.on('console', (message) => {
      // a 4xx page (an invalid form answers 400) is logged too, and is expected;
      // an asset answered with a page instead (MIME type refused) is the subject
      // of its own test in auth.test.ts rather than a failure of every test
      const text = message.text()
      if (message.type() === 'error' && !text.startsWith('Failed to load resource') && !/MIME type/.test(text)) problems.push(text)
    })
    return page
  }
  const page = watch(await context.newPage())
  const newPerson = async (more: { javaScriptEnabled?: boolean } = {}): Promise<Page> => {
    const other = await browser.newContext({ javaScriptEnabled: more.javaScriptEnabled ?? true, baseURL: base })
    other.setDefaultTimeout(10_000)
    others.push(other)
    return watch(await other.newPage())
  }
  return { app, base, context, page, url: (path) => base + path, newPerson }
}

/** Fills and submits the sign-in form as a person would, and waits to land elsewhere. */
export async function signInThroughPage(page: Page, username: string, password = TEST_PASSWORD): Promise<void> {
  if (new URL(page.url()).pathname !== '/login') await page.goto('/login')
  await page.fill('input[name="username"]', username)
  await page.fill('input[name="password"]', password)
  await Promise.all([page.waitForURL((u) => u.pathname !== '/login'), page.click('form[action="/login"] button[type="submit"]')])
}

/** A new user of that role, signed in through the login page. */
export async function signedIn(session: BrowserSession, role: Role, username = `${role}-browser`): Promise<void> {
  await createUser(session.app, username, role)
  await signInThroughPage(session.page, username)
}

/** Another person on the same console, a new user of that role signed in through the login page in a browser context of their own. */
export async function signedInPerson(session: BrowserSession, role: Role, username: string): Promise<Page> {
  const page = await session.newPerson()
  await createUser(session.app, username, role)
  await signInThroughPage(page, username)
  return page
}

/** Submits a form by its button and waits for the answer page to load (no-JS friendly). */
export async function submit(page: Page, button: string): Promise<void> {
  await Promise.all([page.waitForEvent('load'), page.click(button)])
}

/** The message shown beside a form field, or null when the field has none. */
export async function fieldError(page: Page, name: string): Promise<string | null> {
  const error = page.locator('.field', { has: page.locator(`[name="${name}"]`) }).locator('.error')
  return (await error.count()) ? ((await error.first().textContent()) ?? '').trim() : null
}
