import { test } from 'node:test'
import assert from 'node:assert/strict'
import { buildTestApp, countRows, signIn } from '../helper.ts'
import { createServersRepository } from '../../server/servers/repository.ts'

const valid = { hostname: 'web-01.example.com', address: '10.0.0.1', port: '22', username: 'deploy', env: 'prod', tags: 'web, eu-west', notes: 'rack 4' }

test('an admin creates a server through the form and is sent to its page', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const res = await admin.form('/servers', valid)
  assert.equal(res.statusCode, 302)
  assert.match(String(res.headers.location), /^\/servers\/\d+$/)
  const page = await admin.get(String(res.headers.location))
  assert.match(page.body, /Server web-01\.example\.com created\./)
  assert.match(page.body, /deploy@10\.0\.0\.1:22/)
  assert.match(page.body, /<span class="tag">eu-west<\/span>/)
  const audit = await app.knex('audit_log').where({ action: 'server.create' }).first()
  assert.equal(audit.detail, 'web-01.example.com')
})

test('an invalid server form re-renders with a message per field and the values typed', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const res = await admin.form('/servers', { hostname: 'bad host!', address: 'not an address!', port: '70000', username: '-oProxyCommand', env: 'moon', tags: 'ok, <bad>' })
  assert.equal(res.statusCode, 400)
  assert.match(res.body, /id="e-hostname">Hostname must be letters/)
  assert.match(res.body, /id="e-address">Address must be an IP address or a DNS name/)
  assert.match(res.body, /id="e-port">Port must be between 1 and 65535/)
  assert.match(res.body, /id="e-username">SSH user must be a login name/)
  assert.match(res.body, /Environment must be one of/)
  assert.match(res.body, /id="e-tags">A tag may hold/)
  assert.match(res.body, /value="bad host!"/)
  assert.match(res.body, /value="ok, &lt;bad&gt;"/)
  assert.equal(await countRows(app, 'servers'), 0)
})

test('a duplicate hostname says it already exists and writes nothing', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  await admin.form('/servers', valid)
  const res = await admin.form('/servers', { ...valid, address: '10.0.0.2' })
  assert.equal(res.statusCode, 400)
  assert.match(res.body, /A server named web-01\.example\.com already exists/)
  assert.equal(await countRows(app, 'servers'), 1)
})

test('the list is paginated by 50, searchable and sortable, with a count', async (t) => {
  const app = await buildTestApp(t)
  const repo = createServersRepository(app.knex)
  for (let i = 0; i < 120; i++) {
    await repo.create({ hostname: `node-${String(i).padStart(3, '0')}`, address: `10.1.0.${i}`, port: 22, username: 'root', credential_id: null, env: i % 2 ? 'prod' : 'test', tags: i === 7 ? ['db'] : [], notes: '' })
  }
  const viewer = await signIn(app, 'viewer')
  const first = await viewer.get('/servers')
  assert.equal(first.statusCode, 200)
  assert.equal((first.body.match(/<tr id="server-/g) ?? []).length, 50)
  assert.match(first.body, /120 in all/)
  assert.match(first.body, /page 1 of 3/)
  const third = await viewer.get('/servers?page=3')
  assert.equal((third.body.match(/<tr id="server-/g) ?? []).length, 20)
  const desc = await viewer.get('/servers?sort=hostname&dir=desc')
  assert.ok(desc.body.indexOf('node-119') < desc.body.indexOf('node-118'))
  const search = await viewer.get('/servers?q=node-01')
  assert.match(search.body, /10 in all/)
  const byTag = await viewer.get('/servers?q=db')
  assert.match(byTag.body, /node-007/)
  assert.match(byTag.body, /1 in all/)
  const wildcard = await viewer.get('/servers?q=%25')
  assert.match(wildcard.body, /0 in all/)
  const bogus = await viewer.get('/servers?page=-4&sort=password_hash&dir=sideways')
  assert.equal(bogus.statusCode, 200)
})

test('an admin edits a server and the change is kept', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const created = await admin.form('/servers', valid)
  const id = String(created.headers.location).split('/').pop()
  const form = await admin.get(`/servers/${id}/edit`)
  assert.match(form.body, /value="web, eu-west"/)
  const res = await admin.form(`/servers/${id}`, { ...valid, port: '2222', tags: 'web' })
  assert.equal(res.statusCode, 302)
  const row = await app.knex('servers').where({ id }).first()
  assert.equal(row.port, 2222)
  assert.equal(row.tags, ',web,')
})

test('delete asks for confirmation without JavaScript and removes on POST', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const created = await admin.form('/servers', valid)
  const id = String(created.headers.location).split('/').pop()
  const confirm = await admin.get(`/servers/${id}/delete`)
  assert.equal(confirm.statusCode, 200)
  assert.match(confirm.body, /Delete server web-01\.example\.com\?/)
  assert.match(confirm.body, new RegExp(`action="/servers/${id}/delete"`))
  const res = await admin.form(`/servers/${id}/delete`)
  assert.equal(res.statusCode, 302)
  assert.equal(res.headers.location, '/servers')
  assert.equal(await countRows(app, 'servers'), 0)
})

test('an ajax delete answers JSON so the row can go in place', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const created = await admin.form('/servers', valid)
  const id = Number(String(created.headers.location).split('/').pop())
  const res = await admin.request({ method: 'POST', url: `/servers/${id}/delete`, headers: { 'x-csrf-token': admin.csrf, 'x-requested-with': 'XMLHttpRequest' } })
  assert.equal(res.statusCode, 200)
  assert.deepEqual(res.json(), { ok: true, message: 'Server web-01.example.com deleted.', id })
})

test('viewers and deployers read servers but every change is refused with 403', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const created = await admin.form('/servers', valid)
  const id = String(created.headers.location).split('/').pop()
  for (const role of ['viewer', 'deployer'] as const) {
    const user = await signIn(app, role)
    assert.equal((await user.get('/servers')).statusCode, 200)
    assert.equal((await user.get(`/servers/${id}`)).statusCode, 200)
    assert.doesNotMatch((await user.get('/servers')).body, /New server/)
    for (const url of ['/servers/new', `/servers/${id}/edit`, `/servers/${id}/delete`]) {
      const res = await user.get(url)
      assert.equal(res.statusCode, 403, url)
      assert.match(res.body, /This needs the admin role/)
    }
    assert.equal((await user.form('/servers', { ...valid, hostname: 'other' })).statusCode, 403)
    assert.equal((await user.form(`/servers/${id}`, { ...valid, port: '1' })).statusCode, 403)
    assert.equal((await user.form(`/servers/${id}/delete`)).statusCode, 403)
  }
  assert.equal(await countRows(app, 'servers'), 1)
  assert.equal((await app.knex('servers').first()).port, 22)
})

test('a form post without a valid CSRF token is refused and changes nothing', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const missing = await admin.form('/servers', valid, { csrf: null })
  assert.equal(missing.statusCode, 403)
  assert.match(missing.body, /missing or invalid CSRF token/)
  const wrong = await admin.form('/servers', valid, { csrf: 'forged-token' })
  assert.equal(wrong.statusCode, 403)
  assert.equal(await countRows(app, 'servers'), 0)
})

test('unknown or malformed server ids are 404', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  for (const url of ['/servers/999', '/servers/abc', '/servers/0', '/servers/99999999999999', '/servers/999/edit', '/servers/999/delete']) {
    const res = await admin.get(url)
    assert.equal(res.statusCode, 404, url)
  }
  assert.equal((await admin.form('/servers/999', valid)).statusCode, 404)
  assert.equal((await admin.form('/servers/999/delete')).statusCode, 404)
})

