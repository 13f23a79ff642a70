import { test } from 'node:test'
import assert from 'node:assert/strict'
import { buildTestApp, countRows, signIn } from '../helper.ts'
import { createServersRepository } from '../../server/servers/repository.ts'
import { ed25519Key } from './keys.ts'

async function setup(t: Parameters<typeof buildTestApp>[0]) {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const key = await ed25519Key(t)
  const res = await admin.form('/credentials', { name: 'deploy', kind: 'key', private_key: key.privateKey, notes: 'old notes' })
  assert.equal(res.statusCode, 302, res.body)
  const id = Number(String(res.headers.location).split('/').pop())
  return { app, admin, key, id }
}

const secretOf = async (app: Awaited<ReturnType<typeof setup>>['app'], id: number) =>
  (await app.knex('credentials').where({ id }).first('secret_encrypted', 'fingerprint', 'kind', 'name', 'notes')) as Record<string, string>

test('the edit form shows name, kind and fingerprint but never the key', async (t) => {
  const { admin, key, id } = await setup(t)
  const res = await admin.get(`/credentials/${id}/edit`)
  assert.equal(res.statusCode, 200)
  assert.match(res.body, /enctype="multipart\/form-data"/)
  assert.match(res.body, /value="deploy"/)
  assert.match(res.body, /name="kind" value="key" checked/)
  assert.ok(res.body.includes(key.fingerprint))
  assert.ok(!res.body.includes(key.privateKey.split('\n')[1] as string))
})

test('saving with the secret fields empty keeps the old secret', async (t) => {
  const { app, admin, key, id } = await setup(t)
  const before = await secretOf(app, id)
  const res = await admin.form(`/credentials/${id}`, { name: 'deploy-renamed', kind: 'key', private_key: '', passphrase: '', password: '', notes: 'new notes' })
  assert.equal(res.statusCode, 302, res.body)
  const after = await secretOf(app, id)
  assert.equal(after.secret_encrypted, before.secret_encrypted)
  assert.equal(after.fingerprint, key.fingerprint)
  assert.equal(after.name, 'deploy-renamed')
  assert.equal(after.notes, 'new notes')
  const audit = await app.knex('audit_log').where({ action: 'credential.update' }).first()
  assert.equal(audit.detail, 'deploy-renamed (key)')
})

test('saving a new key replaces the secret and the fingerprint', async (t) => {
  const { app, admin, id } = await setup(t)
  const other = await ed25519Key(t)
  const res = await admin.form(`/credentials/${id}`, { name: 'deploy', kind: 'key', private_key: other.privateKey })
  assert.equal(res.statusCode, 302, res.body)
  assert.equal((await secretOf(app, id)).fingerprint, other.fingerprint)
})

test('changing the kind needs the new secret', async (t) => {
  const { app, admin, id } = await setup(t)
  const before = await secretOf(app, id)
  const res = await admin.form(`/credentials/${id}`, { name: 'deploy', kind: 'password', password: '' })
  assert.equal(res.statusCode, 400)
  assert.match(res.body, /id="e-password">Changing the kind needs a new password/)
  assert.deepEqual(await secretOf(app, id), before)
  const ok = await admin.form(`/credentials/${id}`, { name: 'deploy', kind: 'password', password: 'now a password' })
  assert.equal(ok.statusCode, 302, ok.body)
  const after = await secretOf(app, id)
  assert.equal(after.kind, 'password')
  assert.equal(after.fingerprint, '')
})

test('an invalid edit re-renders with the message and changes nothing', async (t) => {
  const { app, admin, id } = await setup(t)
  const before = await secretOf(app, id)
  const res = await admin.form(`/credentials/${id}`, { name: '', kind: 'key', private_key: 'not a key' })
  assert.equal(res.statusCode, 400)
  assert.match(res.body, /Name is required/)
  assert.match(res.body, /This is not a private key in PEM or OpenSSH format/)
  assert.deepEqual(await secretOf(app, id), before)
})

test('renaming to an existing name says it already exists', async (t) => {
  const { app, admin, id } = await setup(t)
  await admin.form('/credentials', { name: 'taken', kind: 'password', password: 'x' })
  const res = await admin.form(`/credentials/${id}`, { name: 'taken', kind: 'key' })
  assert.equal(res.statusCode, 400)
  assert.match(res.body, /A credential named taken already exists/)
  assert.equal((await secretOf(app, id)).name, 'deploy')
})

test('the delete page warns that servers using the credential will lose it', async (t) => {
  const { app, admin, id } = await setup(t)
  await createServersRepository(app.knex).create({ hostname: 'web-01', address: '10.0.0.1', port: 22, username: 'deploy', credential_id: id, env: 'prod', tags: [], notes: '' })
  const res = await admin.get(`/credentials/${id}/delete`)
  assert.equal(res.statusCode, 200)
  assert.match(res.body, /Delete credential deploy\?/)
  assert.match(res.body, /1 server uses this credential \(web-01\): they will lose their credential/)
  assert.match(res.body, new RegExp(`action="/credentials/${id}/delete"`))
  const show = await admin.get(`/credentials/${id}`)
  assert.match(show.body, /<a href="\/servers\/\d+">web-01<\/a>/)
})

test('deleting a credential keeps its servers and sets their credential to none', async (t) => {
  const { app, admin, id } = await setup(t)
  const server = await createServersRepository(app.knex).create({ hostname: 'web-01', address: '10.0.0.1', port: 22, username: 'deploy', credential_id: id, env: 'prod', tags: [], notes: '' })
  const res = await admin.form(`/credentials/${id}/delete`)
  assert.equal(res.statusCode, 302)
  assert.equal(res.headers.location, '/credentials')
  assert.equal(await countRows(app, 'credentials'), 0)
  const row = await app.knex('servers').where({ id: server.id }).first('credential_id')
  assert.equal(row.credential_id, null)
  const audit = await app.knex('audit_log').where({ action: 'credential.delete' }).first()
  assert.equal(audit.detail, 'deploy (key)')
  assert.equal((await admin.get(`/credentials/${id}`)).statusCode, 404)
})

test('an ajax delete answers JSON', async (t) => {
  const { admin, id } = await setup(t)
  const res = await admin.request({ method: 'POST', url: `/credentials/${id}/delete`, headers: { 'x-requested-with': 'XMLHttpRequest', 'x-csrf-token': admin.csrf } })
  assert.equal(res.statusCode, 200)
  assert.deepEqual(JSON.parse(res.body), { ok: true, message: 'Credential deploy deleted.', id })
})
