import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../server/app.ts'
import { KnexSessionStore } from '../../server/db/session-store.ts'
import { buildTestApp, Client, countRows, createUser, signIn, testConfig, TEST_PASSWORD } from '../helper.ts'

const SETUP = { username: 'first-admin', display_name: 'First Admin', password: 'a long enough password', password_confirm: 'a long enough password' }
const SERVER = { hostname: 'csrf-host', address: '10.0.0.9', port: '22', username: 'root', env: 'test' }

/** A client that has opened the login page, so it holds a session and a CSRF token. */
async function atLogin(app: FastifyInstance, url = '/login'): Promise<Client> {
  const client = new Client(app)
  const page = await client.get(url)
  assert.equal(page.statusCode, 200)
  return client
}

function sessionCookie(res: { headers: Record<string, unknown> }): string {
  const raw = res.headers['set-cookie']
  const list = Array.isArray(raw) ? raw : [String(raw ?? '')]
  const found = list.find((c: string) => c.startsWith('longship.sid='))
  assert.ok(found, 'a session cookie is set')
  return found
}

// first run

test('with no users every page redirects to /setup', async (t) => {
  const app = await buildTestApp(t)
  for (const url of ['/servers', '/projects', '/', '/audit', '/users/new']) {
    const res = await app.inject({ url })
    assert.equal(res.statusCode, 302, url)
    assert.equal(res.headers.location, '/setup', url)
  }
})

test('with no users API calls get 503 JSON pointing at /setup', async (t) => {
  const app = await buildTestApp(t)
  const res = await app.inject({ url: '/api/servers' })
  assert.equal(res.statusCode, 503)
  assert.match(res.headers['content-type'] as string, /application\/json/)
  assert.match(res.json().error, /\/setup/)
})

test('/setup creates the first admin and signs them in', async (t) => {
  const app = await buildTestApp(t)
  const client = await atLogin(app, '/setup')
  const res = await client.form('/setup', SETUP)
  assert.equal(res.statusCode, 302)
  assert.equal(res.headers.location, '/')
  const user = await app.knex('users').where({ username: 'first-admin' }).first()
  assert.equal(user.role, 'admin')
  const page = await client.get('/servers')
  assert.equal(page.statusCode, 200)
  assert.match(page.body, /first-admin/)
  assert.match(page.body, /you are the first admin/)
  assert.equal((await app.knex('audit_log').where({ action: 'setup' }).first()).username, 'first-admin')
})

const SETUP_MISTAKES: Array<[string, Record<string, string>, RegExp]> = [
  ['a short password', { password: 'short', password_confirm: 'short' }, /id="e-password">Password must be at least 8 characters/],
  ['a mismatched confirmation', { password_confirm: 'something else entirely' }, /id="e-password_confirm">The two passwords differ/],
  ['a bad username', { username: '-bad name!' }, /id="e-username">Username may hold/],
]
for (const [what, change, message] of SETUP_MISTAKES) {
  test(`/setup with ${what} re-renders with 400 and writes nothing`, async (t) => {
    const app = await buildTestApp(t)
    const client = await atLogin(app, '/setup')
    const res = await client.form('/setup', { ...SETUP, ...change })
    assert.equal(res.statusCode, 400)
    assert.match(res.body, message)
    assert.match(res.body, new RegExp(`value="${(change.username ?? SETUP.username).replace(/[!-]/g, '\\$&')}"`))
    assert.equal(await countRows(app, 'users'), 0)
    assert.equal(await countRows(app, 'audit_log'), 0)
  })
}

test('once a user exists /setup redirects away and a second POST /setup creates nothing', async (t) => {
  const app = await buildTestApp(t)
  const first = await atLogin(app, '/setup')
  await first.form('/setup', SETUP)
  const signedIn = await first.get('/setup')
  assert.equal(signedIn.statusCode, 302)
  assert.equal(signedIn.headers.location, '/')
  const stranger = await atLogin(app)
  const page = await stranger.get('/setup')
  assert.equal(page.statusCode, 302)
  assert.equal(page.headers.location, '/login')
  const again = await stranger.form('/setup', { ...SETUP, username: 'second-admin' })
  assert.equal(again.statusCode, 302)
  assert.equal(await countRows(app, 'users'), 1)
  assert.equal((await stranger.get('/servers')).statusCode, 302, 'the stranger is not signed in')
})

// login

