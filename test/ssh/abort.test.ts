import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { connect, type SshConnection } from '../../server/ssh/runner.ts'
import { SshError } from '../../server/ssh/errors.ts'
import { isRunning, sshdSkipReason, startSshd } from '../support/sshd.ts'
import { keySecret, waitUntil } from './fixtures.ts'

const skip = sshdSkipReason()

/**
 * Starts a command that prints pids (one a line) and aborts it once `count`
 * have arrived. The sshd is on this machine, so the pids are ours to watch.
 */
async function abortAfterPids(conn: SshConnection, command: string, count: number, opts: { cwd?: string } = {}) {
  const pids: number[] = []
  const controller = new AbortController()
  let abortedAt = 0
  const run = conn.exec(command, {
    ...opts,
    signal: controller.signal,
    onStdout: (line) => {
      pids.push(Number(line))
      if (pids.length === count) {
        abortedAt = Date.now()
        controller.abort()
      }
    },
  })
  await assert.rejects(run, { name: 'AbortError' })
  return { pids, settledAfter: Date.now() - abortedAt }
}

test('cancelling a remote command on a loopback sshd', { skip }, async (t) => {
  const host = await startSshd(t)
  const conn = await connect(host, keySecret(host))
  t.after(() => conn.close())

  await t.test('abort kills a remote sleep and its shell within a couple of seconds', async () => {
    const { pids, settledAfter } = await abortAfterPids(conn, 'echo "$$"; sleep 300 & echo "$!"; wait', 2)
    assert.ok(pids.every((pid) => pid > 1))
    assert.ok(settledAfter < 2000, `exec settled ${settledAfter} ms after abort`)
    await waitUntil(() => !pids.some(isRunning), 2000, `processes ${pids.join(', ')} gone`)
  })

  await t.test('abort kills a hook script and every child it started', async () => {
    const script = path.join(host.remoteRoot, 'after_deploy.sh')
    writeFileSync(script, ['#!/bin/sh', 'echo "$$"', 'sleep 301 &', 'echo "$!"', `sh -c 'echo "$$"; exec sleep 302'`, 'echo "not reached"', ''].join('\n'), { mode: 0o755 })
    const { pids, settledAfter } = await abortAfterPids(conn, './after_deploy.sh', 3, { cwd: host.remoteRoot })
    assert.equal(pids.length, 3)
    assert.ok(settledAfter < 2000, `exec settled ${settledAfter} ms after abort`)
    await waitUntil(() => !pids.some(isRunning), 2000, `processes ${pids.join(', ')} gone`)
  })

  await t.test('the connection stays usable after a cancel', async () => {
    assert.equal(await conn.run('echo still here'), 'still here\n')
  })

  await t.test('an already aborted signal runs nothing', async () => {
    const marker = path.join(host.remoteRoot, 'ran')
    await assert.rejects(conn.exec(`touch '${marker}'`, { signal: AbortSignal.abort() }), { name: 'AbortError' })
    assert.equal(await conn.run(`test -e '${marker}' && echo exists || echo absent`), 'absent\n')
  })

  await t.test('an abort while the channel is still opening stops the command once it starts', async () => {
    const controller = new AbortController()
    const started = Date.now()
    const run = conn.exec('exec sleep 303', { signal: controller.signal })
    // exec is past its first check and waiting for the channel: nobody listened to the signal yet
    controller.abort()
    await assert.rejects(run, { name: 'AbortError' })
    assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`)
  })

  await t.test('timeoutMs kills the command and rejects with an SshError of kind timeout', async () => {
    const pids: number[] = []
    const start = Date.now()
    await assert.rejects(conn.exec('echo "$$"; exec sleep 300', { timeoutMs: 500, onStdout: (line) => pids.push(Number(line)) }), (err: unknown) => {
      assert.ok(err instanceof SshError)
      assert.equal(err.kind, 'timeout')
      assert.match(err.message, new RegExp(`on 127\\.0\\.0\\.1:${host.port} ran longer than 0\\.5 s and was stopped`))
      return true
    })
    assert.ok(Date.now() - start < 2500, `took ${Date.now() - start} ms`)
    await waitUntil(() => !pids.some(isRunning), 2000, `process ${pids.join(', ')} gone`)
  })
})

test('a command that ignores TERM is killed with KILL after the grace period', { skip }, async (t) => {
  const host = await startSshd(t)
  const conn = await connect(host, keySecret(host), { killGraceMs: 400 })
  t.after(() => conn.close())
  // an ignored signal stays ignored across fork and exec, so the sleep ignores TERM too
  const { pids, settledAfter } = await abortAfterPids(conn, `trap '' TERM; echo "$$"; sleep 300 & echo "$!"; wait`, 2)
  assert.ok(settledAfter >= 400, `settled after ${settledAfter} ms, before the grace period ended`)
  assert.ok(settledAfter < 2500, `settled after ${settledAfter} ms`)
  await waitUntil(() => !pids.some(isRunning), 2000, `processes ${pids.join(', ')} gone`)
})
