import { test } from 'node:test'
import assert from 'node:assert/strict'
import { buildTestApp, pollsHeld, signIn, Client } from '../helper.ts'
import type { FastifyInstance } from 'fastify'

function pollBody(client: string, topics: Record<string, number | null>, boot: string | null = null) {
  return { client, boot, topics }
}

async function poll(user: Client, body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  return user.request({ method: 'POST', url: '/poll', payload: typeof body === 'string' ? body : JSON.stringify(body), headers })
}

/** Starts a poll and waits until the hub holds it, so what is published next reaches it. */
async function heldPoll(app: FastifyInstance, user: Client, body: unknown) {
  const before = app.hub.snapshot().waiting
  const answer = poll(user, body)
  await pollsHeld(app, before + 1)
  // wrapped: an async function returning the promise itself would wait for the answer
  return { answer }
}

test('POST /poll answers 200 JSON with no-store, and malformed bodies get 400 at once, never a hang', async (t) => {
  const app = await buildTestApp(t, { POLL_TIMEOUT_MS: '200' })
  await app.ready()
  const user = await signIn(app, 'viewer')
  const ok = await poll(user, pollBody('tab-aaaaaaaa', { room: 0 }))
  assert.equal(ok.statusCode, 200)
  assert.equal(ok.headers['cache-control'], 'no-store')
  assert.match(String(ok.headers['content-type']), /^application\/json/)
  const answer = ok.json()
  assert.deepEqual(answer.events, [])
  assert.equal(answer.boot, app.hub.boot)
  assert.deepEqual(answer.cursors, { room: 0 })

  const bad: Array<[string, Record<string, string>]> = [
    ['{not json', { 'content-type': 'application/json' }],
    ['{not json', { 'content-type': 'text/plain' }],
    ['[]', { 'content-type': 'application/json' }],
    ['{"client":"x","topics":{}}', { 'content-type': 'application/json' }],
    ['{"client":"tab-aaaaaaaa","topics":{"room":"1"}}', { 'content-type': 'application/json' }],
    ['{"client":"tab-aaaaaaaa","topics":{"no-such-topic":0}}', { 'content-type': 'application/json' }],
    ['{"client":"tab-aaaaaaaa","topics":{"../etc":0}}', { 'content-type': 'application/json' }],
  ]
  for (const [payload, headers] of bad) {
    const res = await poll(user, payload, headers)
    assert.equal(res.statusCode, 400, payload)
    assert.ok(res.json().error, payload)
  }
  const tooBig = await poll(user, JSON.stringify({ client: 'tab-aaaaaaaa', topics: { room: 0 }, pad: 'x'.repeat(2 * 1024 * 1024) }))
  assert.equal(tooBig.statusCode, 413)
})

test('the body may come as text/plain, as old IE sends it', async (t) => {
  const app = await buildTestApp(t, { POLL_TIMEOUT_MS: '5000' })
  await app.ready()
  const user = await signIn(app, 'viewer')
  await user.json('POST', '/room', { body: 'first' })
  const res = await poll(user, JSON.stringify(pollBody('tab-plain-1', { room: 0 })), { 'content-type': 'text/plain;charset=UTF-8' })
  assert.equal(res.statusCode, 200)
  assert.deepEqual(
    (res.json().events as Array<{ data: { body: string } }>).map((e) => e.data.body),
    ['first'],
  )
})

test('a poll needs a signed-in user', async (t) => {
  const app = await buildTestApp(t)
  await signIn(app, 'admin') // the console has users, so this is a 401 and not the setup page
  const anonymous = new Client(app)
  const res = await poll(anonymous, pollBody('tab-anon-01', { room: 0 }))
  assert.equal(res.statusCode, 401)
  assert.ok(res.json().error)
})

test('a waiting poll gets a room message posted by someone else', async (t) => {
  const app = await buildTestApp(t, { POLL_TIMEOUT_MS: '10000' })
  await app.ready()
  const alice = await signIn(app, 'viewer')
  const bob = await signIn(app, 'deployer')
  const { answer: waiting } = await heldPoll(app, alice, pollBody('alice-tab-1', { room: 0 }))
  await bob.json('POST', '/room', { body: 'deploying api now' })
  const res = await waiting
  const events = res.json().events as Array<{ topic: string; seq: number; data: { body: string; author: string } }>
  assert.equal(events.length, 1)
  assert.equal(events[0]?.topic, 'room')
  assert.equal(events[0]?.data.body, 'deploying api now')
  assert.equal(events[0]?.data.author, bob.user.username)
  assert.equal(res.json().cursors.room, events[0]?.seq)
})