test('a correct login redirects to ?next', async (t) => {
  const app = await buildTestApp(t)
  await createUser(app, 'alice', 'viewer')
  const client = new Client(app)
  const form = await client.get('/login?next=%2Fprojects%3Fpage%3D2')
  assert.match(form.body, /name="next" value="\/projects\?page=2"/)
  const res = await client.form('/login', { username: 'alice', password: TEST_PASSWORD, next: '/projects?page=2' })
  assert.equal(res.statusCode, 302)
  assert.equal(res.headers.location, '/projects?page=2')
  assert.equal((await client.get('/projects')).statusCode, 200)
  assert.ok(await app.knex('audit_log').where({ action: 'login', username: 'alice' }).first(), 'the login is audited')
})

test('?next only goes to same-site paths: //evil.com and absolute URLs go to /', async (t) => {
  const app = await buildTestApp(t)
  await createUser(app, 'alice', 'viewer')
  for (const next of ['//evil.com', 'https://evil.com/', '/\\evil.com', 'javascript:alert(1)']) {
    const client = await atLogin(app)
    const res = await client.form('/login', { username: 'alice', password: TEST_PASSWORD, next })
    assert.equal(res.statusCode, 302, next)
    assert.equal(res.headers.location, '/', next)
  }
})

test('a wrong password gets 401 with a message and an audit row login.failed', async (t) => {
  const app = await buildTestApp(t)
  await createUser(app, 'alice', 'viewer')
  const client = await atLogin(app)
  const res = await client.form('/login', { username: 'alice', password: 'not the password' })
  assert.equal(res.statusCode, 401)
  assert.match(res.body, /Wrong username or password\./)
  assert.match(res.body, /name="username" value="alice"/)
  const row = await app.knex('audit_log').where({ action: 'login.failed' }).first()
  assert.match(row.detail, /alice/)
  assert.equal(row.address, '127.0.0.1')
  assert.equal((await client.get('/servers')).statusCode, 302)
})

test('an unknown username gets the same message as a wrong password', async (t) => {
  const app = await buildTestApp(t)
  await createUser(app, 'alice', 'viewer')
  const client = await atLogin(app)
  const res = await client.form('/login', { username: 'nobody', password: TEST_PASSWORD })
  assert.equal(res.statusCode, 401)
  assert.match(res.body, /Wrong username or password\./)
})

