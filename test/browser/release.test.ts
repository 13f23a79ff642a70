import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Page } from 'playwright-core'
import { openApp, signInThroughPage, skipWithoutChromium } from './browser-helper.ts'
import { createUser, pollsHeld } from '../helper.ts'
import { sshdSkipReason } from '../support/sshd.ts'
import { deployFixture } from '../releases/fixture.ts'

const skip = skipWithoutChromium || sshdSkipReason()

/** Every diagram node's id and colour (its state class), as the page shows them. */
async function nodes(page: Page): Promise<string[]> {
  return page.locator('#flow .node').evaluateAll((items) => items.map((n) => `${n.id}=${(/state-([a-z]+)/.exec(n.className) ?? [])[1] ?? ''}`))
}

async function lines(page: Page): Promise<string[]> {
  return page.locator('#log li').evaluateAll((items) => items.map((li) => `${li.id} ${li.textContent ?? ''}`))
}

test('two people watch one release live: the same lines and step colours, and chat in the same stream', { skip, timeout: 120_000 }, async (t) => {
  const f = await deployFixture(t, {
    hosts: 2,
    project: {
      hook_after_download: 'for i in $(seq 1 20); do echo "build line $i"; sleep 0.05; done',
      hook_before_deploy: 'sleep 1; echo "deploying on $(hostname)"',
    },
  })
  const session = await openApp(t, { app: f.app })
  await createUser(f.app, 'ana', 'deployer')
  await signInThroughPage(session.page, 'ana')
  const ben = await session.newPerson()
  await createUser(f.app, 'ben', 'viewer')
  await signInThroughPage(ben, 'ben')

  // ana starts it from the form, as a person does
  await session.page.goto(`/projects/${f.project.id}/releases/new`)
  await Promise.all([session.page.waitForURL(/\/releases\/\d+$/), session.page.click('#branches button[value="main"]')])
  const id = Number(/\/releases\/(\d+)$/.exec(session.page.url())?.[1])
  await ben.goto(`/releases/${id}`)
  await pollsHeld(f.app, 2)
  // while it runs, a node turns blue (running) on ben's page without a reload
  await ben.locator('#flow .node.state-running').first().waitFor({ timeout: 20_000 })

  for (const page of [session.page, ben]) await page.locator('#release-status', { hasText: 'success' }).waitFor({ timeout: 60_000 })
  const stored = await f.logOf(id)
  assert.ok(stored.includes('|stdout|build line 20'))
  assert.deepEqual(await nodes(ben), await nodes(session.page))
  // the after-deploy hook is empty: skipped, in grey
  assert.ok((await nodes(ben)).every((n) => n.endsWith(n.includes('after_deploy') ? '=skipped' : '=ok')), (await nodes(ben)).join('\n'))
  await ben.locator('#log li', { hasText: 'build line 20' }).waitFor()
  assert.deepEqual(await lines(ben), await lines(session.page))
  assert.equal(await ben.locator('#host-status-web2').textContent(), 'success')
  assert.equal(await ben.locator('#release-cancel').count(), 0)

  // ben writes; both see it, after everything before it
  await ben.fill('#chat-body', 'looks good <b>here</b>')
  await ben.press('#chat-body', 'Enter')
  for (const page of [session.page, ben]) await page.locator('#log li.chat-line', { hasText: 'looks good <b>here</b>' }).waitFor({ timeout: 2_000 })
  assert.equal((await session.page.locator('#log li').last().textContent())?.includes('ben'), true)
  assert.equal(await session.page.locator('#log b').count(), 0)
})

test('a tab cut off for 10 s during a release catches up: every line once, in order, and the final colours', { skip, timeout: 120_000 }, async (t) => {
  const f = await deployFixture(t, { hosts: 1, project: { hook_before_deploy: 'for i in $(seq 1 150); do echo "line $i"; sleep 0.05; done' } })
  const session = await openApp(t, { app: f.app })
  await createUser(f.app, 'cat', 'viewer')
  await signInThroughPage(session.page, 'cat')
  const release = await f.app.releases.start(f.admin, f.project.id, 'main')
  await session.page.goto(`/releases/${release.id}`)
  await session.page.locator('#log li', { hasText: /^web1 line \d+$/ }).first().waitFor({ timeout: 20_000 })
  const cutAt = Date.now()
  await session.context.setOffline(true)
  await session.page.locator('body[data-poll-state="reconnecting"]').waitFor({ state: 'attached', timeout: 20_000 })
  await f.settled(release.id)
  const wait = 10_000 - (Date.now() - cutAt)
  if (wait > 0) await session.page.waitForTimeout(wait)
  await session.context.setOffline(false)
  await session.page.locator('#release-status', { hasText: 'success' }).waitFor({ timeout: 40_000 })
  await session.page.locator('#log li', { hasText: 'web1 line 150' }).waitFor()
  const shown = (await session.page.locator('#log li .text').allTextContents()).filter((l) => /^line \d+$/.test(l))
  assert.deepEqual(
    shown,
    Array.from({ length: 150 }, (_, i) => `line ${i + 1}`),
  )
  const ids = await session.page.locator('#log li').evaluateAll((items) => items.map((li) => Number(li.id.slice(1))))
  assert.deepEqual(ids, [...ids].sort((a, b) => a - b))
  assert.equal(new Set(ids).size, ids.length)
  const final = await nodes(session.page)
  assert.ok(final.every((n) => n.endsWith(n.includes('after_deploy') ? '=skipped' : '=ok')), final.join('\n'))
})
