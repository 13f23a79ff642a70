import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { collectAll } from '../../server/assets/collectors/index.ts'
import { CommandFailedError } from '../../server/assets/target.ts'
import { createLocalTarget } from '../../server/assets/targets/local.ts'
import { isRunning } from '../support/sshd.ts'
import { tempDir } from '../helper.ts'

const target = createLocalTarget()

test('local target: stdout of a command that exits 0', async () => {
  assert.equal(await target.run("printf 'a\\nb\\n'"), 'a\nb\n')
})

test('local target: a non-zero exit rejects with the code and stderr', async () => {
  await assert.rejects(target.run('echo oops >&2; exit 3'), (err) => err instanceof CommandFailedError && err.code === 3 && err.stderr === 'oops\n')
})

test('local target: a missing command rejects as not installed', async () => {
  await assert.rejects(target.run('longship-no-such-command --version'), (err) => err instanceof CommandFailedError && err.code === 127)
})

test('local target: stdin is empty, so a command reading it does not wait', async () => {
  assert.equal(await target.run('cat'), '')
})

test('local target: a timeout kills the command and what it started', async (t) => {
  const dir = tempDir(t, 'local')
  const pidFile = path.join(dir, 'pid')
  const started = Date.now()
  await assert.rejects(
    target.run(`sleep 30 & echo $! > '${pidFile}'; wait`, { timeoutMs: 300 }),
    (err) => err instanceof CommandFailedError && err.timedOut && /timed out/.test(err.message),
  )
  assert.ok(Date.now() - started < 5000)
  const pid = Number(readFileSync(pidFile, 'utf8'))
  assert.equal(isRunning(pid), false, `the background sleep ${pid} was killed with its shell`)
})

test('local target: files and directories, null when missing or unreadable', async () => {
  assert.match((await target.readFile('/proc/meminfo')) ?? '', /^MemTotal:/)
  assert.equal(await target.readFile('/longship/no/such/file'), null)
  assert.equal(await target.readFile('/proc'), null, 'a directory is not a file')
  assert.deepEqual((await target.listDir('/sys/class/net'))?.sort(), readdirSync('/sys/class/net').sort())
  assert.equal(await target.listDir('/longship/no/such/dir'), null)
  assert.equal(await target.isRoot(), process.getuid?.() === 0)
})

test('local target: collecting this machine gives sane facts', async () => {
  const { facts, errors } = await collectAll(target)
  assert.deepEqual(errors, [])
  assert.equal(facts.os?.hostname, os.hostname())
  assert.equal(facts.os?.kernel, os.release())
  assert.ok((facts.os?.uptimeSeconds ?? -1) >= 0)
  assert.equal(facts.memory?.totalBytes, os.totalmem())
  assert.equal(facts.cpu?.threads, os.cpus().length)
  assert.ok((facts.cpu?.cores ?? 0) >= 1 && (facts.cpu?.sockets ?? 0) >= 1)
  assert.ok((facts.nic?.length ?? 0) >= 1, 'at least one NIC')
  const ips = facts.nic?.flatMap((n) => [...(n.ipv4 ?? []), ...(n.ipv6 ?? [])]) ?? []
  const expected = Object.entries(os.networkInterfaces())
    .filter(([name]) => name !== 'lo' && !name.startsWith('veth'))
    .flatMap(([, addrs]) => (addrs ?? []).map((a) => a.cidr))
  assert.deepEqual(ips.sort(), expected.sort())
  assert.ok(facts.disk?.every((d) => d.sizeBytes > 0 && !/^(loop|zram|ram|sr)\d/.test(d.name)))
})
