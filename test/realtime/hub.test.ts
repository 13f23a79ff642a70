import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Hub, HubError, readPollRequest, type HubOptions, type PollAnswer, type StoredEvent } from '../../server/realtime/hub.ts'
import type { User } from '../../server/users/repository.ts'

const alice: User = { id: 1, username: 'alice', display_name: 'Alice', role: 'viewer', last_login_at: null, created_at: new Date(), updated_at: new Date() }
const bob: User = { ...alice, id: 2, username: 'bob' }

/** A hub with a memory topic kind `news`, a persisted kind `log` backed by an array, and `secret` nobody may watch. */
function makeHub(options: Partial<HubOptions> = {}, stored: StoredEvent[] = []) {
  const hub = new Hub({ pollTimeoutMs: 5_000, batchMs: 5, ...options })
  const db = { rows: stored, queries: 0 }
  hub.registerKind({ name: 'news', authorize: () => true })
  hub.registerKind({
    name: 'log',
    authorize: () => true,
    backfill: async (_topic, after, upTo, limit) => {
      db.queries++
      return db.rows.filter((r) => r.seq > after && (upTo === null || r.seq <= upTo)).slice(0, limit)
    },
    head: async () => db.rows.reduce((max, r) => Math.max(max, r.seq), 0),
  })
  hub.registerKind({ name: 'secret', authorize: (user) => user.id === 99 })
  return { hub, db }
}

/** Stores a row in the fake database and publishes it, as a persisted publisher does. */
function store(hub: Hub, db: { rows: StoredEvent[] }, seq: number, data: unknown = `line ${seq}`) {
  db.rows.push({ seq, data })
  hub.publish('log:1', data, seq)
}

const seqs = (answer: PollAnswer, topic?: string) => answer.events.filter((e) => !topic || e.topic === topic).map((e) => e.seq)
const datas = (answer: PollAnswer) => answer.events.map((e) => (JSON.parse(e.json) as { data: unknown }).data)

test('readPollRequest refuses malformed bodies with a message and accepts a good one', () => {
  const bad: unknown[] = [
    null,
    'x',
    [],
    {},
    { client: 'short', topics: {} },
    { client: 'abcdefgh', topics: [] },
    { client: 'abcdefgh', topics: { 'Bad Topic': 1 } },
    { client: 'abcdefgh', topics: { news: -1 } },
    { client: 'abcdefgh', topics: { news: 1.5 } },
    { client: 'abcdefgh', topics: { news: '3' } },
    { client: 'abcdefgh', boot: 7, topics: {} },
    { client: 'abcdefgh', topics: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`t${i}`, 0])) },
  ]
  for (const body of bad) assert.throws(() => readPollRequest(body), (err: unknown) => err instanceof HubError && err.statusCode === 400, JSON.stringify(body))
  assert.deepEqual(readPollRequest({ client: 'abcdefgh', boot: 'b', topics: { news: 3, 'log:12': null } }), {
    client: 'abcdefgh',
    boot: 'b',
    topics: { news: 3, 'log:12': null },
  })
})

