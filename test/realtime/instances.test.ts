import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import http from 'node:http'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildApp } from '../../server/app.ts'
import { loadConfig } from '../../server/config.ts'
import { createKnex } from '../../server/db/connection.ts'
import { createUsersRepository } from '../../server/users/repository.ts'
import { hashPassword } from '../../server/users/password.ts'
import { Client, TEST_PASSWORD, createTestDatabase } from '../helper.ts'
import { TEST_REDIS_URL, redisPrefix } from '../support/redis.ts'
import { freePort } from '../support/sshd.ts'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

/** Two consoles on one database and one Redis, as behind a load balancer. */
async function twoInstances(t: TestContext, prefix: string) {
  const db = await createTestDatabase(t)
  const env = { LOG_LEVEL: 'silent', ...db.env, REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: prefix, POLL_TIMEOUT_MS: '5000' }
  const a = await buildApp(loadConfig(env), { logger: false })
  t.after(() => a.close())
  const b = await buildApp(loadConfig(env), { logger: false })
  t.after(() => b.close())
  const users = createUsersRepository(a.knex)
  await users.create({ username: 'admin', display_name: 'Admin', role: 'admin', password_hash: await hashPassword(TEST_PASSWORD) })
  const signIn = async (app: typeof a) => {
    const client = new Client(app)
    await client.get('/login')
    const res = await client.form('/login', { username: 'admin', password: TEST_PASSWORD })
    assert.equal(res.statusCode, 302)
    // the signed-in session's CSRF token, as the next page shows it
    await client.get('/servers')
    return client
  }
  return { a, b, onA: await signIn(a), onB: await signIn(b) }
}

test('two instances: a room message posted on one reaches a tab polling the other', async (t) => {
  const r = await redisPrefix(t)
  if (!r) return
  const { a, b, onA } = await twoInstances(t, r.prefix)
  const admin = await createUsersRepository(b.knex).findByUsernameWithHash('admin')
  assert.ok(admin)
  const tab = b.hub.poll(admin, { client: 'tab-on-b', boot: b.hub.boot, topics: { room: null } })
  while (b.hub.snapshot().waiting < 1) await new Promise((resolve) => setTimeout(resolve, 10))
  await onA.get('/room')
  assert.equal((await onA.form('/room', { body: 'hello from a' })).statusCode, 302)
  const answer = await tab.answer
  assert.equal(answer.events.length, 1)
  assert.equal(JSON.parse(answer.events[0]?.json as string).data.body, 'hello from a')
  assert.equal(a.hub.boot, b.hub.boot)
})

test('two instances: a list one instance keeps in its page cache shows a write made on the other at once', async (t) => {
  const r = await redisPrefix(t)
  if (!r) return
  const { onA, onB } = await twoInstances(t, r.prefix)
  assert.match((await onB.get('/servers')).body, /No servers yet\./)
  await onA.get('/servers/new')
  const created = await onA.form('/servers', { hostname: 'web-01.example.com', address: '10.0.0.1', port: '22', username: 'deploy', env: 'prod', tags: '', notes: '' })
  assert.equal(created.statusCode, 302, created.body)
  // the cache would keep the old list for 2 s; the relay's word arrives in milliseconds
  const deadline = Date.now() + 1_000
  let body = ''
  while (Date.now() < deadline && !body.includes('web-01.example.com')) {
    body = (await onB.get('/servers')).body
    if (!body.includes('web-01.example.com')) await new Promise((resolve) => setTimeout(resolve, 20))
  }
  assert.match(body, /web-01\.example\.com/)
})

/** One request on a connection of its own: node:cluster hands each new connection to the next worker. */
function request(port: number, method: string, url: string, token: string, body?: unknown): Promise<{ status: number; text: string; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body)
    const req = http.request(
      { host: '127.0.0.1', port, method, path: url, agent: false, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (text += chunk))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text, json: /json/.test(String(res.headers['content-type'])) ? (JSON.parse(text) as Record<string, unknown>) : {} }))
      },
    )
    req.on('error', reject)
    req.end(payload)
  })
}

