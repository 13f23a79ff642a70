import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { Hub, type PollAnswer } from '../../server/realtime/hub.ts'
import { connectRedisRelay } from '../../server/realtime/redis-relay.ts'
import type { User } from '../../server/users/repository.ts'
import { TEST_REDIS_URL, redisPrefix } from '../support/redis.ts'

const user = { id: 1, username: 'viewer', role: 'viewer' } as unknown as User
const tick = (ms = 60) => new Promise((resolve) => setTimeout(resolve, ms))

/** Waits (up to 5 s, for a loaded CI machine) until `ready` holds. */
async function until(ready: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await tick(10)
  }
}

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

/** Polls `list` from `cursor` until `count` events came (they may arrive over several answers). */
async function gather(hub: Hub, client: string, cursor: number, count: number) {
  const got: unknown[][] = []
  while (got.length < count) {
    const answer = await hub.poll(user, { client, boot: hub.boot, topics: { list: cursor } }).answer
    got.push(...seqs(answer))
    cursor = answer.cursors.list ?? cursor
  }
  return got
}

test('an event published on one instance reaches the tabs of every instance, numbered once for all, in one order', async (t) => {
  const r = await redisPrefix(t)
  if (!r) return
  const a = await instance(t, r.prefix)
  const b = await instance(t, r.prefix)
  assert.equal(a.boot, b.boot)
  const onA = a.poll(user, { client: 'tab-a', boot: a.boot, topics: { list: null } })
  const onB = b.poll(user, { client: 'tab-b', boot: b.boot, topics: { list: null } })
  await until(() => a.snapshot().waiting === 1 && b.snapshot().waiting === 1, 'both tabs to wait')
  assert.equal(a.publish('list', { n: 1 }), null) // it arrives through Redis, not at once
  assert.deepEqual(seqs(await onA.answer), [['list', 1, { n: 1 }]])
  assert.deepEqual(seqs(await onB.answer), [['list', 1, { n: 1 }]])

  b.publish('list', { n: 2 })
  a.publish('list', { n: 3 })
  b.publish('list', { n: 4 })
  const onA2 = await gather(a, 'tab-a', 1, 3)
  const onB2 = await gather(b, 'tab-b', 1, 3)
  // two instances' publishes race to Redis, but every instance sees the one order Redis numbered
  assert.deepEqual(onA2, onB2)
  assert.deepEqual(
    onA2.map(([, seq]) => seq),
    [2, 3, 4],
  )
  const values = onA2.map(([, , data]) => (data as { n: number }).n)
  assert.deepEqual([...values].sort(), [2, 3, 4])
  // and what one instance publishes keeps its own order
  assert.deepEqual(
    values.filter((n) => n !== 3),
    [2, 4],
  )

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
  await until(() => b.snapshot().waiting === 1, 'the tab to wait')
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
  await until(() => b.head('list') === 1, 'the first event to reach b')
  const waiting = b.poll(user, { client: 'tab', boot: b.boot, topics: { list: 1 } })
  await until(() => b.snapshot().waiting === 1, 'the tab to wait')
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
  await until(() => a.head('list') === 2 && b.head('list') === 2, 'both events everywhere')
  await r.redis.del(`${r.prefix}:boot`, `${r.prefix}:heads`)
  b.publish('list', { n: 'after' })
  await until(() => a.boot !== oldBoot && b.boot !== oldBoot && a.head('list') === 1, 'the new boot everywhere')
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
  await until(() => heardB.length === 1, 'b to hear it')
  await tick()
  assert.deepEqual(heardA, [])
  assert.deepEqual(heardB, ['servers'])
})
