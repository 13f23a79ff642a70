import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import path from 'node:path'
import type { Page, Request } from 'playwright-core'
import { fieldError, openApp, signedIn, skipWithoutChromium, submit, type BrowserSession } from './browser-helper.ts'
import { countRows } from '../helper.ts'
import { createServersRepository, type Server } from '../../server/servers/repository.ts'
import { createCredentialsRepository } from '../../server/credentials/repository.ts'

const skip = skipWithoutChromium

/** Servers put straight into the database, for tests about something else than creating them. */
async function seedServers(session: BrowserSession, names: string[]): Promise<Server[]> {
  const repo = createServersRepository(session.app.knex)
  const servers: Server[] = []
  for (const [i, hostname] of names.entries()) {
    servers.push(await repo.create({ hostname, address: `10.20.0.${i + 1}`, port: 22, username: 'deploy', credential_id: null, env: i % 2 ? 'prod' : 'staging', tags: ['web', `rack-${i}`], notes: '' }))
  }
  return servers
}

async function rowTexts(page: Page): Promise<string[]> {
  return page.locator('#servers tbody tr').allTextContents()
}

test('an admin creates a server through the form and finds it in the list', { skip }, async (t) => {
  const session = await openApp(t)
  const { page, app } = session
  await signedIn(session, 'admin')
  const credential = await createCredentialsRepository(app.knex).create({ name: 'deploy-key', kind: 'key', secret_encrypted: 'not-used-here', fingerprint: 'SHA256:test', notes: '' })

  await page.goto('/servers')
  await Promise.all([page.waitForURL('**/servers/new'), page.click('a[href="/servers/new"]')])
  await page.fill('[name="hostname"]', 'web-01.example.com')
  await page.fill('[name="address"]', '10.0.0.1')
  await page.fill('[name="port"]', '2222')
  await page.fill('[name="username"]', 'deploy')
  await page.selectOption('[name="credential_id"]', String(credential.id))
  await page.selectOption('[name="env"]', 'prod')
  await page.fill('[name="tags"]', 'web, eu-west')
  await page.fill('[name="notes"]', 'rack 4')
  await submit(page, 'form.form button[type="submit"]')

  assert.match(new URL(page.url()).pathname, /^\/servers\/\d+$/)
  assert.match((await page.textContent('.flash-success')) ?? '', /Server web-01\.example\.com created\./)
  assert.match((await page.textContent('dl.facts')) ?? '', /deploy@10\.0\.0\.1:2222/)

  await page.goto('/servers')
  const row = page.locator('#servers tbody tr', { hasText: 'web-01.example.com' })
  assert.equal(await row.count(), 1)
  const text = (await row.textContent()) ?? ''
  assert.match(text, /10\.0\.0\.1:2222/)
  assert.match(text, /prod/)
  assert.match(text, /eu-west/)
  assert.match(text, /deploy-key/)

  // SCREENSHOT_DIR=/tmp/shots keeps a picture of the list for a person to look at
  if (process.env.SCREENSHOT_DIR) {
    await seedServers(session, ['db-01.example.com', 'cache-01.example.com', 'web-02.example.com'])
    await page.goto('/servers')
    mkdirSync(process.env.SCREENSHOT_DIR, { recursive: true })
    await page.screenshot({ path: path.join(process.env.SCREENSHOT_DIR, 'servers-list.png'), fullPage: true })
  }
})

test('an admin edits a server and sees the change on its page and in the list', { skip }, async (t) => {
  const session = await openApp(t)
  const { page } = session
  await signedIn(session, 'admin')
  const [server] = await seedServers(session, ['app-01.example.com'])

  await page.goto('/servers')
  await Promise.all([page.waitForURL(`**/servers/${server!.id}/edit`), page.click(`#server-${server!.id} a[href$="/edit"]`)])
  assert.equal(await page.inputValue('[name="hostname"]'), 'app-01.example.com', 'the form starts from the stored values')
  await page.fill('[name="hostname"]', 'app-02.example.com')
  await page.fill('[name="tags"]', 'api')
  await submit(page, 'form.form button[type="submit"]')

  assert.equal(new URL(page.url()).pathname, `/servers/${server!.id}`)
  assert.match((await page.textContent('.flash-success')) ?? '', /Server app-02\.example\.com saved\./)
  await page.goto('/servers')
  const rows = await rowTexts(page)
  assert.equal(rows.length, 1)
  assert.match(rows[0]!, /app-02\.example\.com/)
  assert.match(rows[0]!, /api/)
})

test('an invalid server form shows each message beside its field and keeps what was typed', { skip }, async (t) => {
  const session = await openApp(t)
  const { page, app } = session
  await signedIn(session, 'admin')

  await page.goto('/servers/new')
  await page.fill('[name="hostname"]', 'bad host!')
  await page.fill('[name="address"]', '10.0.0.9')
  await page.fill('[name="port"]', '70000')
  await page.fill('[name="tags"]', 'web, db')
  await page.fill('[name="notes"]', 'keep <this> note')
  await submit(page, 'form.form button[type="submit"]')

  assert.match((await page.textContent('.flash-error')) ?? '', /Please correct the fields marked below/)
  assert.match((await fieldError(page, 'hostname')) ?? '', /Hostname must be letters/)
  assert.match((await fieldError(page, 'port')) ?? '', /Port must be between 1 and 65535/)
  assert.equal(await fieldError(page, 'address'), null, 'a valid field carries no message')
  assert.equal(await page.inputValue('[name="hostname"]'), 'bad host!')
  assert.equal(await page.inputValue('[name="port"]'), '70000')
  assert.equal(await page.inputValue('[name="address"]'), '10.0.0.9')
  assert.equal(await page.inputValue('[name="tags"]'), 'web, db')
  assert.equal(await page.inputValue('[name="notes"]'), 'keep <this> note')
  assert.equal(await countRows(app, 'servers'), 0)
})

