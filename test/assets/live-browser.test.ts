import { test } from 'node:test'
import assert from 'node:assert/strict'
import { collectAll } from '../../server/assets/collectors/index.ts'
import { createAssetsRepository } from '../../server/assets/repository.ts'
import { pollsHeld, tempDir } from '../helper.ts'
import { openApp, signedIn, signedInPerson, skipWithoutChromium, submit } from '../browser/browser-helper.ts'
import { shell } from './support/shell.ts'
import { fixture } from './support/targets.ts'

test('open assets pages show an agent\'s report without a reload', { skip: skipWithoutChromium, timeout: 60_000 }, async (t) => {
  const session = await openApp(t)
  await signedIn(session, 'viewer', 'vera')
  const { page, app } = session
  const { token } = await createAssetsRepository(app.knex).createEnrollmentToken('browser', null)
  const facts = (await collectAll(await fixture('ubuntu18-virtualbox'))).facts
  const report = (body: Record<string, unknown>) =>
    app.inject({ method: 'POST', url: '/api/assets', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, payload: JSON.stringify(body) })

  await page.goto('/assets')
  await page.evaluate(() => Object.assign(globalThis, { notReloaded: true }))
  await pollsHeld(app, 1)
  const first = await report({ agent_id: 'agent-browser-1', hostname: 'build-vm', facts })
  assert.equal(first.statusCode, 201)
  const id = first.json().asset_id as number
  const row = page.locator(`#asset-${id}`)
  await row.waitFor()
  assert.match((await row.textContent()) ?? '', /Ubuntu/)
  assert.match((await row.getAttribute('class')) ?? '', /changed/)

  await page.goto(`/assets/${id}`)
  await page.evaluate(() => Object.assign(globalThis, { notReloaded: true }))
  await pollsHeld(app, 1)
  const bigger = structuredClone(facts)
  bigger.disk = [...(bigger.disk ?? []), { name: 'sdb', sizeBytes: 512_110_190_592, rotational: false, model: null, serial: 'NEWDISK01' }]
  assert.equal((await report({ agent_id: 'agent-browser-1', hostname: 'build-vm', previous_hostname: 'build-vm', facts: bigger })).statusCode, 200)
  await page.locator('#asset-history', { hasText: 'disk sdb added, 512 GB' }).waitFor()
  assert.equal(await page.evaluate(() => (globalThis as { notReloaded?: boolean }).notReloaded), true)
})

test('a server installed with the command on the enroll page shows on an open /assets at once', { skip: skipWithoutChromium, timeout: 120_000 }, async (t) => {
  const session = await openApp(t)
  await signedIn(session, 'admin', 'ada')
  const { page, app } = session
  const viewer = await signedInPerson(session, 'viewer', 'vic')
  await viewer.goto('/assets')
  await viewer.evaluate(() => Object.assign(globalThis, { notReloaded: true }))
  await pollsHeld(app, 1)

  await page.goto('/assets/enroll')
  await page.fill('input[name="name"]', 'web servers')
  await submit(page, 'form[action="/assets/enroll"] button[type="submit"]')
  const command = (await page.locator('#install-command').textContent()) ?? ''
  const shown = /^curl -fsSL (\S+) \| sudo LONGSHIP_TOKEN=(lse_[\w-]+) sh$/.exec(command)
  assert.ok(shown, command)

  // the command as shown, run the way a test may: no sudo, and everything in a temp dir instead of /opt, /etc and cron
  const prefix = tempDir(t, 'install')
  const run = await shell(`curl -fsSL '${shown[1]}' | LONGSHIP_TOKEN='${shown[2]}' sh -s -- --prefix ${prefix} --no-cron`)
  assert.equal(run.code, 0, run.stderr)
  const id = Number(/as asset (\d+)/.exec(run.stdout)?.[1])

  const row = viewer.locator(`#asset-${id}`)
  await row.waitFor()
  assert.match((await row.getAttribute('class')) ?? '', /changed/)
  const asset = await app.knex('assets').where({ id }).first()
  assert.match((await row.textContent()) ?? '', new RegExp(asset.hostname))
  assert.equal(await viewer.evaluate(() => (globalThis as { notReloaded?: boolean }).notReloaded), true)
})

test('an open errors page shows a new collection error without a reload', { skip: skipWithoutChromium, timeout: 60_000 }, async (t) => {
  const session = await openApp(t)
  await signedIn(session, 'viewer', 'vera')
  const { page, app } = session
  const { token } = await createAssetsRepository(app.knex).createEnrollmentToken('browser', null)
  await page.goto('/assets/errors')
  await page.locator('td.empty', { hasText: 'No collection errors.' }).waitFor()
  await page.evaluate(() => Object.assign(globalThis, { notReloaded: true }))
  await pollsHeld(app, 1)
  const report = await app.inject({
    method: 'POST',
    url: '/api/assets',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    payload: JSON.stringify({ agent_id: 'agent-browser-errors', hostname: 'flaky-vm', facts: {}, errors: [{ collector: 'disk', message: 'lsblk <failed>' }] }),
  })
  assert.equal(report.statusCode, 201)
  const row = page.locator('#asset-error-list tr.changed', { hasText: 'lsblk <failed>' })
  await row.waitFor()
  assert.match((await row.textContent()) ?? '', /flaky-vm/)
  assert.equal(await page.locator('td.empty').count(), 0, 'the empty notice went')
  assert.equal(await page.evaluate(() => (globalThis as { notReloaded?: boolean }).notReloaded), true)
})
