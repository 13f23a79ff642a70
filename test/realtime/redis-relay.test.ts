import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { Hub, type PollAnswer } from '../../server/realtime/hub.ts'
import { connectRedisRelay } from '../../server/realtime/redis-relay.ts'
import type { User } from '../../server/users/repository.ts'
import { TEST_REDIS_URL, redisPrefix } from '../support/redis.ts'

const user = { id: 1, username: 'viewer', role: 'viewer' } as unknown as User
const tick = (ms = 60) => new Promise((resolve) => setTimeout(resolve, ms))

/** A hub (memory topic `list`, persisted topic `log:*`) joined to the backplane under `prefix`. */
async function instance(t: TestContext, prefix: string): Promise<Hub> {
  return (await joined(t, prefix)).hub
}

async function joined(t: TestContext, prefix: string, kinds = true) {
  const hub = new Hub({ pollTimeoutMs: 5_000, batchMs: 5 })
  if (kinds) {
    hub.registerKind({ name: 'list', authorize: () => true })
    hub.registerKind({ name: 'log', authorize: () => true, backfill: async () => [], head: async () => 0 })
  }
  const errors: Error[] = []
  const relay = await connectRedisRelay(hub, { url: TEST_REDIS_URL, prefix, onError: (err) => errors.push(err) })
  t.after(async () => {
    hub.stop()
    await relay.close()
    assert.deepEqual(errors, [])
  })
  return { hub, relay }
}

const seqs = (answer: PollAnswer) => answer.events.map((e) => [e.topic, e.seq, JSON.parse(e.json).data])

test('an event published on one instance reaches the tabs of every instance, numbered once for all, in one order', async (t) => {
  const r = await redisPrefix(t)
  if (!r) return
  const a = await instance(t, r.prefix)
  const b = await instance(t, r.prefix)
  assert.equal(a.boot, b.boot)
  const onA = a.poll(user, { client: 'tab-a', boot: a.boot, topics: { list: null } })
  const onB = b.poll(user, { client: 'tab-b', boot: b.boot, topics: { list: null } })
  await tick()
  assert.equal(a.publish('list', { n: 1 }), null) // it arrives through Redis, not at once
  assert.deepEqual(seqs(await onA.answer), [['list', 1, { n: 1 }]])
  assert.deepEqual(seqs(await onB.answer), [['list', 1, { n: 1 }]])

  b.publish('list', { n: 2 })
  a.publish('list', { n: 3 })
  b.publish('list', { n: 4 })
  await tick()
  const expected = [
    ['list', 2, { n: 2 }],
    ['list', 3, { n: 3 }],
    ['list', 4, { n: 4 }],
  ]
  assert.deepEqual(seqs(await a.poll(user, { client: 'tab-a', boot: a.boot, topics: { list: 1 } }).answer), expected)
  assert.deepEqual(seqs(await b.poll(user, { client: 'tab-b', boot: b.boot, topics: { list: 1 } }).answer), expected)

  // an instance started later continues the same numbering, and a page it renders now starts at 4,
  // also for a kind of topic registered after it joined (features register theirs after the hub)
  const late = await joined(t, r.prefix, false)
  assert.equal(late.hub.boot, a.boot)
  late.hub.registerKind({ name: 'list', authorize: () => true })
  assert.equal(late.hub.head('list'), 4)
})

test('a persisted topic keeps the database seq; a replay of it is ignored', async (t) => {
  const r = await redisPrefix(t)
  if (!r) return
  const a = await instance(t, r.prefix)
  const b = await instance(t, r.prefix)
  const tab = b.poll(user, { client: 'tab', boot: b.boot, topics: { 'log:7': 0 } })
  await tick()
  a.publish('log:7', { line: 'first' }, 41)
  assert.deepEqual(seqs(await tab.answer), [['log:7', 41, { line: 'first' }]])
  a.publish('log:7', { line: 'first again' }, 41)
  a.publish('log:7', { line: 'second' }, 42)
  await tick()
  assert.deepEqual(seqs(await b.poll(user, { client: 'tab', boot: b.boot, topics: { 'log:7': 41 } }).answer), [['log:7', 42, { line: 'second' }]])
})

test('events numbered but never received (a lost stretch) give the tab an explicit reset, never a silent skip', async (t) => {
  const r = await redisPrefix(t)
  if (!r) return
  const a = await instance(t, r.prefix)
  const b = await instance(t, r.prefix)
  a.publish('list', { n: 1 })
  await tick()
  const waiting = b.poll(user, { client: 'tab', boot: b.boot, topics: { list: 1 } })
  await tick()
  // as if five events had been numbered while this instance's connection was down
  await r.redis.hincrby(`${r.prefix}:heads`, 'list', 5)
  a.publish('list', { n: 7 })
  const woken = await waiting.answer
  assert.deepEqual(woken.events, [])
  const next = await b.poll(user, { client: 'tab', boot: b.boot, topics: { list: 1 } }).answer
  assert.deepEqual(next.resets, ['list'])
  assert.equal(next.cursors.list, 7)
})

test('when Redis loses its numbering, every instance takes the new boot and old cursors reset', async (t) => {
  const r = await redisPrefix(t)
  if (!r) return
  const a = await instance(t, r.prefix)
  const b = await instance(t, r.prefix)
  const oldBoot = a.boot
  a.publish('list', { n: 1 })
  a.publish('list', { n: 2 })
  await tick()
  await r.redis.del(`${r.prefix}:boot`, `${r.prefix}:heads`)
  b.publish('list', { n: 'after' })
  await tick()
  assert.notEqual(a.boot, oldBoot)
  assert.equal(a.boot, b.boot)
  assert.equal(a.head('list'), 1)
  const tab = await a.poll(user, { client: 'old-tab', boot: oldBoot, topics: { list: 2 } }).answer
  assert.deepEqual(tab.resets, ['list'])
  assert.equal(tab.boot, a.boot)
})

test('an unreachable Redis fails the start with its reason', async (t) => {
  const hub = new Hub()
  t.after(() => hub.stop())
  await assert.rejects(connectRedisRelay(hub, { url: 'redis://127.0.0.1:1', prefix: 'x', onError: () => undefined }), /ECONNREFUSED/)
})

test('instances share counters (collection run numbers) and hear the control messages of the others, not their own', async (t) => {
  const r = await redisPrefix(t)
  if (!r) return
  const a = await joined(t, r.prefix)
  const b = await joined(t, r.prefix)
  assert.deepEqual([await a.relay.counter('collect-runs'), await b.relay.counter('collect-runs'), await a.relay.counter('collect-runs')], [1, 2, 3])
  const heardA: string[] = []
  const heardB: string[] = []
  a.relay.handle('table', (table) => heardA.push(table))
  b.relay.handle('table', (table) => heardB.push(table))
  a.relay.broadcast('table', 'servers')
  await tick()
  assert.deepEqual(heardA, [])
  assert.deepEqual(heardB, ['servers'])
})