test('an admin creates a project that deploys to a server', { skip }, async (t) => {
  const session = await openApp(t)
  const { page, app } = session
  await signedIn(session, 'admin')
  const [web, other] = await seedServers(session, ['web-01.example.com', 'web-02.example.com'])

  const res = await page.goto('/projects/new')
  assert.equal(res?.status(), 200, '/projects/new exists')
  await page.fill('[name="title"]', 'shop-frontend')
  await page.fill('[name="repo_url"]', 'https://git.example.com/shop/frontend.git')
  await page.selectOption('[name="env"]', 'prod')
  await page.fill('[name="deploy_path"]', '/srv/shop')
  const serverBox = page.locator(`[name="server_ids"][value="${web!.id}"]`)
  if ((await serverBox.getAttribute('type')) === 'checkbox') await serverBox.check()
  else await page.selectOption('select[name="server_ids"]', String(web!.id))
  await page.fill('[name="keep_releases"]', '3')
  await page.selectOption('[name="rollout"]', 'batch')
  await page.fill('[name="batch_size"]', '2')
  await page.fill('[name="hook_before_download"]', 'echo before download')
  await page.fill('[name="hook_after_download"]', 'npm ci && npm run build')
  await page.fill('[name="hook_before_deploy"]', 'echo before deploy')
  await page.fill('[name="hook_after_deploy"]', 'systemctl reload shop')
  await submit(page, 'form.form button[type="submit"]')

  assert.match(new URL(page.url()).pathname, /^\/projects\/\d+$/, `landed on ${page.url()}`)
  const project = await app.knex('projects').where({ title: 'shop-frontend' }).first()
  assert.ok(project, 'the project is stored')
  const links = await app.knex('project_servers').where({ project_id: project.id }).pluck('server_id')
  assert.deepEqual(links.map(Number), [web!.id])

  await page.goto(`/servers/${web!.id}`)
  assert.match((await page.textContent('dl.facts')) ?? '', /shop-frontend/, 'the server page lists the project using it')
  await page.goto(`/servers/${other!.id}`)
  assert.doesNotMatch((await page.textContent('dl.facts')) ?? '', /shop-frontend/)
})

test('confirming a delete in the list removes the row in place, and for good', { skip }, async (t) => {
  const session = await openApp(t)
  const { page, app } = session
  await signedIn(session, 'admin')
  const [keep, doomed] = await seedServers(session, ['keep-01.example.com', 'doomed-01.example.com'])

  await page.goto('/servers')
  const listUrl = page.url()
  // a page load would wipe this marker
  await page.evaluate(() => Object.assign(globalThis, { samePage: true }))
  const messages: string[] = []
  page.on('dialog', (dialog) => {
    messages.push(dialog.message())
    void dialog.accept()
  })
  const answer = page.waitForResponse((r) => r.url().endsWith(`/servers/${doomed!.id}/delete`) && r.request().method() === 'POST')
  await page.click(`#server-${doomed!.id} a[data-delete]`)
  assert.equal((await answer).status(), 200)
  await page.locator(`#server-${doomed!.id}`).waitFor({ state: 'detached' })

  assert.deepEqual(messages, ['Delete server doomed-01.example.com?'])
  assert.equal(page.url(), listUrl)
  assert.equal(await page.evaluate(() => (globalThis as { samePage?: boolean }).samePage), true, 'no page load happened')
  assert.match((await page.textContent('.flash-success')) ?? '', /Server doomed-01\.example\.com deleted\./)
  assert.equal(await page.locator(`#server-${keep!.id}`).count(), 1, 'the other row stays')

  await page.reload()
  assert.equal(await page.locator(`#server-${doomed!.id}`).count(), 0)
  assert.equal(await countRows(app, 'servers'), 1)
  assert.equal(await app.knex('servers').where({ id: doomed!.id }).first(), undefined)
})

test('dismissing the delete dialog deletes nothing', { skip }, async (t) => {
  const session = await openApp(t)
  const { page, app } = session
  await signedIn(session, 'admin')
  const [server] = await seedServers(session, ['spared-01.example.com'])

  await page.goto('/servers')
  const deletes: Request[] = []
  page.on('request', (r) => {
    if (r.url().includes('/delete')) deletes.push(r)
  })
  const dialog = page.waitForEvent('dialog')
  const click = page.click(`#server-${server!.id} a[data-delete]`)
  await (await dialog).dismiss()
  await click
  // a round trip through the page: the click handler has returned by now
  await page.evaluate(() => true)

  assert.deepEqual(deletes, [], 'no delete request was sent, by ajax or by following the link')
  assert.equal(new URL(page.url()).pathname, '/servers')
  assert.equal(await page.locator(`#server-${server!.id}`).count(), 1)
  assert.equal(await countRows(app, 'servers'), 1)
})

test('the credential form shows only the fields of the chosen kind', { skip }, async (t) => {
  const session = await openApp(t)
  const { page } = session
  await signedIn(session, 'admin')
  await page.goto('/credentials/new')
  assert.equal(await page.isVisible('#secret-key'), true)
  assert.equal(await page.isVisible('#secret-password'), false)
  await page.check('input[name="kind"][value="password"]')
  assert.equal(await page.isVisible('#secret-key'), false)
  assert.equal(await page.isVisible('#secret-password'), true)
})
