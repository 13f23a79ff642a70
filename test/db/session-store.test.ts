import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Session } from 'fastify'
import { KnexSessionStore } from '../../server/db/session-store.ts'
import { buildTestApp } from '../helper.ts'

const session = (userId: number) => ({ userId, cookie: { expires: new Date(Date.now() + 3_600_000) } }) as unknown as Session

function get(store: KnexSessionStore, sid: string): Promise<Session | null | undefined> {
  return new Promise((resolve, reject) => store.get(sid, (err, s) => (err ? reject(err) : resolve(s))))
}
function set(store: KnexSessionStore, sid: string, s: Session): Promise<void> {
  return new Promise((resolve, reject) => store.set(sid, s, (err) => (err ? reject(err) : resolve())))
}
function destroy(store: KnexSessionStore, sid: string): Promise<void> {
  return new Promise((resolve, reject) => store.destroy(sid, (err) => (err ? reject(err) : resolve())))
}

test('requests that miss the session cache together share one read, and each gets its own copy', async (t) => {
  const app = await buildTestApp(t)
  const writer = new KnexSessionStore(app.knex, 3_600_000, 0)
  await set(writer, 'sid-1', session(7))
  const store = new KnexSessionStore(app.knex, 3_600_000, 5_000)
  t.after(() => store.stopPurging())
  let reads = 0
  const count = (q: { sql: string }) => {
    if (/from [`"]sessions[`"]/.test(q.sql)) reads++
  }
  app.knex.on('query', count)
  t.after(() => app.knex.off('query', count))
  const all = await Promise.all([get(store, 'sid-1'), get(store, 'sid-1'), get(store, 'sid-1')])
  assert.equal(reads, 1)
  assert.deepEqual(
    all.map((s) => (s as { userId?: number } | null)?.userId),
    [7, 7, 7],
  )
  assert.notEqual(all[0], all[1])
  await get(store, 'sid-1')
  assert.equal(reads, 1) // cached now
})

test('a sign-out while a read is under way: whoever asks after it reads again and finds no session', async (t) => {
  const app = await buildTestApp(t)
  const store = new KnexSessionStore(app.knex, 3_600_000, 5_000)
  t.after(() => store.stopPurging())
  await set(store, 'sid-2', session(8))
  store.forget({ sid: 'sid-2' })
  const before = get(store, 'sid-2')
  await destroy(store, 'sid-2')
  const after = await get(store, 'sid-2')
  await before
  assert.equal(after, null)
  assert.equal(await get(store, 'sid-2'), null)
})