test('a newer page load after a console restart fills the room from the database', async (t) => {
  const app = await buildTestApp(t, { POLL_TIMEOUT_MS: '300' })
  await app.ready()
  const user = await signIn(app, 'viewer')
  await user.json('POST', '/api/room/messages', { messages: ['a', 'b', 'c'] })
  // a cursor from another boot id: the room is persisted, so it is backfilled, not reset
  const res = await poll(user, pollBody('tab-restart-1', { room: 1 }, 'old-boot'))
  const answer = res.json()
  assert.deepEqual(answer.resets, [])
  assert.deepEqual(
    (answer.events as Array<{ data: { body: string } }>).map((e) => e.data.body),
    ['b', 'c'],
  )
})

test('a list page subscribes from the current head; a memory topic from another boot is reset', async (t) => {
  const app = await buildTestApp(t, { POLL_TIMEOUT_MS: '300' })
  await app.ready()
  const admin = await signIn(app, 'admin')
  const page = await admin.get('/servers')
  assert.match(page.body, /data-live-topic="servers" data-live-cursor="0"/)
  assert.match(page.body, new RegExp(`data-poll-boot="${app.hub.boot}"`))
  assert.match(page.body, /data-poll-client="[A-Za-z0-9_-]{16}"/)
  assert.match(page.body, /<script src="\/public\/js\/poll.js"><\/script>/)
  assert.match(page.body, /<script src="\/public\/js\/live-list.js"><\/script>/)
  const res = await poll(admin, pollBody('tab-reset-01', { servers: 5 }, 'another-boot'))
  assert.deepEqual(res.json().resets, ['servers'])
  assert.equal(res.json().cursors.servers, 0)
})

test('creating, editing and deleting a server or project is announced to open list pages', async (t) => {
  const app = await buildTestApp(t, { POLL_TIMEOUT_MS: '10000' })
  await app.ready()
  const admin = await signIn(app, 'admin')
  const viewer = await signIn(app, 'viewer')
  const boot = app.hub.boot
  await admin.get('/servers/new')

  let waiting = (await heldPoll(app, viewer, pollBody('viewer-tab-1', { servers: 0, projects: 0 }, boot))).answer
  const created = await admin.form('/servers', { hostname: 'web-01', address: '10.0.0.1', port: '22', username: 'deploy', env: 'test' })
  assert.equal(created.statusCode, 302)
  let answer = (await waiting).json()
  const serverId = Number(String(created.headers.location).split('/').pop())
  assert.deepEqual(answer.events.map((e: { data: unknown }) => e.data), [{ action: 'created', id: serverId, label: 'web-01' }])

  // the API announces the same way
  waiting = (await heldPoll(app, viewer, pollBody('viewer-tab-1', answer.cursors, boot))).answer
  const patched = await admin.json('PATCH', `/api/servers/${serverId}`, { address: '10.0.0.2' })
  assert.equal(patched.statusCode, 200)
  answer = (await waiting).json()
  assert.deepEqual(answer.events.map((e: { data: unknown }) => e.data), [{ action: 'updated', id: serverId, label: 'web-01' }])

  waiting = (await heldPoll(app, viewer, pollBody('viewer-tab-1', answer.cursors, boot))).answer
  await admin.get('/projects/new')
  const project = await admin.form('/projects', { title: 'shop', repo_url: 'https://git.example.com/shop.git', env: 'test', deploy_path: '/srv/shop', keep_releases: '5', rollout: 'serial', server_ids: String(serverId) })
  assert.equal(project.statusCode, 302, project.body.slice(0, 500))
  answer = (await waiting).json()
  assert.equal(answer.events[0].topic, 'projects')
  assert.equal(answer.events[0].data.action, 'created')

  waiting = (await heldPoll(app, viewer, pollBody('viewer-tab-1', answer.cursors, boot))).answer
  await admin.form(`/servers/${serverId}/delete`)
  answer = (await waiting).json()
  assert.deepEqual(answer.events.map((e: { data: unknown }) => e.data), [{ action: 'deleted', id: serverId, label: 'web-01' }])

  // a refused change announces nothing
  await admin.form('/servers', { hostname: '', address: '' })
  assert.equal(app.hub.snapshot().published, 4)
})

