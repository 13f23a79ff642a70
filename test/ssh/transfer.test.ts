import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { connect } from '../../server/ssh/runner.ts'
import { SshError } from '../../server/ssh/errors.ts'
import { UnsafeValueError } from '../../server/ssh/shell-quote.ts'
import { sshdSkipReason, startSshd } from '../support/sshd.ts'
import { keySecret } from './fixtures.ts'

const skip = sshdSkipReason()
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex')

test('upload and readFile over SFTP on a loopback sshd', { skip }, async (t) => {
  const host = await startSshd(t)
  const conn = await connect(host, keySecret(host))
  t.after(() => conn.close())
  const local = mkdtempSync(path.join(tmpdir(), 'longship-upload-'))
  t.after(() => rmSync(local, { recursive: true, force: true }))

  await t.test('upload puts a file there byte-identical, creating its directory', async () => {
    // 3 MiB of random bytes plus an odd tail: several SFTP chunks, and a last one that is not full
    const content = Buffer.concat([randomBytes(3 * 1024 * 1024), Buffer.from('\0\r\n\xff tail')])
    const file = path.join(local, 'release.tar.gz')
    writeFileSync(file, content)
    const remote = path.join(host.remoteRoot, 'releases', '20260101-1', 'release.tar.gz')
    await conn.upload(file, remote)
    assert.equal(sha256(readFileSync(remote)), sha256(content))
    assert.equal((await conn.run(`sha256sum '${remote}'`)).split(' ')[0], sha256(content))
  })

  await t.test('upload keeps a remote name with spaces, quotes and $ as it is', async () => {
    const file = path.join(local, 'plain.txt')
    writeFileSync(file, 'plain')
    const remote = path.join(host.remoteRoot, `it's "quoted" $(not run).txt`)
    await conn.upload(file, remote)
    assert.equal(readFileSync(remote, 'utf8'), 'plain')
  })

  await t.test('upload refuses remote paths with line breaks, a leading dash or backslashes', async () => {
    const file = path.join(local, 'plain.txt')
    for (const remote of [`${host.remoteRoot}/a\nb`, `${host.remoteRoot}/a\rb`, '-rf', `${host.remoteRoot}/a\\b`, '']) {
      await assert.rejects(conn.upload(file, remote), UnsafeValueError, JSON.stringify(remote))
    }
  })

  await t.test('upload of a missing local file is an SshError naming both paths', async () => {
    await assert.rejects(conn.upload(path.join(local, 'missing'), path.join(host.remoteRoot, 'x')), (err: unknown) => {
      assert.ok(err instanceof SshError)
      assert.match(err.message, /cannot upload .*missing to .*x on 127\.0\.0\.1:/)
      return true
    })
  })

  await t.test('readFile returns a remote file as bytes', async () => {
    const content = Buffer.concat([randomBytes(100_000), Buffer.from('é\n')])
    writeFileSync(path.join(host.remoteRoot, 'os-release'), content)
    assert.ok((await conn.readFile(path.join(host.remoteRoot, 'os-release'))).equals(content))
  })

  await t.test('readFile of a missing file says which file on which host', async () => {
    await assert.rejects(conn.readFile(path.join(host.remoteRoot, 'nope')), /cannot read .*nope on 127\.0\.0\.1:\d+: No such file/)
  })

  await t.test('readFile refuses a file larger than maxBytes', async () => {
    writeFileSync(path.join(host.remoteRoot, 'big'), Buffer.alloc(2048))
    await assert.rejects(conn.readFile(path.join(host.remoteRoot, 'big'), { maxBytes: 1024 }), /is 2048 bytes, more than the 1024 allowed/)
  })
})
