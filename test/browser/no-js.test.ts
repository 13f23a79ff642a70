import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fieldError, openApp, signedIn, skipWithoutChromium, submit } from './browser-helper.ts'
import { countRows } from '../helper.ts'
import { createServersRepository } from '../../server/servers/repository.ts'

// every test here runs in a browser with JavaScript turned off, as some operators' consoles do
const skip = skipWithoutChromium

test('without JavaScript, an admin creates a server with a plain form post', { skip }, async (t) => {
  const session = await openApp(t, { javaScriptEnabled: false })
  const { page, app } = session
  await signedIn(session, 'admin')

  await page.goto('/servers')
  await Promise.all([page.waitForURL('**/servers/new'), page.click('a[href="/servers/new"]')])
  await page.fill('[name="hostname"]', 'plain-01.example.com')
  await page.fill('[name="address"]', '192.168.1.10')
  await page.fill('[name="port"]', '22')
  await page.fill('[name="username"]', 'ops')
  await page.selectOption('[name="env"]', 'staging')
  await page.fill('[name="tags"]', 'legacy ie11')
  await submit(page, 'form.form button[type="submit"]')

  assert.match(new URL(page.url()).pathname, /^\/servers\/\d+$/, 'POST then redirect to the new server')
  assert.match((await page.textContent('.flash-success')) ?? '', /Server plain-01\.example\.com created\./)
  await page.goto('/servers')
  const row = page.locator('#servers tbody tr', { hasText: 'plain-01.example.com' })
  assert.equal(await row.count(), 1)
  assert.match((await row.textContent()) ?? '', /legacy/)
  assert.equal(await countRows(app, 'servers'), 1)
})

test('without JavaScript, an invalid form comes back with the messages and the values typed', { skip }, async (t) => {
  const session = await openApp(t, { javaScriptEnabled: false })
  const { page, app } = session
  await signedIn(session, 'admin')

  await page.goto('/servers/new')
  await page.fill('[name="hostname"]', 'bad host!')
  await page.fill('[name="address"]', '10.0.0.9')
  await page.fill('[name="port"]', '70000')
  const [answer] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), submit(page, 'form.form button[type="submit"]')])

  assert.equal(answer.status(), 400)
  assert.match((await fieldError(page, 'hostname')) ?? '', /Hostname must be letters/)
  assert.match((await fieldError(page, 'port')) ?? '', /Port must be between 1 and 65535/)
  assert.equal(await page.inputValue('[name="hostname"]'), 'bad host!')
  assert.equal(await page.inputValue('[name="port"]'), '70000')
  assert.equal(await countRows(app, 'servers'), 0)
})

test('without JavaScript, delete goes through the confirmation page and its form', { skip }, async (t) => {
  const session = await openApp(t, { javaScriptEnabled: false })
  const { page, app } = session
  await signedIn(session, 'admin')
  const server = await createServersRepository(app.knex).create({ hostname: 'old-01.example.com', address: '10.9.0.1', port: 22, username: 'root', credential_id: null, env: 'test', tags: [], notes: '' })

  await page.goto('/servers')
  // the link is followed, not intercepted: no dialog, a page that asks
  await Promise.all([page.waitForURL(`**/servers/${server.id}/delete`), page.click(`#server-${server.id} a[data-delete]`)])
  assert.match((await page.textContent('h1')) ?? '', /Delete server old-01\.example\.com\?/)
  assert.equal(await countRows(app, 'servers'), 1, 'opening the confirmation deletes nothing')

  await submit(page, `form[action="/servers/${server.id}/delete"] button[type="submit"]`)
  assert.equal(new URL(page.url()).pathname, '/servers')
  assert.match((await page.textContent('.flash-success')) ?? '', /Server old-01\.example\.com deleted\./)
  assert.equal(await page.locator(`#server-${server.id}`).count(), 0)
  assert.equal(await countRows(app, 'servers'), 0)
})

test('without JavaScript, cancelling on the confirmation page keeps the server', { skip }, async (t) => {
  const session = await openApp(t, { javaScriptEnabled: false })
  const { page, app } = session
  await signedIn(session, 'admin')
  const server = await createServersRepository(app.knex).create({ hostname: 'kept-01.example.com', address: '10.9.0.2', port: 22, username: 'root', credential_id: null, env: 'test', tags: [], notes: '' })

  await page.goto(`/servers/${server.id}/delete`)
  await Promise.all([page.waitForURL(`**/servers/${server.id}`), page.click('form.form a:has-text("Cancel")')])
  assert.match((await page.textContent('h1')) ?? '', /kept-01\.example\.com/)
  assert.equal(await countRows(app, 'servers'), 1)
})
