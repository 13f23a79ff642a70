import { test } from 'node:test'
import assert from 'node:assert/strict'
import { buildTestApp, createUser, signIn } from '../helper.ts'

const SERVER = { hostname: 'big-host', address: '10.0.0.1', port: 22, username: 'root', env: 'test' }

test('an unknown path is a 404 HTML page for a browser', async (t) => {
  const app = await buildTestApp(t)
  const viewer = await signIn(app, 'viewer')
  const res = await viewer.get('/no/such/page?x=1', { accept: 'text/html' })
  assert.equal(res.statusCode, 404)
  assert.match(res.headers['content-type'] as string, /text\/html/)
  assert.match(res.body, /<h1>Not found<\/h1>/)
  assert.match(res.body, /Nothing is at \/no\/such\/page\./)
})

test('an unknown path under /api is a 404 JSON {error}', async (t) => {
  const app = await buildTestApp(t)
  const viewer = await signIn(app, 'viewer')
  const res = await viewer.json('GET', '/api/no-such-thing')
  assert.equal(res.statusCode, 404)
  assert.match(res.headers['content-type'] as string, /application\/json/)
  assert.equal(typeof res.json().error, 'string')
})

test('malformed JSON to POST /api/servers is a 400 JSON {error} and writes nothing', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const res = await admin.request({
    method: 'POST',
    url: '/api/servers',
    headers: { 'content-type': 'application/json', 'x-csrf-token': admin.csrf },
    payload: '{"hostname": "x",',
  })
  assert.equal(res.statusCode, 400)
  assert.match(res.json().error, /not valid JSON/)
  assert.equal(await app.knex('servers').count({ n: '*' }).first().then((r) => Number(r?.n)), 0)
})

test('a JSON body over BODY_LIMIT is a 413', async (t) => {
  const app = await buildTestApp(t, { BODY_LIMIT: '2048' })
  const admin = await signIn(app, 'admin')
  const res = await admin.json('POST', '/api/servers', { ...SERVER, notes: 'x'.repeat(4000) })
  assert.equal(res.statusCode, 413)
  assert.match(res.json().error, /too large/)
})

test('a form body over BODY_LIMIT is a 413 page', async (t) => {
  const app = await buildTestApp(t, { BODY_LIMIT: '2048' })
  const admin = await signIn(app, 'admin')
  const res = await admin.form('/servers', { ...SERVER, port: '22', notes: 'x'.repeat(4000) })
  assert.equal(res.statusCode, 413)
  assert.match(res.body, /The request is too large\./)
})

test('a failure on our side is a 500 page that shows no internals', async (t) => {
  // no session read cache, so the request needs the (broken) database at once
  const app = await buildTestApp(t, { SESSION_CACHE_MS: '0' })
  const viewer = await signIn(app, 'viewer')
  // the database going away mid-flight: every query now throws
  await app.knex.destroy()
  const res = await viewer.get('/servers', { accept: 'text/html' })
  assert.equal(res.statusCode, 500)
  assert.match(res.body, /Something went wrong on our side/)
  for (const internal of [/\bat \S+ \(/, /node_modules/, /\.ts:\d+/, /Unable to acquire/, /knex/i, /Error:/]) {
    assert.doesNotMatch(res.body, internal)
  }
})

test('/healthz is 503 with the database status when the database is down', async (t) => {
  const app = await buildTestApp(t)
  await createUser(app, 'someone', 'viewer')
  // once a user exists the auth hook stops counting users, so only the health check touches the database
  await app.inject({ url: '/login' })
  await app.knex.destroy()
  const res = await app.inject({ url: '/healthz' })
  assert.equal(res.statusCode, 503)
  const body = res.json()
  assert.equal(body.status, 'error')
  assert.equal(body.database.status, 'unreachable')
})

test('/healthz is 503, not 500, when the database is down before the first user exists', async (t) => {
  const app = await buildTestApp(t)
  await app.knex.destroy()
  const res = await app.inject({ url: '/healthz', headers: { cookie: 'longship.sid=whatever' } })
  assert.equal(res.statusCode, 503)
  assert.equal(res.json().database.status, 'unreachable')
})

test('GET /healthz answers 200 ok with the database status, with no sign-in', async (t) => {
  const app = await buildTestApp(t)
  const res = await app.inject({ url: '/healthz' })
  assert.equal(res.statusCode, 200)
  const body = res.json()
  assert.equal(body.status, 'ok')
  assert.equal(body.database.status, 'ok')
})
