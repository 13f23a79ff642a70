import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { test } from 'node:test'
import { createServersRepository } from '../../server/servers/repository.ts'
import { ProjectLockedError } from '../../server/releases/repository.ts'
import { deployFixture, fileOn } from './fixture.ts'
import { sshdSkipReason } from '../support/sshd.ts'

const skip = sshdSkipReason()

async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs = 20_000): Promise<T> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const value = await fn()
    if (value) return value
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

test('a deploy to three hosts puts the files, REVISION and an atomic current symlink on each, hooks in order with their output in the log', { skip }, async (t) => {
  const f = await deployFixture(t, {
    project: {
      hook_before_download: 'echo "before download in $(basename "$PWD")"; ls | wc -l',
      hook_after_download: 'echo "built $LONGSHIP_REF" > BUILD.txt; echo after download; echo warning >&2',
      hook_before_deploy: 'echo "before deploy $LONGSHIP_RELEASE_ID" >> "$HOME/hooks.log"',
      hook_after_deploy: 'echo "after deploy in $PWD" >> "$HOME/hooks.log"; cat REVISION',
    },
  })
  const commit = await f.repo.commit('second version', { 'index.html': '<h1>v2</h1>\n' })
  await f.repo.tag('v2.0.0')
  const release = await f.deploy('v2.0.0')
  assert.equal(release.status, 'success', release.error ?? '')
  assert.equal(release.commit, commit)
  for (const host of f.hosts) {
    assert.equal(f.currentOn(host), release.id)
    assert.equal(fileOn(f, host, 'current/index.html'), '<h1>v2</h1>\n')
    assert.equal(fileOn(f, host, 'current/app/main.txt'), 'one\n')
    assert.equal(fileOn(f, host, 'current/BUILD.txt'), 'built v2.0.0\n')
    assert.equal(fileOn(f, host, 'current/REVISION'), `${commit}\n`)
    const hooks = fileOn({ ...f, deployPath: () => path.join(host.dir, 'home') }, host, 'hooks.log')
    assert.equal(hooks, `before deploy ${release.id}\nafter deploy in ${f.deployPath(host)}/releases/${release.id}\n`)
    // no temporary link or uploaded archive left behind
    assert.deepEqual(execFileSync('ls', ['-A', f.deployPath(host)], { encoding: 'utf8' }).trim().split('\n').sort(), ['current', 'releases'])
    assert.deepEqual(execFileSync('ls', ['-A', path.join(f.deployPath(host), 'releases')], { encoding: 'utf8' }).trim(), String(release.id))
  }
  const log = await f.logOf(release.id)
  const at = (line: string) => {
    const i = log.indexOf(line)
    assert.ok(i >= 0, `missing log line ${line}\n${log.join('\n')}`)
    return i
  }
  assert.ok(at('|stdout|before download in src') < at('|stdout|after download'))
  assert.ok(at('|stdout|after download') < at('|stderr|warning'))
  for (const name of ['web1', 'web2', 'web3']) at(`${name}|stdout|${commit}`)
  const hosts = await f.app.releases.repo.hosts(release.id)
  assert.deepEqual(
    hosts.map((h) => [h.hostname, h.status]),
    [
      ['web1', 'success'],
      ['web2', 'success'],
      ['web3', 'success'],
    ],
  )
  // the host keys were pinned on first use
  const pinned = await createServersRepository(f.app.knex).forSsh(f.servers.map((s) => s.id))
  assert.deepEqual(
    pinned.map((s) => s.host_key),
    f.hosts.map((h) => h.hostPublicKey.split(' ').slice(0, 2).join(' ')),
  )
  assert.equal(await f.app.releases.repo.lockHolder(f.project.id), null)
  // the step events colour every node: all passed
  const steps = await f.app.releases.repo.stepEvents(release.id)
  const final = new Map(steps.map((e) => [`${e.host ?? ''}|${e.stream}`, e.body]))
  for (const step of ['fetch', 'build', 'pack']) assert.equal(final.get(`|${step}`), 'ok')
  for (const step of ['connect', 'before_deploy', 'upload', 'unpack', 'switch', 'after_deploy', 'cleanup']) assert.equal(final.get(`web2|${step}`), 'ok', step)
})

