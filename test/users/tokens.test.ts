import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { FastifyInstance } from 'fastify'
import { buildTestApp, countRows, createUser, signIn, type Client } from '../helper.ts'
import { hashToken } from '../../server/users/repository.ts'

/** Creates a token through the user's own page and returns it as the page shows it. */
async function createToken(client: Client & { user: { id: number } }, name = 'ci'): Promise<{ token: string; body: string; status: number }> {
  await client.get(`/users/${client.user.id}`)
  const res = await client.form(`/users/${client.user.id}/tokens`, { name })
  const match = /<code id="new-token">([^<]+)<\/code>/.exec(res.body)
  return { token: match?.[1] ?? '', body: res.body, status: res.statusCode }
}

function bearer(app: FastifyInstance, method: 'GET' | 'POST', url: string, token: string, body?: unknown) {
  return app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    payload: body === undefined ? undefined : JSON.stringify(body),
  })
}

test('creating a token shows it once, in a highlighted box, with 201', async (t) => {
  const app = await buildTestApp(t)
  const viewer = await signIn(app, 'viewer')
  const created = await createToken(viewer, 'laptop script')
  assert.equal(created.status, 201)
  assert.match(created.token, /^ls_[A-Za-z0-9_-]{32}$/)
  assert.match(created.body, /class="token-once"/)
  assert.match(created.body, /will not be shown again/)
  const again = await viewer.get(`/users/${viewer.user.id}`)
  assert.equal(again.statusCode, 200)
  assert.match(again.body, /laptop script/)
  assert.match(again.body, new RegExp(created.token.slice(0, 10)), 'the prefix is listed')
  assert.ok(!again.body.includes(created.token), 'the token itself is not shown again')
  assert.doesNotMatch(again.body, /token-once/)
})

test('the database holds only the token\'s hash, and the session never the token', async (t) => {
  const app = await buildTestApp(t)
  const viewer = await signIn(app, 'viewer')
  const { token } = await createToken(viewer)
  const rows = await app.knex('api_tokens').select()
  assert.equal(rows.length, 1)
  assert.equal(rows[0].token_hash, hashToken(token))
  assert.ok(!JSON.stringify(rows).includes(token))
  assert.ok(!JSON.stringify(await app.knex('sessions').select('data')).includes(token))
  assert.ok(!JSON.stringify(await app.knex('audit_log').select('detail')).includes(token))
  assert.equal((await app.knex('audit_log').where({ action: 'token.create' })).length, 1)
})

test('a token authenticates GET /api/servers without any cookie', async (t) => {
  const app = await buildTestApp(t)
  const viewer = await signIn(app, 'viewer')
  const { token } = await createToken(viewer)
  const res = await bearer(app, 'GET', '/api/servers', token)
  assert.equal(res.statusCode, 200)
  assert.equal(res.json().total, 0)
  assert.ok((await app.knex('api_tokens').first('last_used_at')).last_used_at, 'last use is recorded')
  assert.match((await viewer.get(`/users/${viewer.user.id}`)).body, /<td>\d{4}-\d\d-\d\d \d\d:\d\d UTC<\/td>\s*<td class="actions">/)
})

test('an admin\'s token creates a server through the API without a CSRF token', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const { token } = await createToken(admin)
  const res = await bearer(app, 'POST', '/api/servers', token, { hostname: 'web-01', address: '10.0.0.1' })
  assert.equal(res.statusCode, 201)
  assert.equal(await countRows(app, 'servers'), 1)
})

test('a token carries its user\'s role: a viewer\'s token cannot create a server', async (t) => {
  const app = await buildTestApp(t)
  const viewer = await signIn(app, 'viewer')
  const { token } = await createToken(viewer)
  assert.equal((await bearer(app, 'POST', '/api/servers', token, { hostname: 'web-01', address: '10.0.0.1' })).statusCode, 403)
  assert.equal(await countRows(app, 'servers'), 0)
})

test('a revoked token gets 401', async (t) => {
  const app = await buildTestApp(t)
  const viewer = await signIn(app, 'viewer')
  const { token } = await createToken(viewer)
  const id = (await app.knex('api_tokens').first('id')).id
  await viewer.get(`/users/${viewer.user.id}`)
  const res = await viewer.form(`/users/${viewer.user.id}/tokens/${id}/revoke`)
  assert.equal(res.statusCode, 302)
  assert.equal(await countRows(app, 'api_tokens'), 0)
  assert.equal((await app.knex('audit_log').where({ action: 'token.revoke' })).length, 1)
  const after = await bearer(app, 'GET', '/api/servers', token)
  assert.equal(after.statusCode, 401)
  assert.match(after.json().error, /not valid/)
})

