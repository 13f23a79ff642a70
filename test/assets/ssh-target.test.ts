import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { collectAll, type Facts } from '../../server/assets/collectors/index.ts'
import { cpuCollector } from '../../server/assets/collectors/cpu.ts'
import { CommandFailedError } from '../../server/assets/target.ts'
import { createLocalTarget } from '../../server/assets/targets/local.ts'
import { createSshTarget } from '../../server/assets/targets/ssh.ts'
import { connect, type RunOptions, type SshConnection } from '../../server/ssh/runner.ts'
import { sshdSkipReason, startSshd } from '../support/sshd.ts'

const skip = sshdSkipReason()

/** The connection's run, counted: each call is one SSH exec round trip. */
function counting(conn: SshConnection, fail?: (command: string) => boolean) {
  const commands: string[] = []
  return {
    commands,
    run(command: string, opts?: RunOptions) {
      commands.push(command)
      if (fail?.(command)) return Promise.reject(new Error('simulated: the batch failed'))
      return conn.run(command, opts)
    },
  }
}

/** Uptime moves between two collections; everything else on one machine must not. */
function stable(facts: Facts): Facts {
  return { ...facts, os: facts.os && { ...facts.os, uptimeSeconds: null } }
}

test('SSH target on a loopback sshd', { skip }, async (t) => {
  const host = await startSshd(t)
  const conn = await connect(host, { kind: 'key', privateKey: host.privateKey })
  t.after(() => conn.close())
  const local = await collectAll(createLocalTarget())

  await t.test('collects every fact group in one round trip, the same facts as the agent would locally', async () => {
    const counted = counting(conn)
    const { facts, errors } = await collectAll(createSshTarget(counted))
    assert.deepEqual(errors, [])
    assert.equal(counted.commands.length, 1, `one exec, not: ${counted.commands.map((c) => c.slice(0, 60)).join(' | ')}`)
    assert.deepEqual(stable(facts), stable(local.facts))
  })

  await t.test('a failed batch is an error row, and every read then takes its own round trip with the same result', async () => {
    const counted = counting(conn, (command) => command.includes('longship-batch-'))
    const { facts, errors } = await collectAll(createSshTarget(counted))
    assert.deepEqual(
      errors.map((e) => [e.collector, e.message]),
      [['prefetch', 'simulated: the batch failed']],
    )
    assert.deepEqual(stable(facts), stable(local.facts))
    assert.ok(counted.commands.length > 6, `${counted.commands.length} execs without the batch`)
  })

  await t.test('without prefetch a collector still works, reading with cat', async () => {
    assert.deepEqual(await cpuCollector.collect(createSshTarget(conn)), local.facts.cpu)
  })

  await t.test('prefetched file contents are exact: no trailing newline, blank lines, empty files, odd names', async () => {
    const root = host.remoteRoot
    const contents: Record<string, string> = { plain: 'no newline', blank: 'x\n\n\n', empty: '', "it's a file": 'quoted name\n', fake: '\nlongship-batch-0000 F /etc/passwd\nforged\n' }
    for (const [name, content] of Object.entries(contents)) writeFileSync(path.join(root, name), content)
    const counted = counting(conn)
    const target = createSshTarget(counted)
    await target.prefetch?.({ files: [`${root}/*`, '/longship/none/*/x'], dirs: [root, '/longship/no-dir'] })
    for (const [name, content] of Object.entries(contents)) assert.equal(await target.readFile(path.join(root, name)), content, name)
    assert.equal(await target.readFile(`${root}/not-there`), null)
    assert.equal(await target.readFile('/longship/none/a/x'), null)
    assert.deepEqual((await target.listDir(root))?.sort(), Object.keys(contents).sort())
    assert.equal(await target.listDir('/longship/no-dir'), null)
    assert.equal(await target.isRoot(), process.getuid?.() === 0)
    assert.equal(counted.commands.length, 1, 'all answered from the batch')
    assert.equal(await target.readFile('/proc/version') === null, false, 'a path nobody declared is read live')
    assert.equal(counted.commands.length, 2)
  })

  await t.test('prefetched /sys attributes read by the shell itself match the local reads, refused ones (a down link\'s speed) included', async () => {
    const localTarget = createLocalTarget()
    const patterns = ['/sys/class/net/*/speed', '/sys/class/net/*/address', '/sys/block/*/size', '/sys/block/*/serial', '/sys/block/*/queue/rotational']
    const target = createSshTarget(conn)
    await target.prefetch?.({ files: patterns })
    let compared = 0
    for (const net of readdirSync('/sys/class/net')) {
      for (const file of [`/sys/class/net/${net}/speed`, `/sys/class/net/${net}/address`]) {
        assert.equal(await target.readFile(file), await localTarget.readFile(file), file)
        compared++
      }
    }
    for (const disk of readdirSync('/sys/block')) {
      for (const file of ['size', 'serial', 'queue/rotational'].map((f) => `/sys/block/${disk}/${f}`)) {
        assert.equal(await target.readFile(file), await localTarget.readFile(file), file)
        compared++
      }
    }
    assert.ok(compared > 0)
  })

  await t.test('prefetched commands keep their stdout, exit status and stderr; a slow one times out alone', async () => {
    const counted = counting(conn)
    const target = createSshTarget(counted)
    await target.prefetch?.({
      commands: [{ command: "printf 'out\\n\\n'" }, { command: 'echo bad >&2; exit 4' }, { command: 'sleep 5', timeoutMs: 500 }, { command: 'longship-no-such-command' }],
    })
    assert.equal(await target.run("printf 'out\\n\\n'"), 'out\n\n')
    await assert.rejects(target.run('echo bad >&2; exit 4'), (err) => err instanceof CommandFailedError && err.code === 4 && err.stderr === 'bad\n')
    await assert.rejects(target.run('sleep 5'), (err) => err instanceof CommandFailedError && err.timedOut)
    await assert.rejects(target.run('longship-no-such-command'), (err) => err instanceof CommandFailedError && err.code === 127)
    assert.equal(counted.commands.length, 1)
  })

  await t.test('live calls: a failing command rejects with its status, a missing file or directory is null', async () => {
    const target = createSshTarget(conn)
    await assert.rejects(target.run('exit 5'), (err) => err instanceof CommandFailedError && err.code === 5)
    await assert.rejects(target.run('sleep 5', { timeoutMs: 300 }), (err) => err instanceof CommandFailedError && err.timedOut)
    assert.equal(await target.readFile('/longship/no/such/file'), null)
    assert.equal(await target.listDir('/longship/no/such/dir'), null)
    assert.equal(await target.readFile("/tmp/it's'; echo pwned; '"), null, 'a path is quoted, never code')
  })
})