test('after 5 failed logins the 6th attempt, even with the right password, gets 429 and Retry-After', async (t) => {
  const app = await buildTestApp(t)
  await createUser(app, 'alice', 'viewer')
  const client = await atLogin(app)
  for (let i = 1; i <= 5; i++) {
    const res = await client.form('/login', { username: 'alice', password: `wrong ${i}` })
    assert.equal(res.statusCode, 401, `failure ${i}`)
  }
  const blocked = await client.form('/login', { username: 'alice', password: TEST_PASSWORD })
  assert.equal(blocked.statusCode, 429)
  assert.match(blocked.body, /Try again in \d+ seconds/i)
  const retryAfter = Number(blocked.headers['retry-after'])
  assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${blocked.headers['retry-after']}`)
  assert.equal((await client.get('/servers')).statusCode, 302, 'still not signed in')
})

test('a correct login is not counted against the failed-login limit', async (t) => {
  const app = await buildTestApp(t, { LOGIN_MAX_FAILURES: '3' })
  await createUser(app, 'alice', 'viewer')
  const client = await atLogin(app)
  for (let i = 0; i < 2; i++) assert.equal((await client.form('/login', { username: 'alice', password: 'wrong' })).statusCode, 401)
  const other = await atLogin(app)
  assert.equal((await other.form('/login', { username: 'alice', password: TEST_PASSWORD })).statusCode, 302)
  // two failures and a success: a limit that counted every attempt would refuse this one
  assert.equal((await client.form('/login', { username: 'alice', password: 'wrong' })).statusCode, 401)
  assert.equal((await client.form('/login', { username: 'alice', password: TEST_PASSWORD })).statusCode, 429)
})

// logout and sessions

test('logout with the CSRF token destroys the session and the old cookie stops working', async (t) => {
  const app = await buildTestApp(t)
  const viewer = await signIn(app, 'viewer')
  const old = new Map(viewer.cookies)
  const res = await viewer.form('/logout')
  assert.equal(res.statusCode, 302)
  assert.equal(res.headers.location, '/login')
  const replay = new Client(app)
  replay.cookies = old
  const page = await replay.get('/servers')
  assert.equal(page.statusCode, 302)
  assert.match(String(page.headers.location), /^\/login/)
  assert.equal(await countRows(app, 'sessions'), 0)
})

test('logout without the CSRF token is 403 and the session stays', async (t) => {
  const app = await buildTestApp(t)
  const viewer = await signIn(app, 'viewer')
  const res = await viewer.form('/logout', {}, { csrf: null })
  assert.equal(res.statusCode, 403)
  assert.equal((await viewer.get('/servers')).statusCode, 200)
})

test('the session cookie is HttpOnly and SameSite=Lax, and not Secure by default', async (t) => {
  const app = await buildTestApp(t)
  const cookie = sessionCookie(await app.inject({ url: '/login' }))
  assert.match(cookie, /;\s*HttpOnly/i)
  assert.match(cookie, /;\s*SameSite=Lax/i)
  assert.doesNotMatch(cookie, /;\s*Secure/i)
})

test('with COOKIE_SECURE=true the session cookie is Secure', async (t) => {
  // behind an HTTPS proxy: the session plugin sends a Secure cookie only over HTTPS
  const app = await buildTestApp(t, { COOKIE_SECURE: 'true', TRUST_PROXY: 'true' })
  const cookie = sessionCookie(await app.inject({ url: '/login', headers: { 'x-forwarded-proto': 'https' } }))
  assert.match(cookie, /;\s*Secure/i)
  assert.match(cookie, /;\s*HttpOnly/i)
})

test('sessions are stored in the sessions table and survive a restart', async (t) => {
  const config = await testConfig(t)
  const first = await buildApp(config, { logger: false })
  let closed = false
  t.after(async () => {
    if (!closed) await first.close()
  })
  const viewer = await signIn(first, 'viewer', 'restart-viewer')
  const sid = decodeURIComponent(viewer.cookies.get('longship.sid') ?? '').split('.')[0]
  assert.ok(await first.knex('sessions').where({ sid }).first(), 'the signed-in session is a row')
  await first.close()
  closed = true

  const second = await buildApp(config, { logger: false })
  t.after(() => second.close())
  const again = new Client(second)
  again.cookies = new Map(viewer.cookies)
  const page = await again.get('/servers')
  assert.equal(page.statusCode, 200)
  assert.match(page.body, /restart-viewer/)
})

test('an expired session row is ignored', async (t) => {
  // no read cache: the row is changed behind the store's back, as another instance would
  const app = await buildTestApp(t, { SESSION_CACHE_MS: '0' })
  const viewer = await signIn(app, 'viewer')
  await app.knex('sessions').update({ expires_at: new Date(Date.now() - 60_000) })
  const res = await viewer.get('/servers')
  assert.equal(res.statusCode, 302)
  assert.match(String(res.headers.location), /^\/login/)
})

test('purge deletes expired session rows and keeps live ones', async (t) => {
  const app = await buildTestApp(t)
  await signIn(app, 'viewer')
  await signIn(app, 'viewer')
  const [oldest] = await app.knex('sessions').orderBy('sid').limit(1).select('sid')
  await app.knex('sessions').where({ sid: oldest.sid }).update({ expires_at: new Date(Date.now() - 1000) })
  const removed = await new KnexSessionStore(app.knex, 3_600_000).purge()
  assert.equal(removed, 1)
  assert.equal(await app.knex('sessions').where({ sid: oldest.sid }).first(), undefined)
  assert.equal(await countRows(app, 'sessions'), 1)
})

// the guards on every route

test('an unauthenticated page redirects to /login?next=<the page>', async (t) => {
  const app = await buildTestApp(t)
  await createUser(app, 'alice', 'viewer')
  const res = await app.inject({ url: '/servers?page=2' })
  assert.equal(res.statusCode, 302)
  assert.equal(res.headers.location, '/login?next=%2Fservers%3Fpage%3D2')
})

test('an unauthenticated API call gets 401 JSON', async (t) => {
  const app = await buildTestApp(t)
  await createUser(app, 'alice', 'viewer')
  const res = await app.inject({ url: '/api/servers' })
  assert.equal(res.statusCode, 401)
  assert.match(res.json().error, /Sign in/)
})

test('a POST without a CSRF token is 403 and changes nothing', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const res = await admin.form('/servers', SERVER, { csrf: null })
  assert.equal(res.statusCode, 403)
  assert.match(res.body, /CSRF/)
  assert.equal(await countRows(app, 'servers'), 0)
  const api = await admin.json('POST', '/api/servers', { ...SERVER, port: 22 }, { csrf: null })
  assert.equal(api.statusCode, 403)
  assert.equal(await countRows(app, 'servers'), 0)
})

test('a POST with a CSRF token from another session is 403 and changes nothing', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const other = await signIn(app, 'admin')
  assert.notEqual(admin.csrf, other.csrf)
  const res = await admin.form('/servers', SERVER, { csrf: other.csrf })
  assert.equal(res.statusCode, 403)
  assert.equal(await countRows(app, 'servers'), 0)
})
