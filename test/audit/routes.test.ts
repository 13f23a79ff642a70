import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { FastifyInstance } from 'fastify'
import { buildTestApp, signIn } from '../helper.ts'

interface Row {
  username: string | null
  action: string
  target_type?: string | null
  target_id?: string | null
  detail?: string
  at: Date
}

/** Audit rows written straight to the table, with the times the test chooses. */
async function seed(app: FastifyInstance, rows: Row[]): Promise<void> {
  const records = rows.map((r) => ({
    user_id: null,
    username: r.username,
    address: '192.0.2.7',
    action: r.action,
    target_type: r.target_type ?? null,
    target_id: r.target_id ?? null,
    detail: r.detail ?? '',
    created_at: r.at,
  }))
  for (let i = 0; i < records.length; i += 50) await app.knex('audit_log').insert(records.slice(i, i + 50))
}

const rowIds = (body: string) => [...body.matchAll(/<tr id="audit-(\d+)">/g)].map((m) => Number(m[1]))
const BASE = Date.parse('2024-03-01T10:00:00.000Z')

test('the audit page lists entries newest first with when, who, address, action, target and detail', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  await seed(app, [
    { username: 'alice', action: 'server.create', target_type: 'server', target_id: '7', detail: 'web-07', at: new Date(BASE) },
    { username: 'bob', action: 'project.update', target_type: 'project', target_id: '3', detail: 'shop', at: new Date(BASE + 60_000) },
  ])
  const res = await admin.get('/audit')
  assert.equal(res.statusCode, 200)
  const bob = res.body.indexOf('project.update')
  const alice = res.body.indexOf('server.create')
  assert.ok(bob > 0 && alice > 0 && bob < alice, 'the newer entry comes first')
  assert.match(res.body, /<time datetime="2024-03-01T10:00:00.000Z">2024-03-01T10:00:00.000Z<\/time>/)
  assert.match(res.body, /192\.0\.2\.7/)
  assert.match(res.body, /<a href="\/servers\/7">server #7<\/a>/)
  assert.match(res.body, /<a href="\/projects\/3">project #3<\/a>/)
  assert.match(res.body, /web-07/)
  // the admin's own sign-in was recorded by the real login route, newest of all
  const login = await app.knex('audit_log').where({ action: 'login' }).first()
  assert.equal(rowIds(res.body)[0], Number(login.id))
})

test('the audit page filters by username and by action, and offers the actions in a select', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  await seed(app, [
    { username: 'alice', action: 'server.create', at: new Date(BASE) },
    { username: 'alice', action: 'server.delete', at: new Date(BASE + 1000) },
    { username: 'bob', action: 'server.create', at: new Date(BASE + 2000) },
  ])
  const all = await admin.get('/audit')
  assert.match(all.body, /<option value="server\.delete">server\.delete<\/option>/)
  assert.match(all.body, /<option value="login">login<\/option>/)

  const byUser = await admin.get('/audit?user=alice')
  assert.match(byUser.body, /2 in all/)
  assert.doesNotMatch(byUser.body, /<td>bob<\/td>/)
  assert.match(byUser.body, /name="user" value="alice"/)

  const byAction = await admin.get('/audit?action=server.create')
  assert.match(byAction.body, /2 in all/)
  assert.match(byAction.body, /<option value="server\.create" selected>/)

  const both = await admin.get('/audit?user=alice&action=server.create')
  assert.match(both.body, /1 in all/)
  const none = await admin.get('/audit?user=nobody-at-all')
  assert.equal(none.statusCode, 200)
  assert.match(none.body, /No entry matches these filters\./)
})

test('audit pagination shows 50 a page and its links keep the filters', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const rows: Row[] = []
  for (let i = 0; i < 200; i++) rows.push({ username: i % 2 ? 'alice' : 'bob', action: i % 3 ? 'server.update' : 'server.create', detail: `n-${i}`, at: new Date(BASE + i * 1000) })
  await seed(app, rows)
  // alice has the 100 odd rows; 67 of them are updates (odd and not a multiple of 3)
  const first = await admin.get('/audit?user=alice&action=server.update')
  assert.match(first.body, /67 in all/)
  assert.match(first.body, /page 1 of 2/)
  assert.equal(rowIds(first.body).length, 50)
  assert.match(first.body, /<td class="detail">n-199<\/td>/)
  const next = /<a href="([^"]+)" rel="next">/.exec(first.body)
  assert.ok(next, 'a next link')
  const href = String(next[1]).replace(/&amp;/g, '&')
  assert.equal(href, '/audit?user=alice&action=server.update&page=2')

  const second = await admin.get(href)
  assert.equal(rowIds(second.body).length, 17)
  assert.doesNotMatch(second.body, /<td>bob<\/td>/)
  assert.doesNotMatch(second.body, /<td>server\.create<\/td>/)
  assert.match(second.body, /href="\/audit\?user=alice&amp;action=server.update&amp;page=1" rel="prev"/)
  // the form on page 2 still shows the filters in force
  assert.match(second.body, /name="user" value="alice"/)
  assert.match(second.body, /<option value="server\.update" selected>/)
})

test('viewers and deployers get 403 on the audit page', async (t) => {
  const app = await buildTestApp(t)
  for (const role of ['viewer', 'deployer'] as const) {
    const client = await signIn(app, role)
    const res = await client.get('/audit')
    assert.equal(res.statusCode, 403, role)
    assert.match(res.body, /This needs the admin role/)
    assert.doesNotMatch(res.body, /<table class="list" id="audit">/)
  }
})

test('audit values are escaped: a detail holding <script> comes back as text', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  await seed(app, [{ username: '<b>eve</b>', action: 'server.create', target_type: 'server', target_id: '"><x', detail: '<script>alert(1)</script>', at: new Date(BASE) }])
  const res = await admin.get('/audit')
  assert.match(res.body, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/)
  assert.doesNotMatch(res.body, /<script>alert/)
  assert.match(res.body, /&lt;b&gt;eve&lt;\/b&gt;/)
  // a target id that is not a number is shown, never made into a link
  assert.match(res.body, /server #&quot;&gt;&lt;x/)
  const filtered = await admin.get('/audit?user=' + encodeURIComponent('"><script>alert(2)</script>'))
  assert.equal(filtered.statusCode, 200)
  assert.doesNotMatch(filtered.body, /<script>alert\(2\)/)
})