test('a failing hook fails its host with the exit code in the log; stop-on-failure skips the rest, go-on deploys them', { skip }, async (t) => {
  const f = await deployFixture(t, {
    project: { rollout: 'serial', hook_before_deploy: 'if [ -f "$HOME/fail" ]; then echo "refusing here" >&2; exit 3; fi\necho fine' },
  })
  writeFileSync(path.join(f.hosts[1]!.dir, 'home', 'fail'), '')
  const stopped = await f.deploy('main')
  assert.equal(stopped.status, 'failed')
  assert.match(stopped.error ?? '', /1 of 3 host\(s\) failed/)
  let hosts = await f.app.releases.repo.hosts(stopped.id)
  assert.deepEqual(
    hosts.map((h) => h.status),
    ['success', 'failed', 'skipped'],
  )
  assert.match(hosts[1]!.error ?? '', /the before deploy hook exited with 3/)
  const log = await f.logOf(stopped.id)
  assert.ok(log.includes('web2|stderr|refusing here'))
  assert.ok(log.some((l) => /^web2\|stderr\|web2 failed: the before deploy hook exited with 3$/.test(l)), log.join('\n'))
  assert.equal(f.currentOn(f.hosts[2]!), null)

  await f.update({ stop_on_failure: false })
  const goOn = await f.deploy('main')
  assert.equal(goOn.status, 'failed')
  hosts = await f.app.releases.repo.hosts(goOn.id)
  assert.deepEqual(
    hosts.map((h) => h.status),
    ['success', 'failed', 'success'],
  )
  assert.equal(f.currentOn(f.hosts[2]!), goOn.id)
  assert.equal(await f.app.releases.repo.lockHolder(f.project.id), null)
})

test('batches of 2 run in 2 waves: the third host starts after the first two finished', { skip }, async (t) => {
  const f = await deployFixture(t, { project: { rollout: 'batch', batch_size: 2, hook_before_deploy: 'sleep 0.3' } })
  const release = await f.deploy('main')
  assert.equal(release.status, 'success', release.error ?? '')
  const hosts = await f.app.releases.repo.hosts(release.id)
  const firstWaveEnd = Math.max(hosts[0]!.finished_at!.getTime(), hosts[1]!.finished_at!.getTime())
  assert.ok(hosts[2]!.started_at!.getTime() >= firstWaveEnd, 'the second wave started before the first ended')
  // the first two overlapped
  assert.ok(hosts[1]!.started_at!.getTime() < hosts[0]!.finished_at!.getTime())
  const log = await f.logOf(release.id)
  assert.ok(log.includes('|info|wave 1: web1, web2'))
  assert.ok(log.includes('|info|wave 2: web3'))
})

test('a changed host key fails that host with a clear message; the others deploy', { skip }, async (t) => {
  const f = await deployFixture(t, { project: { stop_on_failure: false } })
  assert.equal((await f.deploy('main')).status, 'success')
  await f.hosts[1]!.restartWithNewHostKey()
  const release = await f.deploy('main')
  assert.equal(release.status, 'failed')
  const hosts = await f.app.releases.repo.hosts(release.id)
  assert.deepEqual(
    hosts.map((h) => h.status),
    ['success', 'failed', 'success'],
  )
  assert.match(hosts[1]!.error ?? '', /the host key of 127\.0\.0\.1:\d+ changed \(expected SHA256:.+, got SHA256:.+\); not connecting/)
})

test('a closed port, a server that never answers and a wrong key each fail their host quickly with their own message', { skip }, async (t) => {
  const f = await deployFixture(t, { hosts: 2, env: { SSH_CONNECT_TIMEOUT_S: '2' }, project: { stop_on_failure: false } })
  // a port nothing listens on, and a listener that accepts and never says a word
  const closed = net.createServer()
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r))
  const closedPort = (closed.address() as net.AddressInfo).port
  await new Promise<void>((r) => closed.close(() => r()))
  const sockets = new Set<net.Socket>()
  const silent = net.createServer((s) => sockets.add(s))
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r))
  t.after(() => {
    for (const s of sockets) s.destroy()
    silent.close()
  })
  const servers = createServersRepository(f.app.knex)
  const [one, two] = f.servers
  const refused = await servers.create({ hostname: 'refused', address: '127.0.0.1', port: closedPort, username: 'root', credential_id: one!.credential_id, env: 'test', tags: [], notes: '' })
  const mute = await servers.create({ hostname: 'mute', address: '127.0.0.1', port: (silent.address() as net.AddressInfo).port, username: 'root', credential_id: one!.credential_id, env: 'test', tags: [], notes: '' })
  // web2 is reached with web1's key: authorized nowhere there
  await servers.update(two!.id, { credential_id: one!.credential_id })
  await f.update({ server_ids: [one!.id, two!.id, refused.id, mute.id] })
  const started = Date.now()
  const release = await f.deploy('main')
  assert.ok(Date.now() - started < 15_000, `took ${Date.now() - started} ms`)
  const byHost = new Map((await f.app.releases.repo.hosts(release.id)).map((h) => [h.hostname, h]))
  assert.equal(byHost.get('web1')!.status, 'success')
  assert.match(byHost.get('web2')!.error ?? '', /^authentication failed for \S+@127\.0\.0\.1:\d+/)
  assert.match(byHost.get('refused')!.error ?? '', /connection refused by 127\.0\.0\.1:\d+/)
  assert.match(byHost.get('mute')!.error ?? '', /connecting to 127\.0\.0\.1:\d+ timed out after 2 s/)
  assert.equal(release.status, 'failed')
})

