import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { buildTestApp, pollsHeld, signIn } from '../helper.ts'

// real traffic reaches /poll through the raw Node handler, not fastify: these
// tests go over a socket so that is the path they check

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
}

async function poll(base: string, body: string, headers: Record<string, string>) {
  const res = await fetch(`${base}/poll?_=1`, { method: 'POST', headers, body })
  return { status: res.status, headers: res.headers, json: (await res.json()) as Record<string, unknown> }
}

const BODY = JSON.stringify({ client: 'socket-tab-1', boot: null, topics: { room: 0 } })

test('over a socket: signed-in polls get 200 no-store JSON; nobody, a forged cookie or a signed-out session get 401', async (t) => {
  const app = await buildTestApp(t, { POLL_TIMEOUT_MS: '150' })
  const user = await signIn(app, 'viewer')
  const base = await listen(app)
  const cookie = [...user.cookies].map(([k, v]) => `${k}=${v}`).join('; ')

  const ok = await poll(base, BODY, { cookie, 'content-type': 'application/json' })
  assert.equal(ok.status, 200)
  assert.equal(ok.headers.get('cache-control'), 'no-store')
  assert.equal(ok.headers.get('x-content-type-options'), 'nosniff')
  assert.deepEqual(ok.json.cursors, { room: 0 })

  const plain = await poll(base, BODY, { cookie, 'content-type': 'text/plain' })
  assert.equal(plain.status, 200)

  assert.equal((await poll(base, BODY, { 'content-type': 'application/json' })).status, 401)
  const forged = cookie.replace(/longship\.sid=([^;.]+)\.[^;]+/, 'longship.sid=$1.forged')
  assert.notEqual(forged, cookie)
  assert.equal((await poll(base, BODY, { cookie: forged, 'content-type': 'application/json' })).status, 401)

  // sign out: the same cookie stops working at once, cache or not
  await user.form('/logout')
  const after = await poll(base, BODY, { cookie, 'content-type': 'application/json' })
  assert.equal(after.status, 401)
  assert.match(String(after.json.error), /Sign in/)
})

test('over a socket: an API token may poll; a wrong one may not', async (t) => {
  const app = await buildTestApp(t, { POLL_TIMEOUT_MS: '150' })
  const user = await signIn(app, 'viewer')
  const base = await listen(app)
  const { createUsersRepository } = await import('../../server/users/repository.ts')
  const { token } = await createUsersRepository(app.knex).createToken(user.user.id, 'poller')
  assert.equal((await poll(base, BODY, { authorization: `Bearer ${token}`, 'content-type': 'application/json' })).status, 200)
  assert.equal((await poll(base, BODY, { authorization: 'Bearer nope', 'content-type': 'application/json' })).status, 401)
})

test('over a socket: malformed, empty and oversized bodies get 400 and 413 at once', async (t) => {
  const app = await buildTestApp(t, { POLL_TIMEOUT_MS: '5000', BODY_LIMIT: '4096' })
  const user = await signIn(app, 'viewer')
  const base = await listen(app)
  const cookie = [...user.cookies].map(([k, v]) => `${k}=${v}`).join('; ')
  const headers = { cookie, 'content-type': 'application/json' }
  for (const body of ['{oops', '[]', '{"client":"socket-tab-1","topics":{"room":-1}}', '{"client":"socket-tab-1","topics":{"nope":0}}']) {
    const res = await poll(base, body, headers)
    assert.equal(res.status, 400, body)
    assert.ok(res.json.error)
  }
  assert.equal((await poll(base, '', headers)).status, 400)
  const big = await poll(base, JSON.stringify({ client: 'socket-tab-1', topics: { room: 0 }, pad: 'x'.repeat(10_000) }), headers)
  assert.equal(big.status, 413)
  assert.equal(app.hub.snapshot().waiting, 0)
})

test('while the console closes, a held poll is answered and new polls get 503 instead of a busy loop', async (t) => {
  const app = await buildTestApp(t, { POLL_TIMEOUT_MS: '20000' })
  const user = await signIn(app, 'viewer')
  const base = await listen(app)
  const cookie = [...user.cookies].map(([k, v]) => `${k}=${v}`).join('; ')
  const held = poll(base, BODY, { cookie, 'content-type': 'application/json', connection: 'close' })
  await pollsHeld(app, 1)
  const started = Date.now()
  const closing = app.close()
  const answer = await held
  assert.equal(answer.status, 200)
  assert.deepEqual(answer.json.events, [])
  await closing
  assert.ok(Date.now() - started < 5000, 'close did not wait for the poll timeout')
})