test('an unknown or mistyped token gets 401', async (t) => {
  const app = await buildTestApp(t)
  await createUser(app, 'someone', 'admin')
  assert.equal((await bearer(app, 'GET', '/api/servers', 'ls_nottherightone')).statusCode, 401)
})

test('a token name is required, unique per user, and a bad one writes nothing', async (t) => {
  const app = await buildTestApp(t)
  const viewer = await signIn(app, 'viewer')
  const empty = await createToken(viewer, '  ')
  assert.equal(empty.status, 400)
  assert.match(empty.body, /Token name is required/)
  const long = await createToken(viewer, 'n'.repeat(65))
  assert.equal(long.status, 400)
  assert.match(long.body, /too long/)
  assert.match(long.body, new RegExp(`value="${'n'.repeat(65)}"`))
  assert.equal(await countRows(app, 'api_tokens'), 0)
  assert.equal((await createToken(viewer, 'ci')).status, 201)
  const dup = await createToken(viewer, 'CI')
  assert.equal(dup.status, 400)
  assert.match(dup.body, /already exists/)
  assert.equal(await countRows(app, 'api_tokens'), 1)
})

test('only the user themself creates their tokens, not even an admin for them', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const viewer = await signIn(app, 'viewer')
  await admin.get(`/users/${viewer.user.id}`)
  assert.equal((await admin.form(`/users/${viewer.user.id}/tokens`, { name: 'x' })).statusCode, 403)
  await viewer.get(`/users/${viewer.user.id}`)
  assert.equal((await viewer.form(`/users/${admin.user.id}/tokens`, { name: 'x' })).statusCode, 403)
  assert.equal(await countRows(app, 'api_tokens'), 0)
})

test('an admin may revoke anyone\'s token; another viewer may not', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const owner = await signIn(app, 'viewer')
  const intruder = await signIn(app, 'viewer')
  await createToken(owner)
  const id = (await app.knex('api_tokens').first('id')).id
  const url = `/users/${owner.user.id}/tokens/${id}/revoke`
  await intruder.get(`/users/${intruder.user.id}`)
  assert.equal((await intruder.form(url)).statusCode, 403)
  // a token id under someone else's user id is not theirs to revoke
  assert.equal((await intruder.form(`/users/${intruder.user.id}/tokens/${id}/revoke`)).statusCode, 404)
  assert.equal(await countRows(app, 'api_tokens'), 1)
  const page = await admin.get(`/users/${owner.user.id}`)
  assert.match(page.body, /Revoke/)
  assert.doesNotMatch(page.body, /Create token/)
  assert.equal((await admin.form(url)).statusCode, 302)
  assert.equal(await countRows(app, 'api_tokens'), 0)
})

test('token forms without the CSRF token are refused and change nothing', async (t) => {
  const app = await buildTestApp(t)
  const viewer = await signIn(app, 'viewer')
  await createToken(viewer)
  const id = (await app.knex('api_tokens').first('id')).id
  assert.equal((await viewer.form(`/users/${viewer.user.id}/tokens`, { name: 'other' }, { csrf: null })).statusCode, 403)
  assert.equal((await viewer.form(`/users/${viewer.user.id}/tokens/${id}/revoke`, {}, { csrf: null })).statusCode, 403)
  assert.equal(await countRows(app, 'api_tokens'), 1)
})

test('revoking an unknown token is 404', async (t) => {
  const app = await buildTestApp(t)
  const viewer = await signIn(app, 'viewer')
  await viewer.get(`/users/${viewer.user.id}`)
  assert.equal((await viewer.form(`/users/${viewer.user.id}/tokens/999999/revoke`)).statusCode, 404)
  assert.equal((await viewer.form(`/users/${viewer.user.id}/tokens/abc/revoke`)).statusCode, 404)
})

test('deleting a user removes their tokens, which stop working', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const viewer = await signIn(app, 'viewer')
  const { token } = await createToken(viewer)
  await admin.get('/users')
  assert.equal((await admin.form(`/users/${viewer.user.id}/delete`)).statusCode, 302)
  assert.equal(await countRows(app, 'api_tokens'), 0)
  assert.equal((await bearer(app, 'GET', '/api/servers', token)).statusCode, 401)
})
