import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Page } from 'playwright-core'
import { openApp, signedIn, signedInPerson, skipWithoutChromium, submit } from './browser-helper.ts'
import { pollsHeld } from '../helper.ts'

const skip = skipWithoutChromium

/** Types a message and sends it with Enter, as a person does. */
async function say(page: Page, text: string): Promise<void> {
  await page.fill('#room-body', text)
  await page.press('#room-body', 'Enter')
  // the textarea empties once the console has taken the message
  while ((await page.inputValue('#room-body')) !== '') await page.waitForTimeout(10)
}

async function shown(page: Page): Promise<string[]> {
  return page.locator('#room-messages li .body').allTextContents()
}

test('two people in /room: what one posts, the other sees pushed to the open page, with author and time', { skip }, async (t) => {
  const session = await openApp(t)
  await signedIn(session, 'deployer', 'ana')
  const other = await signedInPerson(session, 'viewer', 'ben')

  await session.page.goto('/room')
  await other.goto('/room')
  // both tabs' polls are held by the console
  await pollsHeld(session.app, 2)

  await session.page.fill('#room-body', 'deploying shop to prod <b>now</b>')
  await session.page.press('#room-body', 'Enter')
  // pushed through ben's held poll, no reload; how fast is bench:poll's to measure (a loaded CI machine is no stopwatch)
  await other.locator('#room-messages li', { hasText: 'deploying shop to prod <b>now</b>' }).waitFor({ timeout: 5000 })

  const item = other.locator('#room-messages li').last()
  assert.equal((await item.locator('.author').textContent())?.trim(), 'ana')
  assert.match((await item.locator('time').getAttribute('datetime')) ?? '', /^\d{4}-\d\d-\d\dT/)
  // the sender sees it too, once, in the same place
  await session.page.locator('#room-messages li', { hasText: 'deploying shop' }).waitFor()
  assert.deepEqual(await shown(session.page), await shown(other))
  assert.equal(await other.locator('#room-messages b').count(), 0, 'the message is text, not markup')
})

test('a tab whose network is cut for 10 s while 50 messages are posted shows all 50 afterwards, in order, none twice', { skip, timeout: 90_000 }, async (t) => {
  const session = await openApp(t)
  await signedIn(session, 'deployer', 'ana')
  const other = await signedInPerson(session, 'viewer', 'ben')
  await session.page.goto('/room')
  await say(session.page, 'before the cut')
  await other.goto('/room')
  await pollsHeld(session.app, 2)

  const cutAt = Date.now()
  await other.context().setOffline(true)
  const sent: string[] = []
  for (let i = 1; i <= 50; i++) {
    const text = `line ${String(i).padStart(2, '0')}`
    await say(session.page, text)
    sent.push(text)
  }
  // the cut tab says it is reconnecting rather than pretending to be live
  await other.locator('body[data-poll-state="reconnecting"]').waitFor({ state: 'attached', timeout: 20_000 })
  assert.ok(await other.locator('.poll-state').isVisible())
  const wait = 10_000 - (Date.now() - cutAt)
  if (wait > 0) await other.waitForTimeout(wait)
  await other.context().setOffline(false)

  await other.locator('#room-messages li', { hasText: 'line 50' }).waitFor({ timeout: 40_000 })
  await other.locator('body[data-poll-state="live"]').waitFor({ state: 'attached' })
  assert.deepEqual(await shown(other), ['before the cut', ...sent])
  assert.deepEqual(await shown(session.page), ['before the cut', ...sent])
  const ids = await other.locator('#room-messages li').evaluateAll((items) => items.map((li) => Number(li.getAttribute('data-seq'))))
  assert.deepEqual(ids, [...ids].sort((a, b) => a - b), 'in the order the console stored them')
  assert.equal(new Set(ids).size, ids.length, 'none twice')
})

test('a reload of the same tab keeps its place: nothing is lost or shown twice', { skip }, async (t) => {
  const session = await openApp(t)
  await signedIn(session, 'viewer', 'ana')
  const { page } = session
  await page.goto('/room')
  await say(page, 'one')
  await page.locator('#room-messages li', { hasText: 'one' }).waitFor()
  // the page's own sessionStorage (no DOM types in this project's tsconfig)
  const tabClient = () => {
    const store = (globalThis as unknown as { sessionStorage: { getItem(key: string): string | null } }).sessionStorage
    return (JSON.parse(store.getItem('longship.poll') ?? '{}') as { client?: string }).client
  }
  const client = await page.evaluate(tabClient)
  assert.ok(client)
  await page.reload()
  await say(page, 'two')
  // the message comes through the poll, not the post's answer: wait for it, then look for loss or a repeat
  await page.locator('#room-messages li', { hasText: 'two' }).waitFor()
  assert.deepEqual(await shown(page), ['one', 'two'])
  // the same tab keeps its poll client (and so its queue on the console) across the reload
  assert.equal(await page.evaluate(tabClient), client)
})

test('the room without JavaScript shows the history and a refresh link, and posts through the form', { skip }, async (t) => {
  const session = await openApp(t, { javaScriptEnabled: false })
  await signedIn(session, 'viewer', 'ana')
  const { page } = session
  await session.app.knex('room_messages').insert({ user_id: null, body: 'from the archive', created_at: new Date() })
  await page.goto('/room')
  assert.deepEqual(await shown(page), ['from the archive'])
  assert.ok(await page.locator('#room-refresh').isVisible())

  await page.fill('#room-body', 'hello without scripts')
  await submit(page, '#room-form button[type="submit"]')
  assert.equal(new URL(page.url()).pathname, '/room')
  assert.deepEqual(await shown(page), ['from the archive', 'hello without scripts'])

  await page.fill('#room-body', ' ')
  await page.locator('#room-body').evaluate((node) => node.removeAttribute('required'))
  await submit(page, '#room-form button[type="submit"]')
  assert.equal((await page.textContent('#room-body-error'))?.trim(), 'Write a message')
  assert.deepEqual(await shown(page), ['from the archive', 'hello without scripts'])
})
