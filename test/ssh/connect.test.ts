import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { once } from 'node:events'
import { randomBytes } from 'node:crypto'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { buildTestApp } from '../helper.ts'
import { ed25519Key } from '../credentials/keys.ts'
import { createCredentialsService, loadSecret } from '../../server/credentials/service.ts'
import { connect, withConnection } from '../../server/ssh/runner.ts'
import { SshError } from '../../server/ssh/errors.ts'
import { sshdSkipReason, startSshd } from '../support/sshd.ts'
import { keySecret, pinned } from './fixtures.ts'

const skip = sshdSkipReason()
const run = promisify(execFile)

function isSshError(kind: SshError['kind'], message: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof SshError, `expected an SshError, got ${String(err)}`)
    assert.equal(err.kind, kind)
    assert.match(err.message, message)
    return true
  }
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')

test('connect on a loopback sshd', { skip }, async (t) => {
  const host = await startSshd(t)
  const at = `${host.host}:${host.port}`

  await t.test('connects with a key and, with nothing pinned, reports the host key to pin', async () => {
    await withConnection(host, keySecret(host), {}, async (conn) => {
      assert.equal(conn.hostKeyIsNew, true)
      assert.equal(conn.hostKey.fingerprint, host.hostKeyFingerprint)
      assert.equal(conn.hostKey.type, 'ssh-ed25519')
      assert.equal(conn.hostKey.openssh, host.hostPublicKey.split(' ').slice(0, 2).join(' '))
      assert.equal(await conn.run('id -un'), `${host.username}\n`)
    })
  })

  await t.test('connects when the pinned key matches, given as an OpenSSH line or as the base64 key', async () => {
    for (const hostKey of [host.hostPublicKey, host.hostPublicKey.split(' ')[1] as string]) {
      await withConnection(pinned(host, hostKey), keySecret(host), {}, async (conn) => {
        assert.equal(conn.hostKeyIsNew, false)
        assert.equal(conn.hostKey.fingerprint, host.hostKeyFingerprint)
      })
    }
  })

  await t.test('refuses a pinned key that cannot be read instead of trusting whatever answers', async () => {
    await assert.rejects(connect(pinned(host, 'ssh-ed25519 not-base64!'), keySecret(host)), isSshError('host-key', /stored host key of .* cannot be read/))
  })

  await t.test('a pinned key of a type the server no longer has counts as a changed host key', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'longship-ecdsa-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    await run('ssh-keygen', ['-q', '-t', 'ecdsa', '-N', '', '-f', path.join(dir, 'key')])
    const ecdsa = readFileSync(path.join(dir, 'key.pub'), 'utf8')
    const expected = new RegExp(`^the host key of ${escape(at)} changed \\(expected SHA256:\\S+, but the server has no ecdsa-sha2-nistp256 key any more\\)`)
    await assert.rejects(connect(pinned(host, ecdsa), keySecret(host)), isSshError('host-key', expected))
  })

  await t.test('a wrong key says authentication failed for USER@HOST:PORT', async () => {
    const other = await ed25519Key(t)
    const expected = new RegExp(`^authentication failed for ${escape(host.username)}@${escape(at)}$`)
    await assert.rejects(connect(host, { kind: 'key', privateKey: other.privateKey }), isSshError('auth', expected))
  })

  await t.test('a key that is not a key is an authentication failure that says why', async () => {
    await assert.rejects(connect(host, { kind: 'key', privateKey: 'garbage' }), isSshError('auth', /private key cannot be used/))
  })

  await t.test('a changed host key is refused with both fingerprints and no credentials are offered', async () => {
    const old = { key: host.hostPublicKey, fingerprint: host.hostKeyFingerprint }
    await host.restartWithNewHostKey()
    assert.notEqual(host.hostKeyFingerprint, old.fingerprint)
    const logBefore = host.log().length
    const expected = new RegExp(`^the host key of ${escape(at)} changed \\(expected ${escape(old.fingerprint)}, got ${escape(host.hostKeyFingerprint)}\\)`)
    await assert.rejects(connect(pinned(host, old.key), keySecret(host)), isSshError('host-key', expected))
    // the handshake stopped before authentication: sshd saw no user and no key
    assert.doesNotMatch(host.log().slice(logBefore), /Accepted|Failed|publickey|Invalid user/)
    // and the new key, once pinned, works
    await withConnection(pinned(host), keySecret(host), {}, async (conn) => assert.equal(conn.hostKeyIsNew, false))
  })
})

