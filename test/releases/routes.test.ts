import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { createUsersRepository } from '../../server/users/repository.ts'
import { countRows, signIn } from '../helper.ts'
import { sshdSkipReason } from '../support/sshd.ts'
import { deployFixture } from './fixture.ts'

const skip = sshdSkipReason()

async function bearer(app: FastifyInstance, userId: number): Promise<Record<string, string>> {
  const { token } = await createUsersRepository(app.knex).createToken(userId, 'ci')
  return { authorization: `Bearer ${token}`, accept: 'application/json' }
}

test('the release pages: the form lists refs, a start redirects to the live page, which shows the flow, the log and the chat', { skip }, async (t) => {
  const f = await deployFixture(t, { hosts: 1, project: { hook_after_download: 'echo "<b>built</b>"' } })
  await f.repo.tag('v1.0.0')
  const deployer = await signIn(f.app, 'deployer')
  const viewer = await signIn(f.app, 'viewer')

  const form = await deployer.get(`/projects/${f.project.id}/releases/new`)
  assert.equal(form.statusCode, 200)
  assert.match(form.body, /<button type="submit" name="ref" value="main">Deploy<\/button>/)
  assert.match(form.body, /value="v1\.0\.0"/)
  assert.match(form.body, /first version/)
  assert.equal((await viewer.get(`/projects/${f.project.id}/releases/new`)).statusCode, 403)
  assert.equal((await viewer.form(`/projects/${f.project.id}/releases`, { ref: 'main' })).statusCode, 403)

  // a bad ref re-renders the form with the message and the value as typed; nothing is created
  const bad = await deployer.form(`/projects/${f.project.id}/releases`, { ref: 'main;touch /tmp/x' })
  assert.equal(bad.statusCode, 400)
  assert.match(bad.body, /must not|letters, digits/)
  assert.match(bad.body, /value="main;touch \/tmp\/x"/)
  assert.equal(await countRows(f.app, 'releases'), 0)

  const started = await deployer.form(`/projects/${f.project.id}/releases`, { ref: 'v1.0.0' })
  assert.equal(started.statusCode, 302)
  const id = Number(/^\/releases\/(\d+)$/.exec(started.headers.location as string)?.[1])
  const release = await f.settled(id)
  assert.equal(release.status, 'success', release.error ?? '')

  // chat: escaped, in the stream, for every viewer
  assert.equal((await viewer.form(`/releases/${id}/messages`, { body: '<script>alert(1)</script> looks good' })).statusCode, 302)
  assert.equal((await viewer.form(`/releases/${id}/messages`, { body: '   ' })).statusCode, 302)
  const page = await viewer.get(`/releases/${id}`)
  assert.equal(page.statusCode, 200)
  assert.match(page.body, /<span class="status status-success" id="release-status">success<\/span>/)
  assert.match(page.body, /id="node---fetch"/)
  assert.match(page.body, /class="node state-ok" id="node-web1--switch"/)
  assert.match(page.body, /&lt;b&gt;built&lt;\/b&gt;/)
  assert.match(page.body, /&lt;script&gt;alert\(1\)&lt;\/script&gt; looks good/)
  assert.doesNotMatch(page.body, /<script>alert/)
  // viewers see no cancel button, and the finished release has none anyway
  assert.doesNotMatch(page.body, /release-cancel/)
  assert.match(page.body, /data-topic="release:\d+"/)

  const filtered = await viewer.get(`/releases/${id}?host=web1`)
  assert.doesNotMatch(filtered.body, /&lt;b&gt;built/)
  assert.match(filtered.body, /current -&gt;/)

  const text = await viewer.get(`/releases/${id}/log.txt`)
  assert.equal(text.statusCode, 200)
  assert.match(text.headers['content-type'] as string, /^text\/plain/)
  assert.match(text.headers['content-disposition'] as string, /attachment; filename="release-\d+\.log"/)
  assert.match(text.body, /OUT <b>built<\/b>/)
  assert.match(text.body, /chat viewer-\w+: <script>alert\(1\)<\/script> looks good/)
  assert.match(text.body, /status success/)

  const history = await viewer.get('/releases?status=success')
  assert.match(history.body, new RegExp(`href="/releases/${id}">#${id}</a>`))
  assert.doesNotMatch((await viewer.get('/releases?status=failed')).body, new RegExp(`#${id}<`))
  const project = await viewer.get(`/projects/${f.project.id}`)
  assert.match(project.body, new RegExp(`href="/releases/${id}">#${id}</a>`))

  assert.equal((await viewer.get('/releases/999999')).statusCode, 404)
  assert.equal((await viewer.get('/releases/abc')).statusCode, 404)
  assert.equal((await viewer.form(`/releases/${id}/cancel`)).statusCode, 403)

  // a line stored while the page is being read is in the page or after its
  // cursor (then the first poll brings it), never in between and lost
  const repo = f.app.releases.repo
  const head = repo.head.bind(repo)
  let written = 0
  repo.head = async (releaseId) => {
    const seq = (await head(releaseId)) + 1
    await repo.insertEvents(releaseId, [{ seq, kind: 'log', host: null, stream: 'stdout', body: `written during the read ${seq}`, user_id: null, at: new Date() }])
    written = seq
    return head(releaseId)
  }
  const during = await viewer.get(`/releases/${id}`)
  repo.head = head
  const cursor = Number(/data-cursor="(\d+)"/.exec(during.body)?.[1])
  const shown = during.body.includes(`written during the read ${written}`)
  assert.ok(shown || cursor < written, `line ${written}: not shown, and the cursor ${cursor} is past it`)
})