test('cancel during a sleeping remote hook kills it, skips the hosts not started and frees the lock; a second start meanwhile is refused', { skip }, async (t) => {
  const marker = `sleep 29.${process.pid}`
  const f = await deployFixture(t, { hosts: 2, project: { rollout: 'serial', hook_before_deploy: `echo going to sleep\n${marker}\necho never` } })
  const release = await f.app.releases.start(f.admin, f.project.id, 'main')
  await waitFor('the hook to start', async () => (await f.logOf(release.id)).includes('web1|stdout|going to sleep'))
  await waitFor('the sleep to run', () => {
    try {
      return execFileSync('pgrep', ['-f', marker], { encoding: 'utf8' }).trim()
    } catch {
      return null
    }
  })
  await assert.rejects(f.app.releases.start(f.admin, f.project.id, 'main'), (err: unknown) => {
    assert.ok(err instanceof ProjectLockedError)
    assert.equal(err.holder.release_id, release.id)
    assert.equal(err.holder.username, f.admin.username)
    return true
  })
  const asked = Date.now()
  await f.app.releases.cancel(f.admin, release.id)
  const done = await f.settled(release.id)
  assert.ok(Date.now() - asked < 10_000)
  assert.equal(done.status, 'cancelled')
  const hosts = await f.app.releases.repo.hosts(release.id)
  assert.deepEqual(
    hosts.map((h) => h.status),
    ['cancelled', 'cancelled'],
  )
  assert.ok(!(await f.logOf(release.id)).includes('web1|stdout|never'))
  await waitFor('the remote sleep to be gone', () => {
    try {
      execFileSync('pgrep', ['-f', marker])
      return false
    } catch {
      return true
    }
  }, 5_000)
  assert.equal(await f.app.releases.repo.lockHolder(f.project.id), null)
  await f.update({ hook_before_deploy: '' })
  assert.equal((await f.deploy('main')).status, 'success')
})

test('cancel during a console hook kills its whole process group', { skip }, async (t) => {
  const marker = `sleep 28.${process.pid}`
  const f = await deployFixture(t, { hosts: 1, project: { hook_after_download: `(${marker}) &\n${marker}` } })
  const release = await f.app.releases.start(f.admin, f.project.id, 'main')
  await waitFor('the build sleep', () => {
    try {
      return execFileSync('pgrep', ['-f', marker], { encoding: 'utf8' }).trim().split('\n').length >= 2
    } catch {
      return false
    }
  })
  await f.app.releases.cancel(f.admin, release.id)
  assert.equal((await f.settled(release.id)).status, 'cancelled')
  await waitFor('every sleep to be gone', () => {
    try {
      execFileSync('pgrep', ['-f', marker])
      return false
    } catch {
      return true
    }
  }, 8_000)
  const steps = await f.app.releases.repo.stepEvents(release.id)
  assert.equal(steps.filter((e) => e.stream === 'build').at(-1)?.body, 'cancelled')
  assert.equal(f.currentOn(f.hosts[0]!), null)
})