test('fan-out: every waiting client gets every event, in publish order', async () => {
  const { hub } = makeHub({ batchMs: 20 })
  const polls = Array.from({ length: 100 }, (_, i) => hub.poll(alice, { client: `client-${String(i).padStart(4, '0')}`, boot: hub.boot, topics: { news: 0 } }))
  await new Promise((r) => setImmediate(r))
  for (let i = 1; i <= 10; i++) hub.publish('news', { n: i })
  const answers = await Promise.all(polls.map((p) => p.answer))
  for (const answer of answers) {
    assert.deepEqual(seqs(answer), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    assert.deepEqual(datas(answer), Array.from({ length: 10 }, (_, i) => ({ n: i + 1 })))
    assert.equal(answer.cursors.news, 10)
  }
  assert.equal(hub.snapshot().delivered, 1000)
})

test('a poll with nothing to send answers empty at the timeout', async () => {
  const { hub } = makeHub({ pollTimeoutMs: 100 })
  hub.start()
  try {
    const started = Date.now()
    const answer = await hub.poll(alice, { client: 'waiting-1', boot: hub.boot, topics: { news: 0 } }).answer
    assert.deepEqual(answer.events, [])
    assert.equal(answer.cursors.news, 0)
    assert.equal(answer.superseded, false)
    assert.ok(Date.now() - started >= 90, 'it waited for the timeout')
    assert.equal(hub.snapshot().waiting, 0)
  } finally {
    hub.stop()
  }
})

test('events published within the batch window arrive in one answer', async () => {
  const { hub } = makeHub({ batchMs: 60 })
  const poll = hub.poll(alice, { client: 'batcher-1', boot: hub.boot, topics: { news: 0 } })
  await new Promise((r) => setImmediate(r))
  hub.publish('news', 'a')
  await new Promise((r) => setTimeout(r, 10))
  hub.publish('news', 'b')
  hub.publish('news', 'c')
  const answer = await poll.answer
  assert.deepEqual(datas(answer), ['a', 'b', 'c'])
})

test('a poll answers at once with what is already queued', async () => {
  const { hub: hub2 } = makeHub()
  const first = hub2.poll(alice, { client: 'queued-2', boot: hub2.boot, topics: { news: 0 } })
  await new Promise((r) => setImmediate(r))
  hub2.publish('news', 1)
  await first.answer
  hub2.publish('news', 2)
  hub2.publish('news', 3)
  const started = Date.now()
  const answer = await hub2.poll(alice, { client: 'queued-2', boot: hub2.boot, topics: { news: 1 } }).answer
  assert.deepEqual(seqs(answer), [2, 3])
  assert.ok(Date.now() - started < 1000)
})

test('an answer is capped in count and bytes; the rest follows on the next polls', async () => {
  const { hub } = makeHub({ maxAnswerEvents: 10, maxAnswerBytes: 400 })
  const first = hub.poll(alice, { client: 'capped-1', boot: hub.boot, topics: { news: 0 } })
  await new Promise((r) => setImmediate(r))
  for (let i = 1; i <= 25; i++) hub.publish('news', i)
  let answer = await first.answer
  assert.equal(answer.events.length, 10)
  assert.equal(answer.more, true)
  const got = seqs(answer)
  while (got.length < 25) {
    answer = await hub.poll(alice, { client: 'capped-1', boot: hub.boot, topics: { news: answer.cursors.news as number } }).answer
    assert.ok(answer.events.length > 0)
    got.push(...seqs(answer))
  }
  assert.deepEqual(got, Array.from({ length: 25 }, (_, i) => i + 1))

  // bytes: 40-character events, 400 bytes -> fewer than 10 per answer, but never zero
  const big = hub.poll(alice, { client: 'capped-2', boot: hub.boot, topics: { news: 25 } })
  await new Promise((r) => setImmediate(r))
  for (let i = 0; i < 10; i++) hub.publish('news', 'x'.repeat(200))
  answer = await big.answer
  assert.ok(answer.events.length >= 1 && answer.events.length < 10, `got ${answer.events.length}`)
  assert.equal(answer.more, true)
})

test('a queue overflow becomes a gap that the ring buffer fills, in order, without duplicates', async () => {
  const { hub } = makeHub({ queueCap: 5, ringSize: 100 })
  const first = hub.poll(alice, { client: 'overflow-1', boot: hub.boot, topics: { news: 0 } })
  await new Promise((r) => setImmediate(r))
  hub.publish('news', 1)
  const answer1 = await first.answer
  assert.deepEqual(seqs(answer1), [1])
  // the tab is away (not polling) while 30 events come: its queue keeps only 5
  for (let i = 2; i <= 31; i++) hub.publish('news', i)
  assert.equal(hub.snapshot().overflows, 26)
  const answer2 = await hub.poll(alice, { client: 'overflow-1', boot: hub.boot, topics: { news: 1 } }).answer
  assert.deepEqual(seqs(answer2), Array.from({ length: 30 }, (_, i) => i + 2))
  assert.equal(hub.snapshot().gapsFilled, 1)
})

test('an overflow beyond the ring of a persisted topic is filled from the database', async () => {
  const { hub, db } = makeHub({ queueCap: 3, ringSize: 4 })
  const first = hub.poll(alice, { client: 'overflow-db', boot: hub.boot, topics: { 'log:1': 0 } })
  await new Promise((r) => setImmediate(r))
  store(hub, db, 1)
  assert.deepEqual(seqs(await first.answer), [1])
  for (let seq = 2; seq <= 40; seq += 2) store(hub, db, seq) // ids need not be contiguous
  const answer = await hub.poll(alice, { client: 'overflow-db', boot: hub.boot, topics: { 'log:1': 1 } }).answer
  assert.deepEqual(seqs(answer), Array.from({ length: 20 }, (_, i) => 2 + i * 2))
  assert.ok(db.queries >= 1)
})

test('a persisted event published after a newer one reaches every tab: in its place, or by a reset', async () => {
  // two instances stored 11 and 12, and 12 reached the relay first
  const { hub, db } = makeHub()
  const poll = (client: string, cursor: number) => hub.poll(alice, { client, boot: hub.boot, topics: { 'log:1': cursor } }).answer
  // the tab's poll is held (not still being prepared) before the next event comes
  const held = async () => {
    while (hub.snapshot().waiting < 1) await new Promise((r) => setImmediate(r))
  }
  store(hub, db, 10)
  assert.deepEqual(seqs(await poll('behind', 0)), [10]) // will not poll until after the late one
  assert.deepEqual(seqs(await poll('caught-up', 0)), [10])
  const waiting = hub.poll(alice, { client: 'caught-up', boot: hub.boot, topics: { 'log:1': 10 } }).answer
  await held()
  store(hub, db, 12)
  assert.deepEqual(seqs(await waiting), [12])
  const waitingAgain = hub.poll(alice, { client: 'caught-up', boot: hub.boot, topics: { 'log:1': 12 } }).answer
  await held()
  store(hub, db, 11)
  // the waiting tab is woken and its next poll resets: it has seen 12, so 11 can only come with a reload
  assert.deepEqual((await waitingAgain).events, [])
  const reset = await poll('caught-up', 12)
  assert.deepEqual(reset.resets, ['log:1'])
  assert.equal(reset.cursors['log:1'], 12)
  // then it goes on as usual
  store(hub, db, 13)
  assert.deepEqual(seqs(await poll('caught-up', 12)), [13])
  // a tab whose cursor is before the late event gets it in order, nothing twice
  const behind = await poll('behind', 10)
  assert.deepEqual(seqs(behind), [11, 12, 13])
  assert.deepEqual(behind.resets, [])
  // a replay of an event already delivered still changes nothing
  hub.publish('log:1', 'line 11', 11)
  const quiet = hub.poll(alice, { client: 'behind', boot: hub.boot, topics: { 'log:1': 13 } })
  await held()
  store(hub, db, 14)
  assert.deepEqual(seqs(await quiet.answer), [14])
})

test('a memory topic gap beyond the ring is an explicit reset, never a silent skip', async () => {
  const { hub } = makeHub({ queueCap: 3, ringSize: 5 })
  const first = hub.poll(alice, { client: 'resetme-1', boot: hub.boot, topics: { news: 0 } })
  await new Promise((r) => setImmediate(r))
  hub.publish('news', 1)
  await first.answer
  for (let i = 2; i <= 20; i++) hub.publish('news', i)
  const answer = await hub.poll(alice, { client: 'resetme-1', boot: hub.boot, topics: { news: 1 } }).answer
  assert.deepEqual(answer.resets, ['news'])
  assert.equal(answer.cursors.news, 20)
  assert.deepEqual(answer.events, [])
  assert.equal(hub.snapshot().resets, 1)
})

test('an idle client is dropped; when it comes back its gap is filled', async () => {
  const { hub } = makeHub({ idleMs: 1_000 })
  const first = hub.poll(alice, { client: 'idle-1', boot: hub.boot, topics: { news: 0 } })
  await new Promise((r) => setImmediate(r))
  hub.publish('news', 1)
  await first.answer
  assert.equal(hub.snapshot().clients, 1)
  hub.sweep(Date.now() + 2_000)
  assert.equal(hub.snapshot().clients, 0)
  assert.equal(hub.snapshot().idleDropped, 1)
  hub.publish('news', 2)
  hub.publish('news', 3)
  const answer = await hub.poll(alice, { client: 'idle-1', boot: hub.boot, topics: { news: 1 } }).answer
  assert.deepEqual(seqs(answer), [2, 3])
})

test('a waiting client is never dropped as idle', async () => {
  const { hub } = makeHub({ idleMs: 1_000, pollTimeoutMs: 60_000 })
  const poll = hub.poll(alice, { client: 'holder-1', boot: hub.boot, topics: { news: 0 } })
  await new Promise((r) => setImmediate(r))
  hub.sweep(Date.now() + 2_000)
  assert.equal(hub.snapshot().clients, 1)
  hub.publish('news', 'x')
  assert.deepEqual(seqs(await poll.answer), [1])
})

test('an aborted poll frees its waiter at once', async () => {
  const { hub } = makeHub()
  const poll = hub.poll(alice, { client: 'aborter-1', boot: hub.boot, topics: { news: 0 } })
  await new Promise((r) => setImmediate(r))
  assert.equal(hub.snapshot().waiting, 1)
  poll.cancel()
  assert.equal(hub.snapshot().waiting, 0)
  assert.equal(hub.snapshot().aborted, 1)
  // what is published meanwhile stays queued for the next poll
  hub.publish('news', 'kept')
  const answer = await hub.poll(alice, { client: 'aborter-1', boot: hub.boot, topics: { news: 0 } }).answer
  assert.deepEqual(datas(answer), ['kept'])
})

test('a newer poll of the same client answers the older one empty, marked superseded', async () => {
  const { hub } = makeHub()
  const older = hub.poll(alice, { client: 'twin-tab-1', boot: hub.boot, topics: { news: 0 } })
  await new Promise((r) => setImmediate(r))
  const newer = hub.poll(alice, { client: 'twin-tab-1', boot: hub.boot, topics: { news: 0 } })
  const oldAnswer = await older.answer
  assert.equal(oldAnswer.superseded, true)
  assert.deepEqual(oldAnswer.events, [])
  hub.publish('news', 'x')
  assert.deepEqual(seqs(await newer.answer), [1])
  assert.equal(hub.snapshot().waiting, 0)
})

test('clients of different users never share a queue, even with the same client id', async () => {
  const { hub } = makeHub()
  const a = hub.poll(alice, { client: 'same-id-1', boot: hub.boot, topics: { news: 0 } })
  const b = hub.poll(bob, { client: 'same-id-1', boot: hub.boot, topics: { news: 0 } })
  await new Promise((r) => setImmediate(r))
  hub.publish('news', 'x')
  const [answerA, answerB] = await Promise.all([a.answer, b.answer])
  assert.equal(answerA.superseded || answerB.superseded, false)
  assert.deepEqual(seqs(answerA), [1])
  assert.deepEqual(seqs(answerB), [1])
})

test('a lost answer is sent again to a poll that repeats the old cursor', async () => {
  const { hub } = makeHub()
  const first = hub.poll(alice, { client: 'lossy-1', boot: hub.boot, topics: { news: 0 } })
  await new Promise((r) => setImmediate(r))
  hub.publish('news', 'a')
  hub.publish('news', 'b')
  assert.deepEqual(seqs(await first.answer), [1, 2])
  // that answer never reached the tab: it polls with cursor 0 again
  hub.publish('news', 'c')
  const again = await hub.poll(alice, { client: 'lossy-1', boot: hub.boot, topics: { news: 0 } }).answer
  assert.deepEqual(seqs(again), [1, 2, 3])
  // once acknowledged, they are gone from the queue
  const acked = hub.poll(alice, { client: 'lossy-1', boot: hub.boot, topics: { news: 3 } })
  await new Promise((r) => setImmediate(r))
  assert.equal(hub.snapshot().queued, 0)
  acked.cancel()
})

test('after a restart a persisted topic is backfilled from the database, a memory topic resets', async () => {
  const rows: StoredEvent[] = [1, 2, 3, 4, 5].map((seq) => ({ seq, data: `line ${seq}` }))
  const before = makeHub({}, rows).hub
  const { hub, db } = makeHub({}, rows) // the restarted console: new boot id, empty memory
  assert.notEqual(hub.boot, before.boot)
  hub.publish('news', 'after restart')
  const answer = await hub.poll(alice, { client: 'restart-1', boot: before.boot, topics: { 'log:1': 2, news: 7 } }).answer
  assert.deepEqual(seqs(answer, 'log:1'), [3, 4, 5])
  assert.deepEqual(answer.resets, ['news'])
  assert.equal(answer.cursors.news, 1)
  assert.equal(answer.cursors['log:1'], 5)
  // rows stored after the backfill arrive once, through the queue
  const next = hub.poll(alice, { client: 'restart-1', boot: hub.boot, topics: { 'log:1': 5, news: 1 } })
  await new Promise((r) => setImmediate(r))
  store(hub, db, 6)
  assert.deepEqual(seqs(await next.answer), [6])
})

test('tabs behind the ring share the rows read from the database, and every tab still gets every row once', async () => {
  const { hub, db } = makeHub({ ringSize: 10, maxAnswerEvents: 4 })
  for (let seq = 1; seq <= 40; seq++) store(hub, db, seq) // the ring holds 31 to 40
  const poll = async (client: string, cursor: number) => {
    const answer = await hub.poll(alice, { client, boot: hub.boot, topics: { 'log:1': cursor } }).answer
    return [seqs(answer), db.queries]
  }
  assert.deepEqual(await poll('behind-1', 2), [[3, 4, 5, 6], 1])
  // tabs as far behind, or a little less, are served from what the first one read
  assert.deepEqual(await poll('behind-2', 2), [[3, 4, 5, 6], 1])
  assert.deepEqual(await poll('behind-3', 4), [[5, 6], 1])
  // past what was read, the database again, and the rows read join the ones kept
  assert.deepEqual(await poll('behind-3', 6), [[7, 8, 9, 10], 2])
  assert.deepEqual(await poll('behind-1', 6), [[7, 8, 9, 10], 2])
  assert.deepEqual(await poll('behind-2', 4), [[5, 6, 7, 8], 2])
  // a tab from the start reads every row once, then catches up through the ring
  const got: number[] = []
  let cursor = 0
  for (let polls = 0; cursor < 40 && polls < 40; polls++) {
    const answer = await hub.poll(alice, { client: 'behind-4', boot: hub.boot, topics: { 'log:1': cursor } }).answer
    got.push(...seqs(answer))
    cursor = answer.cursors['log:1'] as number
  }
  assert.deepEqual(got, Array.from({ length: 40 }, (_, i) => i + 1))
})

test('a tab past the last of the rows kept, but not past their range, goes on from the database where the range ends', async () => {
  const { hub, db } = makeHub({ ringSize: 5 })
  for (let seq = 1; seq <= 20; seq++) store(hub, db, seq)
  db.rows = db.rows.filter((r) => r.seq <= 16) // 17 to 20 deleted
  const first = await hub.poll(alice, { client: 'short-1', boot: hub.boot, topics: { 'log:1': 0 } }).answer
  assert.deepEqual(seqs(first), Array.from({ length: 16 }, (_, i) => i + 1))
  // kept now: a ring's worth, rows 12 to 16, and their range goes on to 20
  for (let seq = 21; seq <= 25; seq++) store(hub, db, seq)
  // a tab needing up to 25 gets the rest of the kept rows, then, coming back, the database from 20 on
  const next = await hub.poll(alice, { client: 'short-2', boot: hub.boot, topics: { 'log:1': 13 } }).answer
  assert.deepEqual([seqs(next), next.more, next.cursors['log:1']], [[14, 15, 16], true, 16])
  const rest = await hub.poll(alice, { client: 'short-2', boot: hub.boot, topics: { 'log:1': 16 } }).answer
  assert.deepEqual([seqs(rest), rest.more, rest.cursors['log:1']], [[21, 22, 23, 24, 25], false, 25])
  assert.equal(db.queries, 2)
})

test('a row stored late, older than the ring, is not hidden by rows read before it came', async () => {
  const { hub, db } = makeHub({ ringSize: 5, maxAnswerEvents: 5 })
  for (let seq = 1; seq <= 20; seq++) if (seq !== 4) store(hub, db, seq)
  const early = await hub.poll(alice, { client: 'early-1', boot: hub.boot, topics: { 'log:1': 0 } }).answer
  assert.deepEqual(seqs(early), [1, 2, 3, 5, 6]) // kept: every row up to 6, which has no 4
  // another instance's row 4 reaches the database and then this hub
  store(hub, db, 4)
  db.rows.sort((a, b) => a.seq - b.seq) // the database gives rows in seq order
  const late = await hub.poll(alice, { client: 'late-1', boot: hub.boot, topics: { 'log:1': 3 } }).answer
  assert.deepEqual(seqs(late).slice(0, 2), [4, 5])
  assert.equal(db.queries, 2)
})

test('rows read while a row inside their range arrives late are not kept for the next tab', async () => {
  const hub = new Hub({ pollTimeoutMs: 5_000, batchMs: 5, ringSize: 5, maxAnswerEvents: 5 })
  const rows: StoredEvent[] = []
  let queries = 0
  let gate: Promise<void> = Promise.resolve()
  let release = () => undefined as void
  hub.registerKind({
    name: 'slow',
    authorize: () => true,
    backfill: async (_topic, after, upTo, limit) => {
      queries++
      // what the database gives when the query runs; the answer comes later
      const found = rows.filter((r) => r.seq > after && (upTo === null || r.seq <= upTo)).slice(0, limit)
      await gate
      return found
    },
  })
  const put = (seq: number) => {
    rows.push({ seq, data: seq })
    rows.sort((a, b) => a.seq - b.seq)
    hub.publish('slow:1', seq, seq)
  }
  for (let seq = 1; seq <= 20; seq++) if (seq !== 4) put(seq)
  gate = new Promise((resolve) => (release = resolve))
  const early = hub.poll(alice, { client: 'race-1', boot: hub.boot, topics: { 'slow:1': 0 } }).answer
  await new Promise((r) => setImmediate(r))
  assert.equal(queries, 1) // its rows are read, without 4
  put(4) // another instance's row 4, committed late, reaches this hub while the answer is on its way
  release()
  assert.deepEqual(seqs(await early), [1, 2, 3, 5, 6])
  gate = Promise.resolve()
  const late = await hub.poll(alice, { client: 'race-2', boot: hub.boot, topics: { 'slow:1': 3 } }).answer
  assert.deepEqual(seqs(late).slice(0, 2), [4, 5])
  assert.equal(queries, 2)
})

test('a persisted topic with no cursor starts from the newest stored row', async () => {
  const rows: StoredEvent[] = [1, 2, 3].map((seq) => ({ seq, data: seq }))
  const { hub, db } = makeHub({}, rows)
  const waiting = hub.poll(alice, { client: 'fresh-1', boot: null, topics: { 'log:1': null } }).answer
  await new Promise((r) => setTimeout(r, 5))
  store(hub, db, 4)
  const answer = await waiting
  assert.deepEqual(seqs(answer), [4])
})

test('a tab may only watch topics its user may see, and only known topics', async () => {
  const { hub } = makeHub()
  await assert.rejects(hub.poll(alice, { client: 'snooper-1', boot: hub.boot, topics: { secret: 0 } }).answer, (err: unknown) => err instanceof HubError && err.statusCode === 403)
  await assert.rejects(hub.poll(alice, { client: 'snooper-1', boot: hub.boot, topics: { nosuch: 0 } }).answer, (err: unknown) => err instanceof HubError && err.statusCode === 400)
  assert.equal(hub.snapshot().waiting, 0)
})

test('dropping a topic from the poll unsubscribes the tab from it', async () => {
  const { hub } = makeHub()
  const first = hub.poll(alice, { client: 'switcher-1', boot: hub.boot, topics: { news: 0, 'log:1': 0 } })
  await new Promise((r) => setImmediate(r))
  first.cancel()
  const second = hub.poll(alice, { client: 'switcher-1', boot: hub.boot, topics: { 'log:1': 0 } })
  await new Promise((r) => setImmediate(r))
  hub.publish('news', 'unseen')
  assert.equal(hub.snapshot().queued, 0)
  second.cancel()
})

test('stop answers every waiting poll empty', async () => {
  const { hub } = makeHub()
  const polls = [1, 2, 3].map((i) => hub.poll(alice, { client: `stopper-${i}xxx`, boot: hub.boot, topics: { news: 0 } }))
  await new Promise((r) => setImmediate(r))
  hub.stop()
  for (const answer of await Promise.all(polls.map((p) => p.answer))) assert.deepEqual(answer.events, [])
})

test('a re-poll that is caught up waits without a detour: it times out, can be cancelled, is superseded and is answered by the next event', async () => {
  const { hub } = makeHub({ pollTimeoutMs: 1_000 })
  const first = hub.poll(alice, { client: 'steady-1', boot: hub.boot, topics: { news: 0, 'log:1': null } })
  await new Promise((r) => setImmediate(r))
  hub.publish('news', 'a')
  const cursors = (await first.answer).cursors
  assert.deepEqual(cursors, { news: 1, 'log:1': 0 })

  // every topic subscribed, no gap: held at once, before any microtask runs
  const held = hub.poll(alice, { client: 'steady-1', boot: hub.boot, topics: cursors })
  assert.equal(hub.snapshot().waiting, 1)
  held.cancel()
  assert.equal(hub.snapshot().waiting, 0)
  assert.equal(hub.snapshot().aborted, 1)

  // the poll timeout still applies to it
  const timed = hub.poll(alice, { client: 'steady-1', boot: hub.boot, topics: cursors })
  hub.sweep(Date.now() + 1_000)
  assert.deepEqual((await timed.answer).events, [])
  assert.equal(hub.snapshot().timeouts, 1)

  // a newer poll of the tab answers it empty; the newer one gets the next event
  const older = hub.poll(alice, { client: 'steady-1', boot: hub.boot, topics: cursors })
  const newer = hub.poll(alice, { client: 'steady-1', boot: hub.boot, topics: cursors })
  assert.equal((await older.answer).superseded, true)
  older.cancel() // too late to matter: it must not free the newer poll's waiter
  assert.equal(hub.snapshot().waiting, 1)
  hub.publish('news', 'b')
  const answer = await newer.answer
  assert.deepEqual(datas(answer), ['b'])
  assert.deepEqual(answer.cursors, { news: 2, 'log:1': 0 })

  // and what is queued already is answered at once
  hub.publish('news', 'c')
  assert.deepEqual(datas(await hub.poll(alice, { client: 'steady-1', boot: hub.boot, topics: answer.cursors }).answer), ['c'])
})

test('a fan-out to tabs with different topics gives every tab the bytes of its own answer', async () => {
  const { hub } = makeHub({ batchMs: 10 })
  // interleaved, so that neighbours differ: news only, news + log:1, log:1 + news
  const topicsOf = (i: number): Record<string, number | null> => [{ news: 0 }, { news: 0, 'log:1': 0 }, { 'log:1': 0, news: 0 }][i % 3] as Record<string, number | null>
  const clients = Array.from({ length: 30 }, (_, i) => `mixed-${String(i).padStart(4, '0')}`)
  const firsts = clients.map((client, i) => hub.poll(alice, { client, boot: hub.boot, topics: topicsOf(i) }))
  await new Promise((r) => setImmediate(r))
  hub.publish('news', 'one')
  await Promise.all(firsts.map((p) => p.answer))
  const polls = clients.map((client, i) => hub.poll(alice, { client, boot: hub.boot, topics: { ...topicsOf(i), news: 1 } }))
  await new Promise((r) => setImmediate(r))
  assert.equal(hub.snapshot().waiting, 30)
  hub.publish('news', 'two')
  const answers = await Promise.all(polls.map((p) => p.answer))
  answers.forEach((answer, i) => {
    assert.ok(answer.encoded, 'a fan-out answer carries its bytes')
    const wire = JSON.parse(answer.encoded.toString('utf8')) as { cursors: Record<string, number>; events: Array<{ seq: number; data: unknown }> }
    assert.deepEqual(wire.cursors, i % 3 ? { news: 2, 'log:1': 0 } : { news: 2 })
    assert.deepEqual(wire.cursors, answer.cursors)
    assert.deepEqual(
      wire.events.map((e) => [e.seq, e.data]),
      [[2, 'two']],
    )
  })
})
