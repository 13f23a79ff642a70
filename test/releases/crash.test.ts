import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import path from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { buildApp } from '../../server/app.ts'
import { loadConfig } from '../../server/config.ts'
import { createUsersRepository } from '../../server/users/repository.ts'
import { createTestDatabase } from '../helper.ts'
import { freePort, sshdSkipReason } from '../support/sshd.ts'
import { deployFixture } from './fixture.ts'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const skip = sshdSkipReason()

test('a console killed mid-release (SIGKILL): the next start marks the release interrupted and frees the lock', { skip, timeout: 120_000 }, async (t) => {
  const marker = `sleep 26.${process.pid}`
  t.after(() => {
    try {
      execFileSync('pkill', ['-f', marker])
    } catch {
      // already gone
    }
  })
  const db = await createTestDatabase(t)
  const env = { LOG_LEVEL: 'silent', ...db.env }
  const config = loadConfig(env)
  // the servers, repository and project, set up through an app that is then closed
  const f = await deployFixture(t, { hosts: 1, config, project: { hook_before_deploy: `echo sleeping; ${marker}` } })
  const { token } = await createUsersRepository(f.app.knex).createToken(f.admin.id, 'ci')
  await f.app.close()

  const port = await freePort()
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const exited = new Promise((resolve) => child.once('exit', resolve))
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  const base = `http://127.0.0.1:${port}`
  const headers = { authorization: `Bearer ${token}`, accept: 'application/json', 'content-type': 'application/json' }
  for (let i = 0; ; i++) {
    const up = await fetch(`${base}/healthz`).then((r) => r.ok, () => false)
    if (up) break
    assert.ok(i < 300, `the console did not start: ${stderr}`)
    await new Promise((r) => setTimeout(r, 100))
  }
  const started = await fetch(`${base}/api/projects/${f.project.id}/releases`, { method: 'POST', headers, body: JSON.stringify({ ref: 'main' }) })
  assert.equal(started.status, 201, await started.clone().text())
  const id = ((await started.json()) as { release: { id: number } }).release.id
  for (let i = 0; ; i++) {
    const events = (await (await fetch(`${base}/api/releases/${id}/events?after=0&limit=5000`, { headers })).json()) as { events: Array<{ body: string }> }
    if (events.events.some((e) => e.body === 'sleeping')) break
    assert.ok(i < 300, 'the hook never started')
    await new Promise((r) => setTimeout(r, 100))
  }
  child.kill('SIGKILL')
  await exited

  // nothing ran the release's end: it still says running and holds the lock
  const again = await buildApp(config, { logger: false })
  t.after(() => again.close())
  assert.equal((await again.releases.repo.findById(id))?.status, 'running')
  assert.equal((await again.releases.repo.lockHolder(f.project.id))?.release_id, id)
  await again.ready()
  const after = await again.releases.repo.findById(id)
  assert.equal(after?.status, 'interrupted')
  assert.match(after?.error ?? '', /the console stopped while this release was running/)
  assert.equal(await again.releases.repo.lockHolder(f.project.id), null)
  const log = await again.releases.repo.eventsAfter(id, 0, null, 10_000)
  assert.equal(log.at(-1)?.kind, 'status')
  assert.equal(log.at(-1)?.body, 'interrupted')
  assert.ok(log.some((e) => e.kind === 'log' && /the console stopped while this release was running/.test(e.body)))
  // and the project takes a new release again
  const next = await again.releases.start(f.admin, f.project.id, 'main')
  assert.notEqual(next.id, id)
  await again.releases.cancel(f.admin, next.id)
  await again.releases.settled(next.id)
})
