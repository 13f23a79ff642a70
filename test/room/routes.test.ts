import { test } from 'node:test'
import assert from 'node:assert/strict'
import { buildTestApp, countRows, signIn } from '../helper.ts'

test('a message posted through the plain form is stored, shown escaped, and the page keeps a refresh link', async (t) => {
  const app = await buildTestApp(t)
  const viewer = await signIn(app, 'viewer')
  await viewer.get('/room')
  const res = await viewer.form('/room', { body: '<script>alert(1)</script> deploy at 5?' })
  assert.equal(res.statusCode, 302)
  assert.match(String(res.headers.location), /^\/room#m\d+$/)
  const page = await viewer.get('/room')
  assert.equal(page.statusCode, 200)
  assert.ok(page.body.includes('&lt;script&gt;alert(1)&lt;/script&gt; deploy at 5?'))
  assert.ok(!page.body.includes('<script>alert(1)'))
  assert.match(page.body, /<span class="author">viewer-/)
  assert.match(page.body, /href="\/room"[^>]*>Refresh</)
  const id = (await app.knex('room_messages').first('id')) as { id: number }
  assert.match(page.body, new RegExp(`data-cursor="${id.id}"`))
})

test('an empty, blank or over-long message is refused with a message and nothing is stored', async (t) => {
  const app = await buildTestApp(t)
  const user = await signIn(app, 'deployer')
  await user.get('/room')
  for (const body of ['', '   \n  ', 'x'.repeat(2001)]) {
    const res = await user.form('/room', { body })
    assert.equal(res.statusCode, 400)
    assert.match(res.body, body.length > 2000 ? /at most 2000 characters/ : /Write a message/)
  }
  const ajax = await user.request({
    method: 'POST',
    url: '/room',
    payload: 'body=',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-csrf-token': user.csrf, 'x-requested-with': 'XMLHttpRequest', accept: 'application/json' },
  })
  assert.equal(ajax.statusCode, 400)
  assert.equal(ajax.json().error, 'Write a message')
  assert.equal(await countRows(app, 'room_messages'), 0)
})

test('the over-long draft is kept in the form so nothing typed is lost', async (t) => {
  const app = await buildTestApp(t)
  const user = await signIn(app, 'viewer')
  await user.get('/room')
  const res = await user.form('/room', { body: 'y'.repeat(2001) })
  assert.ok(res.body.includes('y'.repeat(2001) + '</textarea>'))
})

test('a post without the CSRF token is refused and stores nothing', async (t) => {
  const app = await buildTestApp(t)
  const user = await signIn(app, 'viewer')
  const res = await user.form('/room', { body: 'hello' }, { csrf: null })
  assert.equal(res.statusCode, 403)
  assert.equal(await countRows(app, 'room_messages'), 0)
})

test('an ajax post answers JSON at once with the stored message', async (t) => {
  const app = await buildTestApp(t)
  const user = await signIn(app, 'viewer')
  const res = await user.json('POST', '/room', { body: '  hi team  ' })
  assert.equal(res.statusCode, 200)
  const json = res.json()
  assert.equal(json.ok, true)
  assert.equal(json.message.body, 'hi team')
  assert.equal(json.message.author, user.user.username)
})

test('the room shows the last 100 messages, oldest first', async (t) => {
  const app = await buildTestApp(t)
  const user = await signIn(app, 'viewer')
  const res = await user.json('POST', '/api/room/messages', { messages: Array.from({ length: 100 }, (_, i) => `m${i + 1}`) })
  assert.equal(res.statusCode, 201)
  await user.json('POST', '/api/room/messages', { messages: ['m101', 'm102'] })
  const page = await user.get('/room')
  const bodies = [...page.body.matchAll(/<div class="body">([^<]*)<\/div>/g)].map((m) => m[1])
  assert.equal(bodies.length, 100)
  assert.equal(bodies[0], 'm3')
  assert.equal(bodies[99], 'm102')
})

test('the room API posts batches in order and pages by cursor; bad input gets 400 naming the field', async (t) => {
  const app = await buildTestApp(t)
  const user = await signIn(app, 'viewer')
  const posted = await user.json('POST', '/api/room/messages', { messages: ['one', 'two', 'three'] })
  assert.equal(posted.statusCode, 201)
  const ids = (posted.json().items as Array<{ id: number; body: string }>).map((m) => m.id)
  assert.deepEqual(
    (posted.json().items as Array<{ body: string }>).map((m) => m.body),
    ['one', 'two', 'three'],
  )
  const after = await user.json('GET', `/api/room/messages?after=${ids[0]}`)
  assert.deepEqual(
    (after.json().items as Array<{ body: string }>).map((m) => m.body),
    ['two', 'three'],
  )
  const bad: Array<[unknown, RegExp]> = [
    [{}, /Write a message/],
    [{ body: 42 }, /Write a message/],
    [{ messages: [] }, /1 to 100/],
    [{ messages: Array.from({ length: 101 }, () => 'x') }, /1 to 100/],
    [{ messages: ['ok', ''] }, /messages\[1\]/],
    [{ body: 'a\u0000b' }, /NUL/],
    [[1, 2], /JSON object/],
  ]
  for (const [body, message] of bad) {
    const res = await user.json('POST', '/api/room/messages', body)
    assert.equal(res.statusCode, 400, JSON.stringify(body))
    assert.match(res.json().error, message)
  }
  assert.equal((await user.json('GET', '/api/room/messages?after=-1')).statusCode, 400)
  assert.equal((await user.json('GET', '/api/room/messages?after=abc')).statusCode, 400)
  assert.equal(await countRows(app, 'room_messages'), 3)
})

test('a deleted author shows as "deleted user" and the messages stay', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const viewer = await signIn(app, 'viewer')
  await viewer.json('POST', '/room', { body: 'bye' })
  await admin.get(`/users/${viewer.user.id}`)
  const res = await admin.form(`/users/${viewer.user.id}/delete`)
  assert.equal(res.statusCode, 302)
  const page = await admin.get('/room')
  assert.match(page.body, /<span class="author">deleted user<\/span>/)
})
