import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import path from 'node:path'
import { connect, type ExecOptions, type SshConnection } from '../../server/ssh/runner.ts'
import { CommandError, SshError } from '../../server/ssh/errors.ts'
import { UnsafeValueError } from '../../server/ssh/shell-quote.ts'
import { sshdSkipReason, startSshd } from '../support/sshd.ts'
import { keySecret } from './fixtures.ts'

const skip = sshdSkipReason()

/** exec with the lines collected. */
async function collect(conn: SshConnection, command: string, opts: ExecOptions = {}) {
  const stdout: string[] = []
  const stderr: string[] = []
  const result = await conn.exec(command, { ...opts, onStdout: (line) => stdout.push(line), onStderr: (line) => stderr.push(line) })
  return { ...result, stdout, stderr }
}

test('exec and run on a loopback sshd', { skip }, async (t) => {
  const host = await startSshd(t)
  const conn = await connect(host, keySecret(host))
  t.after(() => conn.close())

  await t.test('streams stdout and stderr line by line, each in order, and returns the exit code', async () => {
    const result = await collect(conn, 'echo one; echo warn-1 >&2; echo two; echo warn-2 >&2; echo three; exit 3')
    assert.deepEqual(result, { code: 3, signal: null, stdout: ['one', 'two', 'three'], stderr: ['warn-1', 'warn-2'] })
  })

  await t.test('a succeeding command returns 0 and a failing one its own code', async () => {
    assert.equal((await collect(conn, 'true')).code, 0)
    assert.equal((await collect(conn, 'false')).code, 1)
    assert.equal((await collect(conn, 'exit 42')).code, 42)
  })

  await t.test('a command killed by a signal reports the signal and no code', async () => {
    assert.deepEqual(await collect(conn, 'kill -s KILL $$'), { code: null, signal: 'SIGKILL', stdout: [], stderr: [] })
  })

  await t.test('output without a trailing newline still arrives as a last line', async () => {
    const result = await collect(conn, "printf 'a\\nb'; printf 'err-no-newline' >&2")
    assert.deepEqual(result.stdout, ['a', 'b'])
    assert.deepEqual(result.stderr, ['err-no-newline'])
  })

  await t.test('empty lines are kept', async () => {
    assert.deepEqual((await collect(conn, "printf '\\n\\nx\\n\\n'")).stdout, ['', '', 'x', ''])
  })

  await t.test('100,000 lines arrive complete and in order', async () => {
    const { stdout, code } = await collect(conn, 'seq 1 100000')
    assert.equal(code, 0)
    assert.equal(stdout.length, 100_000)
    const wrong = stdout.findIndex((line, i) => line !== String(i + 1))
    assert.equal(wrong, -1, `line ${wrong + 1} is ${JSON.stringify(stdout[wrong])}`)
  })

  await t.test('multi-byte characters split across SSH packets arrive whole', async () => {
    const { stdout } = await collect(conn, "i=0; while [ $i -lt 10000 ]; do printf 'äö€𝄞'; i=$((i+1)); done; echo")
    assert.deepEqual(stdout, ['äö€𝄞'.repeat(10_000)])
  })

  await t.test('a multi-line hook script runs as one sh script, set -e included', async () => {
    const result = await collect(conn, 'set -e\necho before\nfalse\necho after\n')
    assert.deepEqual([result.code, result.stdout], [1, ['before']])
  })

  await t.test('the command gets no stdin: a reader sees end of file instead of hanging', async () => {
    assert.deepEqual((await collect(conn, 'cat; echo done')).stdout, ['done'])
  })

  await t.test('cwd runs the command in that directory, whatever characters its name has', async () => {
    const dir = path.join(host.remoteRoot, `it's a "dir" $(x)`)
    mkdirSync(dir)
    assert.deepEqual((await collect(conn, 'pwd', { cwd: dir })).stdout, [dir])
  })

  await t.test('a missing cwd fails the command before it runs', async () => {
    const result = await collect(conn, 'echo ran', { cwd: path.join(host.remoteRoot, 'missing') })
    assert.notEqual(result.code, 0)
    assert.deepEqual(result.stdout, [])
    assert.match(result.stderr.join('\n'), /missing/)
  })

  await t.test('a cwd with a line break or a leading dash is refused before anything is sent', async () => {
    await assert.rejects(conn.exec('pwd', { cwd: `${host.remoteRoot}\nx` }), UnsafeValueError)
    await assert.rejects(conn.exec('pwd', { cwd: '-P' }), UnsafeValueError)
  })

  await t.test('a callback that throws fails the call without ending the process', async () => {
    const boom = new Error('callback failed')
    await assert.rejects(
      conn.exec('echo x', {
        onStdout: () => {
          throw boom
        },
      }),
      boom,
    )
    assert.equal(await conn.run('echo still fine'), 'still fine\n')
  })

  await t.test('run returns stdout as text', async () => {
    assert.equal(await conn.run('printf "%s\\n" a b'), 'a\nb\n')
  })

  await t.test('run throws CommandError with the code and the end of stderr on failure', async () => {
    await assert.rejects(conn.run('echo partial; echo "no such thing" >&2; exit 7'), (err: unknown) => {
      assert.ok(err instanceof CommandError)
      assert.equal(err.code, 7)
      assert.match(err.stderr, /no such thing/)
      assert.match(err.message, /exited with 7: no such thing/)
      return true
    })
  })

  await t.test('run refuses more output than maxBytes instead of keeping it', async () => {
    await assert.rejects(conn.run('seq 1 1000', { maxBytes: 100 }), (err: unknown) => err instanceof SshError && /more than the 100 allowed/.test(err.message))
  })

  await t.test('commands run side by side on one connection', async () => {
    const outputs = await Promise.all(Array.from({ length: 5 }, (_, i) => conn.run(`sleep 0.2; echo ${i}`)))
    assert.deepEqual(outputs, Array.from({ length: 5 }, (_, i) => `${i}\n`))
  })
})

test('exec on a closed connection fails with a clear error', { skip }, async (t) => {
  const host = await startSshd(t)
  const conn = await connect(host, keySecret(host))
  conn.close()
  await assert.rejects(conn.exec('true'), (err: unknown) => err instanceof SshError && /closed/.test(err.message))
})
