import { test } from 'node:test'
import assert from 'node:assert/strict'
import { buildTestApp, countRows, signIn, type Client } from '../helper.ts'
import { KEY_FILE_LIMIT } from '../../server/credentials/schema.ts'
import { createCredentialsRepository } from '../../server/credentials/repository.ts'
import { ed25519Key, multipart, nodeRsaKey } from './keys.ts'

type File = Parameters<typeof multipart>[1]

/** The credential form as a browser posts it: multipart, with the hidden _csrf field unless told otherwise. */
function postForm(client: Client, url: string, fields: Record<string, string>, file?: File, csrf = true) {
  return client.request({ method: 'POST', url, ...multipart(csrf ? { _csrf: client.csrf, ...fields } : fields, file) })
}

/** A line from the middle of a key: if it shows up anywhere, the secret leaked. */
function keyBody(privateKey: string): string {
  return privateKey.split('\n')[2] as string
}

async function pagesOf(client: Client, id: number): Promise<string> {
  const urls = ['/credentials', `/credentials/${id}`, `/credentials/${id}/edit`, `/credentials/${id}/delete`, '/audit']
  return (await Promise.all(urls.map((u) => client.get(u)))).map((r) => r.body).join('\n')
}

test('an admin creates a key credential by uploading the key file (multipart)', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  await admin.get('/credentials/new')
  const key = await ed25519Key(t)
  const res = await postForm(admin, '/credentials', { name: 'deploy-key', kind: 'key', private_key: '', passphrase: '', notes: 'prod' }, { name: 'key_file', filename: 'id_ed25519', content: key.privateKey })
  assert.equal(res.statusCode, 302, res.body)
  assert.match(String(res.headers.location), /^\/credentials\/\d+$/)
  const page = await admin.get(String(res.headers.location))
  assert.match(page.body, /Credential deploy-key created\./)
  assert.ok(page.body.includes(key.fingerprint))
  const audit = await app.knex('audit_log').where({ action: 'credential.create' }).first()
  assert.equal(audit.detail, 'deploy-key (key)')
})

test('an admin creates a key credential by pasting an RSA PEM key made by node', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const key = await nodeRsaKey(t)
  const res = await postForm(admin, '/credentials', { name: 'rsa', kind: 'key', private_key: key.privateKey, notes: '' }, { name: 'key_file', filename: '', content: '' })
  assert.equal(res.statusCode, 302, res.body)
  const [row] = await app.knex('credentials').select('fingerprint')
  assert.equal(row.fingerprint, key.fingerprint)
})

test('the form also accepts application/x-www-form-urlencoded', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const key = await ed25519Key(t)
  const res = await admin.form('/credentials', { name: 'pasted', kind: 'key', private_key: key.privateKey })
  assert.equal(res.statusCode, 302, res.body)
  assert.equal((await app.knex('credentials').first('fingerprint')).fingerprint, key.fingerprint)
})

test('a password credential shows "password" instead of a fingerprint', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const res = await postForm(admin, '/credentials', { name: 'root-pw', kind: 'password', password: 'S3cret-Passw0rd!' })
  assert.equal(res.statusCode, 302, res.body)
  const page = await admin.get(String(res.headers.location))
  assert.match(page.body, /<dd class="mono">password<\/dd>/)
})

test('no page and no database row ever holds a secret in plaintext', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const key = await ed25519Key(t, 'my key passphrase')
  const password = 'Pl41ntext-Password'
  await postForm(admin, '/credentials', { name: 'enc-key', kind: 'key', passphrase: 'my key passphrase' }, { name: 'key_file', filename: 'id', content: key.privateKey })
  await admin.form('/credentials', { name: 'pw', kind: 'password', password })
  // a failed form (duplicate name) must not echo what was typed either
  const again = await admin.form('/credentials', { name: 'pw', kind: 'key', private_key: key.privateKey, passphrase: 'my key passphrase' })
  assert.equal(again.statusCode, 400)
  const rows = await app.knex('credentials').select('*')
  assert.equal(rows.length, 2)
  const bodies = again.body + (await Promise.all(rows.map((r) => pagesOf(admin, Number(r.id))))).join('\n')
  const dump = JSON.stringify(rows) + JSON.stringify(await app.knex('audit_log').select('*'))
  for (const secret of [keyBody(key.privateKey), 'my key passphrase', password]) {
    assert.ok(!bodies.includes(secret), `a page shows ${secret}`)
    assert.ok(!dump.includes(secret), `the database holds ${secret}`)
  }
  for (const row of rows) assert.match(String(row.secret_encrypted), /^v1:[A-Za-z0-9+/]+=*$/)
})

