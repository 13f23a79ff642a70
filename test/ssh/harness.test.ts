import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { promisify } from 'node:util'
import path from 'node:path'
import { connect, withConnection } from '../../server/ssh/runner.ts'
import { SshError } from '../../server/ssh/errors.ts'
import { isRunning, sshdSkipReason, startSshd, startSshds, type SshHost } from '../support/sshd.ts'
import { keySecret, waitUntil } from './fixtures.ts'

const skip = sshdSkipReason()
const run = promisify(execFile)

/** Pids whose command line mentions the text (pgrep -f), or none: pgrep exits 1 when nothing matches. */
async function pgrep(text: string): Promise<number[]> {
  try {
    const { stdout } = await run('pgrep', ['-f', text])
    return stdout.split('\n').filter(Boolean).map(Number)
  } catch (err) {
    if ((err as { code?: number }).code === 1) return []
    throw err
  }
}

test('five hosts in parallel each answer on their own port with their own key and remote root', { skip }, async (t) => {
  const hosts = await startSshds(t, 5)
  assert.equal(new Set(hosts.map((h) => h.port)).size, 5)
  assert.equal(new Set(hosts.map((h) => h.hostKeyFingerprint)).size, 5)
  assert.equal(new Set(hosts.map((h) => h.remoteRoot)).size, 5)
  const answers = await Promise.all(
    hosts.map((host, i) =>
      withConnection(host, keySecret(host), {}, async (conn) => {
        assert.equal(conn.hostKey.fingerprint, host.hostKeyFingerprint)
        await conn.run(`echo host-${i} > release-marker`, { cwd: host.remoteRoot })
        return (await conn.readFile(path.join(host.remoteRoot, 'release-marker'))).toString()
      }),
    ),
  )
  assert.deepEqual(
    answers,
    hosts.map((_, i) => `host-${i}\n`),
  )
  hosts.forEach((host, i) => assert.equal(readFileSync(path.join(host.remoteRoot, 'release-marker'), 'utf8'), `host-${i}\n`))
})

test('when its test ends a host leaves no sshd and no process its sessions started', { skip }, async (t) => {
  // filled in by the inner test, whose end stops the host
  const seen: { host?: SshHost; pids: number[]; outcome?: Promise<unknown> } = { pids: [] }
  await t.test('a host with a command still running', async (inner) => {
    const host = (seen.host = await startSshd(inner))
    assert.equal((await pgrep(host.dir)).length, 1, 'one sshd listener for this host')
    const conn = await connect(host, keySecret(host))
    inner.after(() => conn.close())
    await new Promise<void>((resolve) => {
      seen.outcome = conn
        .exec('echo "$$"; sleep 300 & echo "$!"; wait', {
          onStdout: (line) => {
            seen.pids.push(Number(line))
            if (seen.pids.length === 2) resolve()
          },
        })
        .catch((err: unknown) => err)
    })
    assert.ok(seen.pids.every(isRunning))
  })
  assert.ok(seen.host)
  assert.deepEqual(await pgrep(seen.host.dir), [], 'no sshd of that host is left')
  await waitUntil(() => !seen.pids.some(isRunning), 2000, `session processes ${seen.pids.join(', ')} gone`)
  // the command's caller learns that the connection went away under it
  const outcome = await seen.outcome
  assert.ok(outcome instanceof SshError && /closed before the command on 127\.0\.0\.1:\d+ finished/.test(outcome.message), String(outcome))
})

test('restartWithNewHostKey keeps the port and changes the host key', { skip }, async (t) => {
  const host = await startSshd(t)
  const before = { port: host.port, fingerprint: host.hostKeyFingerprint, key: host.hostPublicKey }
  await host.restartWithNewHostKey()
  assert.equal(host.port, before.port)
  assert.notEqual(host.hostKeyFingerprint, before.fingerprint)
  assert.notEqual(host.hostPublicKey, before.key)
  await withConnection(host, keySecret(host), {}, async (conn) => assert.equal(conn.hostKey.fingerprint, host.hostKeyFingerprint))
})
