import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { buildTestApp } from '../helper.ts'
import { createCredentialsService, loadSecret } from '../../server/credentials/service.ts'
import { ed25519Key, nodeRsaKey } from './keys.ts'

const secretKey = randomBytes(32)

test('loadSecret gives back the key and passphrase that were saved', async (t) => {
  const app = await buildTestApp(t)
  const key = await ed25519Key(t, 'pass phrase')
  const result = await createCredentialsService(app.knex, secretKey).create({ name: 'k', kind: 'key', private_key: key.privateKey, passphrase: 'pass phrase' })
  assert.ok(result.ok)
  const secret = await loadSecret(app.knex, secretKey, result.credential.id)
  assert.deepEqual(secret, { kind: 'key', privateKey: key.privateKey.trim() + '\n', passphrase: 'pass phrase' })
})

test('loadSecret gives back an unencrypted key without a passphrase', async (t) => {
  const app = await buildTestApp(t)
  const key = await nodeRsaKey(t)
  const result = await createCredentialsService(app.knex, secretKey).create({ name: 'k', kind: 'key', key_file: Buffer.from(key.privateKey) })
  assert.ok(result.ok)
  assert.deepEqual(await loadSecret(app.knex, secretKey, result.credential.id), { kind: 'key', privateKey: key.privateKey })
})

test('loadSecret gives back a password exactly as typed', async (t) => {
  const app = await buildTestApp(t)
  const result = await createCredentialsService(app.knex, secretKey).create({ name: 'p', kind: 'password', password: ' spaced pässword ' })
  assert.ok(result.ok)
  assert.deepEqual(await loadSecret(app.knex, secretKey, result.credential.id), { kind: 'password', password: ' spaced pässword ' })
})

test('loadSecret is null for an unknown credential', async (t) => {
  const app = await buildTestApp(t)
  assert.equal(await loadSecret(app.knex, secretKey, 12345), null)
})

test('loadSecret throws when the stored secret was tampered with or the key changed', async (t) => {
  const app = await buildTestApp(t)
  const result = await createCredentialsService(app.knex, secretKey).create({ name: 'p', kind: 'password', password: 'x' })
  assert.ok(result.ok)
  await assert.rejects(loadSecret(app.knex, randomBytes(32), result.credential.id))
  const row = await app.knex('credentials').where({ id: result.credential.id }).first('secret_encrypted')
  const raw = Buffer.from(String(row.secret_encrypted).slice(3), 'base64')
  raw[raw.length - 1] = (raw[raw.length - 1] as number) ^ 0xff
  await app.knex('credentials').where({ id: result.credential.id }).update({ secret_encrypted: 'v1:' + raw.toString('base64') })
  await assert.rejects(loadSecret(app.knex, secretKey, result.credential.id))
})