test('the releases API: start, follow, events after a cursor, chat, cancel, conflicts and bad input', { skip }, async (t) => {
  const f = await deployFixture(t, { hosts: 2, project: { hook_before_deploy: 'sleep 1; echo deployed' } })
  const deployer = await signIn(f.app, 'deployer')
  const headers = await bearer(f.app, deployer.user.id)
  const post = (url: string, body: unknown, extra: Record<string, string> = {}) =>
    f.app.inject({ method: 'POST', url, headers: { ...headers, 'content-type': 'application/json', ...extra }, payload: typeof body === 'string' ? body : JSON.stringify(body) })
  const get = (url: string) => f.app.inject({ method: 'GET', url, headers })

  assert.equal((await post(`/api/projects/${f.project.id}/releases`, '{"ref":')).statusCode, 400)
  assert.equal((await post(`/api/projects/${f.project.id}/releases`, { ref: '--upload-pack=touch /tmp/x' })).statusCode, 400)
  assert.equal((await post('/api/projects/999999/releases', { ref: 'main' })).statusCode, 404)
  assert.equal(await countRows(f.app, 'releases'), 0)

  const created = await post(`/api/projects/${f.project.id}/releases`, { ref: 'main' })
  assert.equal(created.statusCode, 201, created.body)
  const id = created.json().release.id as number
  assert.equal(created.headers.location, `/api/releases/${id}`)
  const second = await post(`/api/projects/${f.project.id}/releases`, { ref: 'main' })
  assert.equal(second.statusCode, 409)
  assert.match(second.json().error, new RegExp(`Release #${id} by ${deployer.user.username} is still running`))
  assert.deepEqual(second.json().details.running, { id, user: deployer.user.username })

  const chat = await post(`/api/releases/${id}/messages`, { body: 'watching' })
  assert.equal(chat.statusCode, 201)
  assert.equal((await post(`/api/releases/${id}/messages`, { body: '' })).statusCode, 400)
  assert.equal((await post(`/api/releases/${id}/messages`, { body: 'x'.repeat(2001) })).statusCode, 400)

  await f.settled(id)
  const shown = (await get(`/api/releases/${id}`)).json().release
  assert.equal(shown.status, 'success')
  assert.equal(shown.ref, 'main')
  assert.match(shown.commit, /^[0-9a-f]{40}$/)
  assert.deepEqual(
    shown.hosts.map((h: { hostname: string; status: string }) => [h.hostname, h.status]),
    [
      ['web1', 'success'],
      ['web2', 'success'],
    ],
  )
  const all = (await get(`/api/releases/${id}/events?after=0&limit=5000`)).json()
  assert.ok(all.events.length > 10)
  assert.equal(all.head, all.events.at(-1).seq)
  assert.deepEqual(
    all.events.map((e: { seq: number }) => e.seq),
    all.events.map((_: unknown, i: number) => i + 1),
  )
  assert.ok(all.events.some((e: { kind: string; author: string; body: string }) => e.kind === 'chat' && e.author === deployer.user.username && e.body === 'watching'))
  assert.ok(all.events.some((e: { host: string; stream: string; body: string }) => e.host === 'web2' && e.stream === 'stdout' && e.body === 'deployed'))
  const tail = (await get(`/api/releases/${id}/events?after=${all.head - 3}`)).json()
  assert.deepEqual(
    tail.events.map((e: { seq: number }) => e.seq),
    [all.head - 2, all.head - 1, all.head],
  )
  const earlier = (await get(`/api/releases/${id}/events?before=4&limit=2`)).json()
  assert.deepEqual(
    earlier.events.map((e: { seq: number }) => e.seq),
    [2, 3],
  )
  assert.equal((await get(`/api/releases/${id}/events?after=abc`)).statusCode, 400)
  assert.equal((await get(`/api/releases/${id}/events?limit=0`)).statusCode, 400)
  assert.equal((await get('/api/releases/424242')).statusCode, 404)
  const cancel = await post(`/api/releases/${id}/cancel`, {})
  assert.equal(cancel.statusCode, 409)
  assert.match(cancel.json().error, /already ended \(success\)/)

  const list = (await get(`/api/releases?project=${f.project.id}`)).json()
  assert.equal(list.total, 1)
  assert.equal(list.items[0].id, id)

  // a viewer's token reads but cannot start
  const viewer = await signIn(f.app, 'viewer')
  const viewerHeaders = await bearer(f.app, viewer.user.id)
  const refused = await f.app.inject({ method: 'POST', url: `/api/projects/${f.project.id}/releases`, headers: { ...viewerHeaders, 'content-type': 'application/json' }, payload: '{"ref":"main"}' })
  assert.equal(refused.statusCode, 403)
})