test('a changed row is served as the user sees it: a viewer gets no edit or delete links', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const viewer = await signIn(app, 'viewer')
  const res = await admin.json('POST', '/api/servers', { hostname: 'db-01', address: '10.0.0.9', username: 'root', env: 'prod' })
  const id = res.json().id
  const adminRow = await admin.get(`/servers/${id}/row`)
  assert.equal(adminRow.statusCode, 200)
  assert.match(adminRow.body, new RegExp(`^<tr id="server-${id}">`))
  assert.match(adminRow.body, /data-delete=/)
  const viewerRow = await viewer.get(`/servers/${id}/row`)
  assert.match(viewerRow.body, /db-01/)
  assert.doesNotMatch(viewerRow.body, /data-delete=|\/edit/)
  assert.equal((await viewer.get('/servers/999999/row')).statusCode, 404)
  assert.equal((await viewer.get('/projects/999999/row')).statusCode, 404)
})

test('/metrics shows the hub in Prometheus text to admins only', async (t) => {
  const app = await buildTestApp(t, { POLL_TIMEOUT_MS: '200' })
  await app.ready()
  const admin = await signIn(app, 'admin')
  const viewer = await signIn(app, 'viewer')
  await viewer.json('POST', '/room', { body: 'x' })
  await poll(viewer, pollBody('tab-metric-1', { room: 0 }))
  const res = await admin.get('/metrics')
  assert.equal(res.statusCode, 200)
  assert.match(String(res.headers['content-type']), /^text\/plain; version=0.0.4/)
  for (const name of ['longship_poll_clients 1', 'longship_poll_waiting 0', 'longship_poll_queued_events', 'longship_poll_published_total 1', 'longship_poll_delivered_total 1', 'longship_poll_gaps_filled_total 1', 'longship_poll_resets_total 0', 'longship_poll_delivered_per_second']) {
    assert.ok(res.body.includes(name), name)
  }
  assert.match(res.body, /# TYPE longship_poll_published_total counter/)
  assert.equal((await viewer.get('/metrics')).statusCode, 403)
})

test('a live page\'s cursor is read before its rows: a change published while they are read is sent again, not skipped', async (t) => {
  const app = await buildTestApp(t)
  await app.ready()
  const admin = await signIn(app, 'admin')
  // a row in each list, so each page reads its rows from the database
  await admin.get('/servers')
  const api = (url: string, body: unknown) => admin.json('POST', url, body)
  assert.equal((await api('/api/servers', { hostname: 'web1', address: '10.0.0.1', port: 22, username: 'deploy' })).statusCode, 201)
  assert.equal((await api('/api/projects', { title: 'shop', repo_url: 'https://example.com/shop.git', branch: 'main', deploy_path: '/srv/shop' })).statusCode, 201)
  await app.assets.service.store({ mode: 'agent', agentId: 'agent-cursor-1', hostname: 'web1', previousHostname: null, facts: {}, errors: [] })
  for (const [path, topic, table] of [
    ['/servers', 'servers', 'servers'],
    ['/projects', 'projects', 'projects'],
    ['/assets', 'assets', 'assets'],
  ] as const) {
    // a write that lands while the page reads its rows: published the moment the list query goes out
    let published = 0
    const onQuery = (query: { sql: string }) => {
      if (!published && new RegExp(`^select .* from [\`"]${table}[\`"]`, 'i').test(query.sql)) published = app.hub.publish(topic, { id: 1, action: 'updated' })?.seq ?? 0
    }
    app.knex.on('query', onQuery)
    const page = await admin.get(path)
    app.knex.removeListener('query', onQuery)
    assert.equal(page.statusCode, 200)
    assert.ok(published > 0, `${path}: the list query ran`)
    const cursor = Number(/data-live-cursor="(\d+)"/.exec(page.body)?.[1])
    assert.ok(cursor < published, `${path}: cursor ${cursor} would skip change ${published}`)
  }
})
