import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { decryptSecret, encryptSecret, inspectPrivateKey, keyFingerprint } from '../../server/credentials/crypto.ts'
import { ed25519Key, keyFile, nodeRsaKey, sshKeygenFingerprint } from './keys.ts'

const key = randomBytes(32)

test('encrypt then decrypt gives the plaintext back', () => {
  const secret = JSON.stringify({ password: 'hunter2 ✓' })
  const stored = encryptSecret(secret, key)
  assert.match(stored, /^v1:/)
  assert.ok(!stored.includes('hunter2'))
  assert.equal(decryptSecret(stored, key), secret)
})

test('the same plaintext encrypts differently each time (random IV)', () => {
  assert.notEqual(encryptSecret('same', key), encryptSecret('same', key))
})

test('decrypting a ciphertext with one flipped byte throws', () => {
  const stored = encryptSecret('the secret', key)
  const raw = Buffer.from(stored.slice(3), 'base64')
  for (const at of [0, 20, raw.length - 1]) {
    const tampered = Buffer.from(raw)
    tampered[at] = (tampered[at] as number) ^ 0x01
    assert.throws(() => decryptSecret('v1:' + tampered.toString('base64'), key))
  }
})

test('decrypting with another key throws', () => {
  assert.throws(() => decryptSecret(encryptSecret('the secret', key), randomBytes(32)))
})

test('an ssh-keygen ed25519 key (OpenSSH format) has the fingerprint ssh-keygen prints', async (t) => {
  const { privateKey, fingerprint } = await ed25519Key(t)
  const result = inspectPrivateKey(privateKey)
  assert.ok(result.ok)
  assert.equal(result.key.type, 'ssh-ed25519')
  assert.equal(result.key.fingerprint, fingerprint)
  assert.equal(keyFingerprint(privateKey), fingerprint)
})

test('a node RSA key in PKCS#1 PEM has the fingerprint ssh-keygen prints', async (t) => {
  const { privateKey, fingerprint } = await nodeRsaKey(t, 'pkcs1')
  assert.equal(keyFingerprint(privateKey), fingerprint)
})

test('a node RSA key in PKCS#8 PEM is rewritten into a form ssh2 reads, with the same fingerprint', async (t) => {
  const { privateKey, fingerprint } = await nodeRsaKey(t, 'pkcs8')
  const result = inspectPrivateKey(privateKey)
  assert.ok(result.ok)
  assert.equal(result.key.fingerprint, fingerprint)
  assert.match(result.key.privateKey, /^-----BEGIN RSA PRIVATE KEY-----/)
})

test('an Ed25519 key in PKCS#8 becomes an OpenSSH key that ssh-keygen reads with the same fingerprint', async (t) => {
  const { privateKey } = generateKeyPairSync('ed25519', { privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } })
  const result = inspectPrivateKey(privateKey)
  assert.ok(result.ok)
  assert.match(result.key.privateKey, /^-----BEGIN OPENSSH PRIVATE KEY-----/)
  assert.equal(await sshKeygenFingerprint(keyFile(t, result.key.privateKey)), result.key.fingerprint)
})

test('an encrypted key needs its passphrase, refuses a wrong one and opens with the right one', async (t) => {
  const { privateKey, fingerprint } = await ed25519Key(t, 'open sesame')
  assert.deepEqual(inspectPrivateKey(privateKey), { ok: false, problem: 'passphrase-needed' })
  assert.deepEqual(inspectPrivateKey(privateKey, 'wrong'), { ok: false, problem: 'wrong-passphrase' })
  const result = inspectPrivateKey(privateKey, 'open sesame')
  assert.ok(result.ok)
  assert.equal(result.key.fingerprint, fingerprint)
  assert.equal(result.key.passphrase, 'open sesame')
})

test('an encrypted PKCS#8 key needs its passphrase too', () => {
  const { privateKey } = generateKeyPairSync('ec', {
    namedCurve: 'P-256',
    privateKeyEncoding: { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'p4ss' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  })
  assert.deepEqual(inspectPrivateKey(privateKey), { ok: false, problem: 'passphrase-needed' })
  assert.deepEqual(inspectPrivateKey(privateKey, 'nope'), { ok: false, problem: 'wrong-passphrase' })
  const result = inspectPrivateKey(privateKey, 'p4ss')
  assert.ok(result.ok)
  assert.equal(result.key.type, 'ecdsa-sha2-nistp256')
})

test('garbage, a public key and a broken PEM frame are not private keys', async (t) => {
  const { privateKey } = await ed25519Key(t)
  for (const text of ['garbage', 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPZ test', '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----', privateKey.replace(/\n[A-Za-z0-9+/]{10}/, '\n')]) {
    assert.deepEqual(inspectPrivateKey(text), { ok: false, problem: 'not-a-key' }, text.slice(0, 40))
  }
  assert.equal(keyFingerprint('garbage'), null)
})