test('keep-N removes old releases on every host; rollback switches current back to a kept release, as a release of its own', { skip }, async (t) => {
  const f = await deployFixture(t, { hosts: 2, project: { keep_releases: 2 } })
  const ids: number[] = []
  const commits: string[] = []
  for (const n of [1, 2, 3]) {
    commits.push(await f.repo.commit(`v${n}`, { 'index.html': `<h1>v${n}</h1>\n` }))
    const release = await f.deploy('main')
    assert.equal(release.status, 'success', release.error ?? '')
    ids.push(release.id)
  }
  for (const host of f.hosts) {
    assert.deepEqual(f.releasesOn(host), ids.slice(1))
    assert.equal(f.currentOn(host), ids[2])
  }
  const rollback = await f.app.releases.rollback(f.admin, f.project.id, ids[1]!)
  const done = await f.settled(rollback.id)
  assert.equal(done.status, 'success', done.error ?? '')
  assert.equal(done.kind, 'rollback')
  assert.equal(done.rollback_of, ids[1])
  for (const host of f.hosts) {
    assert.equal(f.currentOn(host), ids[1])
    assert.equal(fileOn(f, host, 'current/index.html'), '<h1>v2</h1>\n')
    assert.equal(fileOn(f, host, 'current/REVISION'), `${commits[1]}\n`)
    // a rollback deletes nothing: the release rolled away from stays
    assert.deepEqual(f.releasesOn(host), ids.slice(1))
  }
  // an old release that keep-N removed cannot be a rollback target
  await assert.rejects(f.app.releases.rollback(f.admin, f.project.id, ids[0]!), /is not one of the last 2 successful releases/)
  // a server added later gets the kept artifact unpacked on rollback
  const newcomer = f.hosts[1]!
  execFileSync('rm', ['-rf', path.join(f.deployPath(newcomer), 'releases', String(ids[2]))])
  const again = await f.settled((await f.app.releases.rollback(f.admin, f.project.id, ids[2]!)).id)
  assert.equal(again.status, 'success', again.error ?? '')
  assert.equal(fileOn(f, newcomer, 'current/index.html'), '<h1>v3</h1>\n')
})

test('hostile refs are refused before anything runs', { skip }, async (t) => {
  const f = await deployFixture(t, { hosts: 1 })
  const target = path.join(f.config.dataDir, 'pwned')
  for (const ref of [`--upload-pack=touch ${target}`, `$(touch ${target})`, `main;touch ${target}`, '`touch x`', '-x', 'a b', '../x', 'x..y', '']) {
    await assert.rejects(f.app.releases.start(f.admin, f.project.id, ref), (err: Error & { statusCode?: number }) => err.statusCode === 400, ref)
  }
  assert.equal(existsSync(target), false)
  assert.equal((await f.app.releases.repo.list({ q: '', sort: 'created_at', dir: 'desc', page: 1, perPage: 50 })).total, 0)
})

test('an unknown ref fails the release at the fetch step with a message naming it', { skip }, async (t) => {
  const f = await deployFixture(t, { hosts: 1 })
  const release = await f.deploy('no-such-branch')
  assert.equal(release.status, 'failed')
  assert.match(release.error ?? '', /no-such-branch/)
  const steps = await f.app.releases.repo.stepEvents(release.id)
  assert.equal(steps.find((e) => e.stream === 'fetch' && e.body === 'failed')?.stream, 'fetch')
  assert.equal(await f.app.releases.repo.lockHolder(f.project.id), null)
})

test('closing the console mid-release marks it interrupted and frees the lock', { skip }, async (t) => {
  const marker = `sleep 27.${process.pid}`
  const f = await deployFixture(t, { hosts: 1, project: { hook_before_deploy: marker } })
  const release = await f.app.releases.start(f.admin, f.project.id, 'main')
  await waitFor('the hook', async () => (await f.app.releases.repo.hosts(release.id))[0]?.status === 'running' && (await f.app.releases.repo.stepEvents(release.id)).some((e) => e.stream === 'before_deploy'))
  await f.app.close()
  // the app's database is closed now: read through a fresh app on the same config
  const { buildApp } = await import('../../server/app.ts')
  const again = await buildApp(f.config, { logger: false })
  t.after(() => again.close())
  await again.ready()
  const after = await again.releases.repo.findById(release.id)
  assert.equal(after?.status, 'interrupted')
  assert.equal(await again.releases.repo.lockHolder(f.project.id), null)
  const log = (await again.releases.repo.eventsAfter(release.id, 0, null, 10_000)).map((e) => e.body)
  assert.ok(log.some((l) => l.includes('the console was shut down')), log.join('\n'))
})

test('two starts at once (a double click): one release runs, the other is refused, and the first is left alone', { skip }, async (t) => {
  const f = await deployFixture(t, { hosts: 1 })
  const results = await Promise.allSettled([f.app.releases.start(f.admin, f.project.id, 'main'), f.app.releases.start(f.admin, f.project.id, 'main')])
  const started = results.filter((r) => r.status === 'fulfilled')
  const refused = results.filter((r) => r.status === 'rejected')
  assert.equal(started.length, 1)
  assert.equal(refused.length, 1)
  assert.ok((refused[0] as PromiseRejectedResult).reason instanceof ProjectLockedError)
  const release = await f.settled((started[0] as PromiseFulfilledResult<{ id: number }>).value.id)
  assert.equal(release.status, 'success', release.error ?? '')
})
