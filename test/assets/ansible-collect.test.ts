import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { createAnsibleCollector, findAnsible } from '../../server/assets/ansible-collect.ts'
import { collectAll } from '../../server/assets/collectors/index.ts'
import { createAssetsService } from '../../server/assets/service.ts'
import { createLocalTarget } from '../../server/assets/targets/local.ts'
import { createCredentialsService } from '../../server/credentials/service.ts'
import { createServersRepository } from '../../server/servers/repository.ts'
import { buildApp } from '../../server/app.ts'
import { countRows, signIn, testConfig } from '../helper.ts'
import { ansibleSkipReason } from '../support/ansible.ts'
import { freePort, startSshds } from '../support/sshd.ts'
import { serversFor } from '../support/servers.ts'
import { recordCollectEvents } from './support/collect-events.ts'

const skip = ansibleSkipReason()
const tempDirs = () => readdirSync(tmpdir()).filter((d) => d.startsWith('longship-ansible-'))

test('Ansible mode with Debian\'s ansible against real loopback sshd servers', { skip, timeout: 240_000 }, async (t) => {
  // under CI=true a missing ansible is a failure, not a skip
  assert.ok(findAnsible(), 'ansible is not installed: apt-get install ansible')
  const hosts = await startSshds(t, 3)
  const config = await testConfig(t)
  const app = await buildApp(config, { logger: false })
  t.after(() => app.close())
  await app.ready()
  const credentials = createCredentialsService(app.knex, config.secretKey)
  const repo = createServersRepository(app.knex)
  const servers = await serversFor(app, config.secretKey, hosts)
  const keyId = servers[0]?.credential_id ?? null
  // nobody listens on its port, and its key is pinned already, so ansible itself finds it unreachable
  const down = await repo.create({ hostname: 'node-down', address: '127.0.0.1', port: await freePort(), username: 'root', credential_id: keyId, env: 'test', tags: [], notes: '' })
  await app.knex('servers').where({ id: down.id }).update({ host_key: hosts[0]?.hostPublicKey })
  const password = await credentials.create({ name: 'a password', kind: 'password', password: 'secret' })
  assert.ok(password.ok)
  const withPassword = await repo.create({ hostname: 'node-password', address: '127.0.0.1', port: hosts[0]?.port ?? 22, username: 'root', credential_id: password.credential.id, env: 'test', tags: [], notes: '' })
  const dirsBefore = tempDirs()

  await t.test('unpinned host keys are pinned by a first SSH connection, every reachable host is stored with mode ansible, live', async () => {
    const events = recordCollectEvents(t, app)
    const run = await app.assets.ansible.start(null, 'test')
    assert.equal(run.total, 5)
    assert.ok(run.id > 100_000, 'numbered apart from SSH runs')
    await app.assets.ansible.settled(run.id)
    assert.ok(run.finishedAt)
    assert.equal(run.done, 5)
    assert.equal(run.failed, 2)
    const byName = new Map(run.hosts.map((h) => [h.hostname, h]))
    for (const s of servers) assert.equal(byName.get(s.hostname)?.status, 'created', `${s.hostname}: ${byName.get(s.hostname)?.message}`)
    assert.equal(byName.get('node-down')?.status, 'failed')
    assert.match(byName.get('node-down')?.message ?? '', /unreachable/i)
    assert.equal(byName.get('node-password')?.status, 'failed')
    assert.match(byName.get('node-password')?.message ?? '', /needs a key credential/)

    for (const [i, s] of servers.entries()) assert.equal((await repo.findById(s.id))?.host_key_fingerprint, hosts[i]?.hostKeyFingerprint)
    assert.equal((await repo.findById(withPassword.id))?.host_key_fingerprint, null)
    const assets = await app.knex('assets').orderBy('hostname')
    assert.deepEqual(
      assets.map((a: Record<string, unknown>) => [a.hostname, Number(a.server_id), a.mode]),
      servers.map((s) => [s.hostname, s.id, 'ansible']),
    )
    // loopback hosts are this machine: the machine-id hash lines up with what the collectors compute
    const local = await collectAll(createLocalTarget())
    const stored = await app.assets.service.repo.findByServerId(servers[0]?.id as number)
    assert.equal(stored?.facts.board?.machineIdHash, local.facts.board?.machineIdHash)
    assert.equal(stored?.facts.os?.kernel, local.facts.os?.kernel)
    assert.equal(stored?.facts.cpu?.threads, local.facts.cpu?.threads)
    assert.deepEqual(stored?.facts.disk?.map((d) => [d.name, d.sizeBytes]), local.facts.disk?.map((d) => [d.name, d.sizeBytes]))
    assert.deepEqual(await app.knex('asset_errors').where({ kind: 'host', source: 'ansible' }).orderBy('hostname').pluck('hostname'), ['node-down', 'node-password'])

    // progress went out live: the start, each host running and ending, and the end
    assert.equal(events[0]?.host, null)
    assert.equal(events.at(-1)?.finished, true)
    assert.equal(events.filter((e) => e.host?.status === 'running').length, 4, 'every host in the inventory')
    assert.equal(events.filter((e) => e.host && e.host.status !== 'running').length, 5)
    assert.deepEqual(tempDirs(), dirsBefore, 'the inventory and its keys are gone')
  })

  await t.test('after an SSH collection, an Ansible one of the same hosts is the same asset with nothing changed', async () => {
    const sshRun = await app.assets.ssh.start(servers.map((s) => s.id), 'test')
    await app.assets.ssh.settled(sshRun.id)
    assert.deepEqual(sshRun.hosts.map((h) => h.status).filter((s) => s === 'failed'), [], JSON.stringify(sshRun.hosts))
    const changesBefore = await countRows(app, 'asset_changes')
    const run = await app.assets.ansible.start(servers.map((s) => s.id), 'test')
    await app.assets.ansible.settled(run.id)
    assert.deepEqual(run.hosts.map((h) => h.status), ['unchanged', 'unchanged', 'unchanged'], JSON.stringify(run.hosts))
    assert.equal(await countRows(app, 'asset_changes'), changesBefore)
    assert.equal(await countRows(app, 'assets'), 3)
  })

  await t.test('"Collect all with Ansible" on /assets starts a run the page and GET /assets/collect/:id show; without ansible the button says so', async () => {
    const deployer = await signIn(app, 'deployer')
    let page = await deployer.get('/assets')
    assert.match(page.body, /<button type="submit">Collect all with Ansible<\/button>/)
    const res = await deployer.form('/assets/collect', { mode: 'ansible' })
    assert.equal(res.statusCode, 302)
    const run = app.assets.ansible.latest()
    assert.ok(run)
    await app.assets.ansible.settled(run.id)
    assert.equal((await deployer.get(`/assets/collect/${run.id}`)).json().total, 5)
    page = await deployer.get('/assets')
    assert.match(page.body, new RegExp(`run ${run.id}`))
    assert.match(page.body, /5 of 5 done, 2 failed — finished/)

    const path = process.env.PATH
    process.env.PATH = '/nonexistent'
    try {
      page = await deployer.get('/assets')
      assert.match(page.body, /<button type="submit" disabled[^>]*>Collect all with Ansible \(not installed\)<\/button>/)
      assert.equal((await deployer.form('/assets/collect', { mode: 'ansible' })).statusCode, 409)
    } finally {
      process.env.PATH = path
    }
  })

  await t.test('stopping (app close) ends a running ansible and removes its temp dir', async () => {
    const collector = createAnsibleCollector({
      knex: app.knex,
      service: createAssetsService(app.knex),
      secretKey: config.secretKey,
      connectTimeoutMs: 5000,
      config: { ...app.assets.config, concurrency: 1 },
    })
    const run = await collector.start(servers.map((s) => s.id), 'test')
    const until = Date.now() + 30_000
    while (!run.hosts.some((h) => h.status === 'running')) {
      assert.ok(Date.now() < until, 'ansible never started')
      await new Promise((r) => setTimeout(r, 20))
    }
    await collector.stop()
    assert.ok(run.finishedAt)
    assert.equal(run.done, 3)
    assert.ok(run.hosts.some((h) => h.status === 'failed' && /shutting down/.test(h.message ?? '')), JSON.stringify(run.hosts))
    assert.deepEqual(tempDirs(), dirsBefore)
  })
})