test('a duplicate name says it already exists and writes nothing', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  await admin.form('/credentials', { name: 'shared', kind: 'password', password: 'one' })
  const res = await admin.form('/credentials', { name: 'shared', kind: 'password', password: 'two', notes: 'typed notes' })
  assert.equal(res.statusCode, 400)
  assert.match(res.body, /A credential named shared already exists/)
  assert.match(res.body, /typed notes/)
  assert.equal(await countRows(app, 'credentials'), 1)
})

test('garbage instead of a key is refused with a clear message', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const upload = await postForm(admin, '/credentials', { name: 'bad', kind: 'key' }, { name: 'key_file', filename: 'x.txt', content: 'hello world' })
  assert.equal(upload.statusCode, 400)
  assert.match(upload.body, /This is not a private key in PEM or OpenSSH format/)
  const pasted = await admin.form('/credentials', { name: 'bad', kind: 'key', private_key: 'ssh-ed25519 AAAA… a public key' })
  assert.equal(pasted.statusCode, 400)
  assert.match(pasted.body, /id="e-private_key">This is not a private key in PEM or OpenSSH format/)
  assert.match(pasted.body, /value="bad"/)
  assert.equal(await countRows(app, 'credentials'), 0)
})

test('an encrypted key without its passphrase, or with a wrong one, is refused', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const key = await ed25519Key(t, 'right one')
  const none = await admin.form('/credentials', { name: 'k', kind: 'key', private_key: key.privateKey })
  assert.equal(none.statusCode, 400)
  assert.match(none.body, /id="e-passphrase">This key is encrypted: enter its passphrase/)
  const wrong = await admin.form('/credentials', { name: 'k', kind: 'key', private_key: key.privateKey, passphrase: 'wrong one' })
  assert.match(wrong.body, /id="e-passphrase">The passphrase does not unlock this key/)
  assert.equal(await countRows(app, 'credentials'), 0)
})

test('missing fields get a message each', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const res = await postForm(admin, '/credentials', { name: '', kind: 'key' })
  assert.equal(res.statusCode, 400)
  assert.match(res.body, /id="e-name">Name is required/)
  assert.match(res.body, /id="e-private_key">A private key is required/)
  const pw = await admin.form('/credentials', { name: 'x'.repeat(129), kind: 'password' })
  assert.match(pw.body, /Name is too long/)
  assert.match(pw.body, /id="e-password">A password is required/)
  const kind = await admin.form('/credentials', { name: 'x', kind: 'token' })
  assert.match(kind.body, /Kind must be one of: key, password/)
})

test('a key file over the size limit is answered 413', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const res = await postForm(admin, '/credentials', { name: 'huge', kind: 'key' }, { name: 'key_file', filename: 'huge', content: Buffer.alloc(KEY_FILE_LIMIT + 1, 'A') })
  assert.equal(res.statusCode, 413)
  assert.equal(await countRows(app, 'credentials'), 0)
})

test('a form without the CSRF token is refused with 403, multipart or urlencoded', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const multi = await postForm(admin, '/credentials', { name: 'a', kind: 'password', password: 'p' }, undefined, false)
  assert.equal(multi.statusCode, 403)
  const url = await admin.form('/credentials', { name: 'b', kind: 'password', password: 'p' }, { csrf: null })
  assert.equal(url.statusCode, 403)
  assert.equal(await countRows(app, 'credentials'), 0)
})

test('the list is paginated by 50, searchable by name and sortable, with a count', async (t) => {
  const app = await buildTestApp(t)
  const repo = createCredentialsRepository(app.knex)
  for (let i = 0; i < 60; i++) {
    await repo.create({ name: `cred-${String(i).padStart(2, '0')}`, kind: i % 2 ? 'password' : 'key', secret_encrypted: 'v1:x', fingerprint: i % 2 ? '' : `SHA256:fp${i}`, notes: '' })
  }
  const admin = await signIn(app, 'admin')
  const first = await admin.get('/credentials')
  assert.equal((first.body.match(/<tr id="credential-/g) ?? []).length, 50)
  assert.match(first.body, /60 in all/)
  assert.match(first.body, /data-delete="\/credentials\/\d+\/delete" data-confirm="Delete credential cred-00\?" data-row="credential-\d+"/)
  const second = await admin.get('/credentials?page=2')
  assert.equal((second.body.match(/<tr id="credential-/g) ?? []).length, 10)
  const search = await admin.get('/credentials?q=cred-4')
  assert.match(search.body, /10 in all/)
  const desc = await admin.get('/credentials?sort=name&dir=desc')
  assert.ok(desc.body.indexOf('cred-59') < desc.body.indexOf('cred-58'))
  const byKind = await admin.get('/credentials?sort=kind&dir=asc')
  assert.ok(byKind.body.indexOf('SHA256:fp0') < byKind.body.indexOf('>password<'))
})
