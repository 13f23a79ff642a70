import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import http from 'node:http'
import { buildTestApp, signIn } from '../helper.ts'

interface Answer {
  boot: string
  events: Array<{ topic: string; seq: number; data: { id: number; body: string } }>
  cursors: Record<string, number>
  resets: string[]
  more: boolean
  superseded: boolean
}

test('200 tabs long-polling a real server each receive all 1,000 room messages exactly once, in order', { timeout: 120_000 }, async (t) => {
  const app = await buildTestApp(t, { POLL_TIMEOUT_MS: '5000' })
  const alice = await signIn(app, 'deployer')
  await app.listen({ port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  const cookie = [...alice.cookies].map(([k, v]) => `${k}=${v}`).join('; ')
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity })
  t.after(() => agent.destroy())

  // node:http rather than fetch: 200 real sockets held open at once, as 200 browsers would
  function poll(client: string, boot: string | null, cursor: number): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = http.request(`${base}/poll`, { method: 'POST', agent, headers: { cookie, 'content-type': 'application/json' } }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          try {
            assert.equal(res.statusCode, 200)
            assert.equal(res.headers['cache-control'], 'no-store')
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Answer)
          } catch (err) {
            reject(err as Error)
          }
        })
      })
      req.on('error', reject)
      req.end(JSON.stringify({ client, boot, topics: { room: cursor } }))
    })
  }

  const TOTAL = 1000
  const received = new Map<string, number[]>()
  let waiting = 0
  let allWaiting: () => void = () => undefined
  const firstPollsHeld = new Promise<void>((resolve) => (allWaiting = resolve))

  async function tab(i: number): Promise<void> {
    const client = `tab-${String(i).padStart(4, '0')}`
    const seen: number[] = []
    received.set(client, seen)
    let cursor = 0
    let boot: string | null = null
    let first = true
    while (seen.length < TOTAL) {
      const pending = poll(client, boot, cursor)
      if (first) {
        first = false
        if (++waiting === 200) setTimeout(allWaiting, 50)
      }
      const answer = await pending
      boot = answer.boot
      assert.deepEqual(answer.resets, [])
      for (const event of answer.events) seen.push(event.seq)
      cursor = answer.cursors.room ?? cursor
    }
  }

  const tabs = Array.from({ length: 200 }, (_, i) => tab(i))
  await firstPollsHeld
  // a deployer posts through the API in batches, as a bot would
  for (let batch = 0; batch < TOTAL / 100; batch++) {
    const res = await alice.json('POST', '/api/room/messages', { messages: Array.from({ length: 100 }, (_, i) => `message ${batch * 100 + i + 1}`) })
    assert.equal(res.statusCode, 201, res.body)
  }
  await Promise.all(tabs)
  const ids = (await app.knex('room_messages').orderBy('id').select('id')).map((r: { id: number }) => Number(r.id))
  assert.equal(ids.length, TOTAL)
  for (const [client, seen] of received) assert.deepEqual(seen, ids, `${client} got every message once, in order`)
  const stats = app.hub.snapshot()
  assert.equal(stats.resets, 0)
})
