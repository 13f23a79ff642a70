import { test } from 'node:test'
import assert from 'node:assert/strict'
import { buildTestApp, countRows, signIn } from '../helper.ts'

const body = { hostname: 'db-01', address: '192.0.2.10', port: 2222, username: 'ops', env: 'staging', tags: ['db', 'primary'], notes: 'line 1\nline 2' }

test('POST /api/servers creates a server and answers 201 with it', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const res = await admin.json('POST', '/api/servers', body)
  assert.equal(res.statusCode, 201)
  const server = res.json()
  assert.equal(res.headers.location, `/api/servers/${server.id}`)
  assert.deepEqual({ ...server, id: 0, created_at: '', updated_at: '' }, { ...body, id: 0, credential_id: null, host_key_fingerprint: null, created_at: '', updated_at: '' })
  const got = await admin.json('GET', `/api/servers/${server.id}`)
  assert.deepEqual(got.json(), server)
})

test('GET /api/servers lists with search, sort and paging', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  for (const name of ['b-2', 'a-1', 'c-3']) await admin.json('POST', '/api/servers', { ...body, hostname: name })
  const res = await admin.json('GET', '/api/servers?sort=hostname&dir=desc')
  assert.deepEqual(res.json().items.map((s: { hostname: string }) => s.hostname), ['c-3', 'b-2', 'a-1'])
  assert.equal(res.json().total, 3)
  const search = await admin.json('GET', '/api/servers?q=a-')
  assert.deepEqual(search.json().items.map((s: { hostname: string }) => s.hostname), ['a-1'])
})

test('PATCH /api/servers/:id changes only the fields sent', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const id = (await admin.json('POST', '/api/servers', body)).json().id
  const res = await admin.json('PATCH', `/api/servers/${id}`, { port: 22, tags: 'a b' })
  assert.equal(res.statusCode, 200)
  assert.equal(res.json().port, 22)
  assert.deepEqual(res.json().tags, ['a', 'b'])
  assert.equal(res.json().hostname, 'db-01')
  assert.equal(res.json().notes, 'line 1\nline 2')
})

test('DELETE /api/servers/:id answers 204 and the server is gone', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const id = (await admin.json('POST', '/api/servers', body)).json().id
  assert.equal((await admin.json('DELETE', `/api/servers/${id}`)).statusCode, 204)
  assert.equal((await admin.json('GET', `/api/servers/${id}`)).statusCode, 404)
  assert.equal((await admin.json('DELETE', `/api/servers/${id}`)).statusCode, 404)
})

test('API validation errors are 400 with every message in details', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const res = await admin.json('POST', '/api/servers', { hostname: '', address: ['x'], port: 'twenty', env: 7, tags: { a: 1 }, credential_id: -3 })
  assert.equal(res.statusCode, 400)
  const json = res.json()
  assert.match(json.error, /^Validation failed: /)
  assert.deepEqual(Object.keys(json.details).sort(), ['address', 'credential_id', 'env', 'hostname', 'port', 'tags'])
  assert.equal(json.details.port, 'Port must be a whole number')
  assert.equal(json.details.address, 'Address must be text')
  assert.equal(await countRows(app, 'servers'), 0)
})

test('an unknown credential id is refused', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const res = await admin.json('POST', '/api/servers', { ...body, credential_id: 42 })
  assert.equal(res.statusCode, 400)
  assert.equal(res.json().details.credential_id, 'Credential 42 does not exist')
})

test('a duplicate hostname is a 409 conflict', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  await admin.json('POST', '/api/servers', body)
  const res = await admin.json('POST', '/api/servers', body)
  assert.equal(res.statusCode, 409)
  assert.equal(res.json().error, 'A server named db-01 already exists')
  const other = (await admin.json('POST', '/api/servers', { ...body, hostname: 'db-02' })).json().id
  const patch = await admin.json('PATCH', `/api/servers/${other}`, { hostname: 'db-01' })
  assert.equal(patch.statusCode, 409)
})

test('malformed JSON, a non-object body and a missing CSRF header are refused', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const malformed = await admin.request({ method: 'POST', url: '/api/servers', payload: '{"hostname":', headers: { 'content-type': 'application/json', 'x-csrf-token': admin.csrf } })
  assert.equal(malformed.statusCode, 400)
  assert.equal(typeof malformed.json().error, 'string')
  const array = await admin.json('POST', '/api/servers', [body])
  assert.equal(array.statusCode, 400)
  assert.equal(array.json().error, 'The body must be a JSON object')
  const noCsrf = await admin.json('POST', '/api/servers', body, { csrf: null })
  assert.equal(noCsrf.statusCode, 403)
  assert.equal(await countRows(app, 'servers'), 0)
})

test('the API needs sign-in and the admin role to change servers', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const id = (await admin.json('POST', '/api/servers', body)).json().id
  const anon = await app.inject({ method: 'GET', url: '/api/servers' })
  assert.equal(anon.statusCode, 401)
  assert.match(anon.json().error, /Sign in or send an API token/)
  const viewer = await signIn(app, 'viewer')
  assert.equal((await viewer.json('GET', `/api/servers/${id}`)).statusCode, 200)
  const denied = await viewer.json('PATCH', `/api/servers/${id}`, { port: 1 })
  assert.equal(denied.statusCode, 403)
  assert.match(denied.json().error, /needs the admin role/)
  assert.equal((await viewer.json('DELETE', `/api/servers/${id}`)).statusCode, 403)
  assert.equal((await viewer.json('POST', '/api/servers', { ...body, hostname: 'x' })).statusCode, 403)
  assert.equal(await countRows(app, 'servers'), 1)
})
