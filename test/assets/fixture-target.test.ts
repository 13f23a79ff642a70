import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { CommandFailedError } from '../../server/assets/target.ts'
import { createFixtureTarget } from '../../server/assets/targets/fixture.ts'
import { tempDir } from '../helper.ts'

test('fixture target: recorded answers, failures, timeouts, missing commands and files', async (t) => {
  const dir = tempDir(t, 'fixture')
  mkdirSync(path.join(dir, 'fs/etc'), { recursive: true })
  mkdirSync(path.join(dir, 'commands'))
  writeFileSync(path.join(dir, 'fs/etc/hostname'), 'box\n')
  writeFileSync(path.join(dir, 'commands/long.txt'), 'from a file\n')
  writeFileSync(
    path.join(dir, 'target.json'),
    JSON.stringify({
      isRoot: false,
      commands: { ok: { stdout: 'yes\n' }, file: { stdoutFile: 'commands/long.txt' }, bad: { code: 2, stderr: 'no way\n' }, slow: { timeout: true } },
      dirs: { '/sys/block': ['sda'] },
    }),
  )
  const target = await createFixtureTarget(dir)

  assert.equal(await target.run('ok'), 'yes\n')
  assert.equal(await target.run('file'), 'from a file\n')
  await assert.rejects(target.run('bad'), (err) => err instanceof CommandFailedError && err.code === 2 && /exited with 2: no way/.test(err.message))
  await assert.rejects(target.run('slow'), (err) => err instanceof CommandFailedError && err.timedOut)
  await assert.rejects(target.run('dmidecode -t 17'), (err) => err instanceof CommandFailedError && err.code === 127 && /not installed/.test(err.message))
  assert.equal(await target.readFile('/etc/hostname'), 'box\n')
  assert.equal(await target.readFile('/etc/missing'), null)
  assert.equal(await target.readFile('/../../../../../../etc/passwd'), null, 'a path cannot leave the fixture')
  assert.deepEqual(await target.listDir('/sys/block'), ['sda'])
  assert.deepEqual(await target.listDir('/etc'), ['hostname'])
  assert.equal(await target.listDir('/nope'), null)
  assert.equal(await target.isRoot(), false)
})
