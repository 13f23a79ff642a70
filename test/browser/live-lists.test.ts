import { test } from 'node:test'
import assert from 'node:assert/strict'
import { openApp, signedIn, signedInPerson, skipWithoutChromium, submit } from './browser-helper.ts'
import { pollsHeld } from '../helper.ts'
import { createProjectsService } from '../../server/projects/service.ts'

const skip = skipWithoutChromium

test('a server created, edited and deleted by one admin shows in another person\'s open list without a reload', { skip, timeout: 60_000 }, async (t) => {
  const session = await openApp(t)
  await signedIn(session, 'admin', 'ana')
  const watcher = await signedInPerson(session, 'viewer', 'ben')
  await watcher.goto('/servers')
  // a marker that a reload would wipe
  await watcher.evaluate(() => Object.assign(globalThis, { notReloaded: true }))
  await pollsHeld(session.app, 1)

  const { page } = session
  await page.goto('/servers/new')
  await page.fill('[name="hostname"]', 'web-07')
  await page.fill('[name="address"]', '10.1.0.7')
  await page.fill('[name="username"]', 'deploy')
  await submit(page, 'form.form button[type="submit"]')
  const id = Number(new URL(page.url()).pathname.split('/').pop())

  const row = watcher.locator(`#server-${id}`)
  await row.waitFor()
  assert.match((await row.textContent()) ?? '', /web-07/)
  assert.match((await row.getAttribute('class')) ?? '', /changed/)
  assert.equal(await row.locator('[data-delete]').count(), 0, 'a viewer gets the viewer\'s row')

  await page.goto(`/servers/${id}/edit`)
  await page.fill('[name="address"]', '10.1.0.70')
  await submit(page, 'form.form button[type="submit"]')
  await watcher.locator(`#server-${id}`, { hasText: '10.1.0.70' }).waitFor()

  await page.goto(`/servers/${id}/delete`)
  await submit(page, 'main form button.danger')
  await watcher.locator(`#server-${id}.removed`).waitFor()
  assert.equal(await watcher.evaluate(() => (globalThis as { notReloaded?: boolean }).notReloaded), true)
})

test('a project created elsewhere appears in an open projects list', { skip }, async (t) => {
  const session = await openApp(t)
  await signedIn(session, 'admin', 'ana')
  const { page, app } = session
  await page.goto('/projects')
  await pollsHeld(app, 1)
  assert.equal(await page.locator('#projects td.empty').count(), 1)
  // through the service the forms and the API share, as a teammate's script would
  const created = await createProjectsService(app.knex, app.hub).create({ title: 'billing', repo_url: 'https://git.example.com/billing.git', env: 'test', deploy_path: '/srv/billing', keep_releases: 5, rollout: 'serial' }, { form: false })
  assert.ok(created.ok)
  const row = page.locator('#projects tbody tr', { hasText: 'billing' })
  await row.waitFor()
  assert.match((await row.getAttribute('class')) ?? '', /changed/)
  assert.equal(await page.locator('#projects td.empty').count(), 0, 'the "no projects yet" line is gone')
})