test('the connection test button connects, shows uname -a and pins the host key', { skip }, async (t) => {
  const f = await deployFixture(t, { hosts: 1 })
  const admin = await signIn(f.app, 'admin')
  const server = f.servers[0]!
  const res = await admin.form(`/servers/${server.id}/test`)
  assert.equal(res.statusCode, 302)
  const page = await admin.get(`/servers/${server.id}`)
  assert.match(page.body, /Connected in \d+ ms: Linux /)
  assert.match(page.body, new RegExp(`${f.hosts[0]!.hostKeyFingerprint.replace(/[+/]/g, '\\$&')}, pinned now`))
  assert.match(page.body, /id="host-key">SHA256:/)
  const ajax = await admin.json('POST', `/servers/${server.id}/test`)
  assert.equal(ajax.json().ok, true)
  assert.equal(ajax.json().pinnedNow, false)
  // a new host key: refused until an admin forgets the pinned one
  await f.hosts[0]!.restartWithNewHostKey()
  const changed = await admin.json('POST', `/servers/${server.id}/test`)
  assert.equal(changed.statusCode, 502)
  assert.match(changed.json().error, /host key of 127\.0\.0\.1:\d+ changed/)
  assert.equal((await admin.form(`/servers/${server.id}/host-key/delete`)).statusCode, 302)
  assert.equal((await admin.json('POST', `/servers/${server.id}/test`)).json().pinnedNow, true)
  const viewer = await signIn(f.app, 'viewer')
  assert.equal((await viewer.form(`/servers/${server.id}/test`)).statusCode, 403)
})