test('pages carry security headers: a CSP that runs only our own scripts, no framing, no sniffing', async (t) => {
  const app = await buildTestApp(t)
  const viewer = await signIn(app, 'viewer')
  const res = await viewer.get('/servers')
  const csp = String(res.headers['content-security-policy'])
  assert.match(csp, /script-src 'self'/)
  assert.match(csp, /frame-ancestors 'none'/)
  assert.doesNotMatch(csp, /upgrade-insecure-requests/)
  assert.equal(res.headers['x-content-type-options'], 'nosniff')
  assert.equal(res.headers['strict-transport-security'], undefined)
})

test('the list total follows creates and deletes at once', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  assert.match((await admin.get('/servers')).body, /0 in all/)
  const created = await admin.form('/servers', valid)
  assert.match((await admin.get('/servers')).body, /1 in all/)
  await admin.form('/servers', { ...valid, hostname: 'web-02' })
  assert.match((await admin.get('/servers')).body, /2 in all/)
  await admin.form(`${created.headers.location}/delete`)
  assert.match((await admin.get('/servers')).body, /1 in all/)
})

test('a search past its last page shows the last page, not an empty one', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  await admin.form('/servers', valid)
  const res = await admin.get('/servers?q=web&page=9')
  assert.match(res.body, /1 in all/)
  assert.match(res.body, /web-01\.example\.com/)
})

test('the list a viewer gets never carries the actions an admin saw just before (cached per role)', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  await admin.form('/servers', valid)
  const adminList = await admin.get('/servers')
  assert.match(adminList.body, /href="\/servers\/\d+\/edit"/)
  const viewer = await signIn(app, 'viewer')
  const viewerList = await viewer.get('/servers')
  assert.match(viewerList.body, /web-01\.example\.com/)
  assert.doesNotMatch(viewerList.body, /\/edit"|data-delete=|New server/)
  assert.match((await admin.get('/servers')).body, /href="\/servers\/\d+\/edit"/)
})

test('the list shows every write at once, its own and a credential renamed elsewhere', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const credential = await admin.form('/credentials', { name: 'old-name', kind: 'password', password: 'secret' })
  const credentialId = String(credential.headers.location).split('/').pop() as string
  const created = await admin.form('/servers', { ...valid, credential_id: credentialId })
  const serverId = String(created.headers.location).split('/').pop() as string
  assert.match((await admin.get('/servers')).body, /<td>old-name<\/td>/)
  await admin.form(`/credentials/${credentialId}`, { name: 'new-name', kind: 'password', password: '' })
  assert.match((await admin.get('/servers')).body, /<td>new-name<\/td>/)
  await admin.form(`/servers/${serverId}`, { ...valid, credential_id: credentialId, hostname: 'web-02.example.com' })
  const list = await admin.get('/servers')
  assert.match(list.body, /web-02\.example\.com/)
  assert.doesNotMatch(list.body, /web-01\.example\.com/)
  await admin.form(`/servers/${serverId}/delete`)
  assert.match((await admin.get('/servers')).body, /No servers yet\./)
})
