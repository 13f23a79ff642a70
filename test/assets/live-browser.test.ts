import { test } from 'node:test'
import assert from 'node:assert/strict'
import { collectAll } from '../../server/assets/collectors/index.ts'
import { createAssetsRepository } from '../../server/assets/repository.ts'
import { pollsHeld } from '../helper.ts'
import { openApp, signedIn, skipWithoutChromium } from '../browser/browser-helper.ts'
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