test('WORKERS=2 runs two processes on one port that share every event through Redis', async (t) => {
  const r = await redisPrefix(t)
  if (!r) return
  const db = await createTestDatabase(t)
  // the first admin and an API token, written before the start (the primary migrates first)
  const config = loadConfig({ LOG_LEVEL: 'silent', ...db.env })
  const knex = createKnex(config.database)
  await knex.migrate.latest()
  const users = createUsersRepository(knex)
  const admin = await users.create({ username: 'admin', display_name: 'Admin', role: 'admin', password_hash: await hashPassword(TEST_PASSWORD) })
  const { token } = await users.createToken(admin.id, 'cluster test')
  await knex.destroy()

  const port = await freePort()
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...db.env, PORT: String(port), HOST: '127.0.0.1', WORKERS: '2', REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: r.prefix, LOG_LEVEL: 'info', POLL_TIMEOUT_MS: '10000' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  t.after(async () => {
    if (child.exitCode === null) child.kill('SIGTERM')
    await exited
  })
  const deadline = Date.now() + 30_000
  while (!output.includes('Longship is at') && Date.now() < deadline && child.exitCode === null) await new Promise((resolve) => setTimeout(resolve, 100))
  assert.match(output, /2 worker processes/, output)
  // the second worker may still be starting when the first says it listens: wait until two processes answer
  const pids = new Set<number>()
  while (pids.size < 2 && Date.now() < deadline) {
    const res = await request(port, 'GET', '/metrics', token).catch(() => null)
    const pid = Number(/^longship_process_id (\d+)$/m.exec(res?.text ?? '')?.[1])
    if (pid) pids.add(pid)
  }
  assert.equal(pids.size, 2, `two workers answer: ${[...pids].join(', ')}`)

  // four tabs, each on a connection of its own, so both workers hold some of them
  const tabs = [1, 2, 3, 4].map((n) => request(port, 'POST', '/poll', token, { client: `cluster-tab-${n}`, boot: null, topics: { room: null } }))
  // every tab held before the message goes out (each /metrics reaches one worker and says which)
  const held = new Map<number, number>()
  while ([...held.values()].reduce((a, b) => a + b, 0) < 4 && Date.now() < deadline) {
    const res = await request(port, 'GET', '/metrics', token)
    held.set(Number(/^longship_process_id (\d+)$/m.exec(res.text)?.[1]), Number(/^longship_poll_waiting (\d+)$/m.exec(res.text)?.[1]))
  }
  assert.equal([...held.values()].reduce((a, b) => a + b, 0), 4, 'four tabs held')
  const posted = await request(port, 'POST', '/api/room/messages', token, { body: 'to every worker' })
  assert.equal(posted.status, 201)
  for (const tab of tabs) {
    const answer = await tab
    assert.equal(answer.status, 200)
    const events = answer.json.events as Array<{ data: { body: string } }>
    assert.deepEqual(
      events.map((e) => e.data.body),
      ['to every worker'],
    )
  }

  child.kill('SIGTERM')
  assert.equal(await exited, 0, output)
})

test('two instances: signing out on one ends the session on the other at once, not after its session cache expires', async (t) => {
  const r = await redisPrefix(t)
  if (!r) return
  const { onA, b } = await twoInstances(t, r.prefix)
  // the same browser's cookie, presented to the other instance, which caches the session
  const cookie = [...onA.cookies].map(([k, v]) => `${k}=${v}`).join('; ')
  assert.equal((await b.inject({ method: 'GET', url: '/servers', headers: { cookie } })).statusCode, 200)
  assert.equal((await onA.form('/logout')).statusCode, 302)
  const deadline = Date.now() + 1_000 // the cache keeps a session 5 s
  let status = 200
  while (Date.now() < deadline && status === 200) {
    status = (await b.inject({ method: 'GET', url: '/servers', headers: { cookie } })).statusCode
    if (status === 200) await new Promise((resolve) => setTimeout(resolve, 20))
  }
  assert.equal(status, 302)
})

test('two instances: failed sign-ins count against one limit, whichever instance they reach', async (t) => {
  const r = await redisPrefix(t)
  if (!r) return
  const { a, b } = await twoInstances(t, r.prefix)
  const onA = new Client(a)
  const onB = new Client(b)
  await onA.get('/login')
  await onB.get('/login')
  for (let i = 0; i < 5; i++) {
    const client = i % 2 ? onB : onA
    assert.equal((await client.form('/login', { username: 'admin', password: 'wrong password' })).statusCode, 401)
  }
  assert.equal((await onB.form('/login', { username: 'admin', password: TEST_PASSWORD })).statusCode, 429)
  assert.equal((await onA.form('/login', { username: 'admin', password: TEST_PASSWORD })).statusCode, 429)
})