test('a closed port fails fast with "refused"', { skip }, async () => {
  const server = net.createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as net.AddressInfo
  await new Promise((resolve) => server.close(resolve))
  const start = Date.now()
  await assert.rejects(
    connect({ host: '127.0.0.1', port, username: 'deploy' }, { kind: 'password', password: 'x' }),
    isSshError('refused', new RegExp(`^connection refused by 127\\.0\\.0\\.1:${port} `)),
  )
  assert.ok(Date.now() - start < 1000, `took ${Date.now() - start} ms`)
})

test('a listener that accepts TCP but never speaks SSH fails with "timeout" within the bound', async (t) => {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => sockets.add(socket)).listen(0, '127.0.0.1')
  t.after(() => {
    for (const socket of sockets) socket.destroy()
    server.close()
  })
  await once(server, 'listening')
  const { port } = server.address() as net.AddressInfo
  const start = Date.now()
  await assert.rejects(
    connect({ host: '127.0.0.1', port, username: 'deploy' }, { kind: 'password', password: 'x' }, { readyTimeoutMs: 1500 }),
    isSshError('timeout', new RegExp(`^connecting to 127\\.0\\.0\\.1:${port} timed out after 1\\.5 s`)),
  )
  const took = Date.now() - start
  assert.ok(took >= 1400 && took < 2500, `took ${took} ms`)
  assert.equal(sockets.size, 1)
})

test('an RSA key connects', { skip }, async (t) => {
  const host = await startSshd(t, { keyType: 'rsa' })
  assert.match(host.privateKey, /^-----BEGIN OPENSSH PRIVATE KEY-----/)
  await withConnection(host, keySecret(host), {}, async (conn) => assert.equal(await conn.run('echo rsa'), 'rsa\n'))
})

test('a passphrase-protected key connects with its passphrase and fails without it', { skip }, async (t) => {
  const host = await startSshd(t, { passphrase: 'open sesame' })
  await withConnection(host, keySecret(host, 'open sesame'), {}, async (conn) => assert.equal(await conn.run('echo ok'), 'ok\n'))
  await assert.rejects(connect(host, keySecret(host)), isSshError('auth', /authentication failed for .*: the private key cannot be used/))
})

// A right password cannot be tested without giving the user running the tests
// a password in /etc/shadow (root's is locked here); sshd then checks the
// typed one against it, so a wrong password is as far as a loopback test goes.
test('a wrong password says authentication failed', { skip }, async (t) => {
  const host = await startSshd(t, { passwordAuthentication: true })
  await assert.rejects(
    connect(host, { kind: 'password', password: 'not-the-password' }),
    isSshError('auth', new RegExp(`^authentication failed for ${escape(host.username)}@127\\.0\\.0\\.1:${host.port}$`)),
  )
})

test('a credential saved through the credentials service connects via loadSecret', { skip }, async (t) => {
  const host = await startSshd(t)
  const app = await buildTestApp(t)
  const secretKey = randomBytes(32)
  const saved = await createCredentialsService(app.knex, secretKey).create({ name: 'deploy key', kind: 'key', private_key: host.privateKey })
  assert.ok(saved.ok)
  const secret = await loadSecret(app.knex, secretKey, saved.credential.id)
  assert.ok(secret)
  await withConnection(host, secret, {}, async (conn) => assert.equal(conn.hostKey.fingerprint, host.hostKeyFingerprint))
})
