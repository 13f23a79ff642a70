import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createAssetsService } from '../../server/assets/service.ts'
import { createSshCollector } from '../../server/assets/ssh-collect.ts'
import { collectorNames } from '../../server/assets/collectors/index.ts'
import { createServersRepository } from '../../server/servers/repository.ts'
import { countRows, signIn, testConfig } from '../helper.ts'
import { buildApp } from '../../server/app.ts'
import { freePort, sshdSkipReason, startSshds } from '../support/sshd.ts'
import { serversFor } from '../support/servers.ts'
import { recordCollectEvents } from './support/collect-events.ts'

const skip = sshdSkipReason()

test('SSH mode against real loopback sshd servers', { skip, timeout: 180_000 }, async (t) => {
  const hosts = await startSshds(t, 5)
  const config = await testConfig(t)
  const app = await buildApp(config, { logger: false })
  t.after(() => app.close())
  await app.ready()
  const repo = createServersRepository(app.knex)
  const servers = await serversFor(app, config.secretKey, hosts)
  // a server whose port nobody listens on: the host that is down
  const down = await repo.create({ hostname: 'node-down', address: '127.0.0.1', port: await freePort(), username: 'root', credential_id: servers[0]?.credential_id ?? null, env: 'test', tags: [], notes: '' })

  await t.test('a pool of 2 collects every host at most 2 at a time; the host that is down is an error, the others are stored', async () => {
    const events = recordCollectEvents(t, app)
    const collector = createSshCollector({
      knex: app.knex,
      hub: app.hub,
      service: createAssetsService(app.knex, app.hub),
      secretKey: config.secretKey,
      connectTimeoutMs: 5000,
      config: { concurrency: 2, timeoutMs: 60_000, collectors: collectorNames, everyMs: 0 },
    })
    const run = await collector.start(null, 'test')
    assert.equal(run.total, 6)
    await collector.settled(run.id)
    assert.equal(run.maxActive, 2, 'the pool ran two at once and never more')
    assert.equal(run.done, 6)
    assert.equal(run.failed, 1)
    const byName = new Map(run.hosts.map((h) => [h.hostname, h]))
    assert.equal(byName.get('node-down')?.status, 'failed')
    assert.match(byName.get('node-down')?.message ?? '', /refused|ECONNREFUSED/i)
    for (const s of servers) assert.equal(byName.get(s.hostname)?.status, 'created', `${s.hostname}: ${byName.get(s.hostname)?.message}`)

    const assets = await app.knex('assets').orderBy('hostname')
    assert.deepEqual(
      assets.map((a: Record<string, unknown>) => [a.hostname, Number(a.server_id), a.mode]),
      servers.map((s) => [s.hostname, s.id, 'ssh']),
    )
    const error = await app.knex('asset_errors').where({ kind: 'host' }).first()
    assert.equal(error.hostname, 'node-down')
    // pinned on first use, as a release pins it
    for (const [i, s] of servers.entries()) assert.equal((await repo.findById(s.id))?.host_key_fingerprint, hosts[i]?.hostKeyFingerprint)
    assert.equal((await repo.findById(down.id))?.host_key_fingerprint, null)
    // progress went out live: the start, each host starting and ending, and the end
    assert.equal(events.length, 1 + 6 * 2 + 1)
    assert.equal(events.at(-1)?.finished, true)
    assert.deepEqual(events.filter((e) => e.host?.status === 'running').length, 6)
  })

  await t.test('"Collect all" from the page runs with the configured pool and stores unchanged collections', async () => {
    const deployer = await signIn(app, 'deployer')
    const res = await deployer.form('/assets/collect', {})
    assert.equal(res.statusCode, 302)
    const run = app.assets.ssh.latest()
    assert.ok(run)
    await app.assets.ssh.settled(run.id)
    assert.equal(run.hosts.filter((h) => h.status === 'unchanged').length, 5, JSON.stringify(run.hosts))
    assert.equal(await countRows(app, 'asset_changes'), 0)
    const page = await deployer.get('/assets')
    assert.match(page.body, /6 of 6 done, 1 failed — finished/)
    assert.match(page.body, /id="collect-host-\d+" class="status-failed"/)
  })

  await t.test('"Collect now" on an asset page collects that one server; a viewer may not', async () => {
    const asset = await app.knex('assets').where({ hostname: 'node1' }).first()
    const viewer = await signIn(app, 'viewer')
    assert.equal((await viewer.form('/assets/collect', { server_id: String(asset.server_id) })).statusCode, 403)
    const deployer = await signIn(app, 'deployer')
    const page = await deployer.get(`/assets/${asset.id}`)
    assert.match(page.body, /id="collect-now"/)
    const res = await deployer.form('/assets/collect', { server_id: String(asset.server_id), back: `/assets/${asset.id}` })
    assert.equal(res.statusCode, 302)
    assert.equal(res.headers.location, `/assets/${asset.id}`)
    const run = app.assets.ssh.latest()
    assert.ok(run)
    assert.equal(run.total, 1)
    await app.assets.ssh.settled(run.id)
    assert.equal(run.hosts[0]?.status, 'unchanged')
    assert.equal((await deployer.form('/assets/collect', { server_id: '999999' })).statusCode, 404)
  })
})

test('COLLECT_EVERY_S collects every server on a schedule, without anyone pressing a button', { skip, timeout: 60_000 }, async (t) => {
  const [host] = await startSshds(t, 1)
  const config = await testConfig(t, { COLLECT_EVERY_S: '1' })
  const app = await buildApp(config, { logger: false })
  t.after(() => app.close())
  await app.ready()
  await serversFor(app, config.secretKey, [host!], () => 'cron1')
  const until = Date.now() + 30_000
  while ((await countRows(app, 'assets')) === 0) {
    assert.ok(Date.now() < until, 'no scheduled collection within 30 s')
    await new Promise((r) => setTimeout(r, 200))
  }
  assert.equal(app.assets.ssh.latest()?.startedBy, 'schedule')
  await app.assets.ssh.settled(app.assets.ssh.latest()!.id)
})

test("a server's page collects that server now and then links to its asset", { skip, timeout: 60_000 }, async (t) => {
  const [host] = await startSshds(t, 1)
  const config = await testConfig(t)
  const app = await buildApp(config, { logger: false })
  t.after(() => app.close())
  await app.ready()
  const server = (await serversFor(app, config.secretKey, [host!], () => 'page1'))[0]!
  const deployer = await signIn(app, 'deployer')
  const before = await deployer.get(`/servers/${server.id}`)
  assert.match(before.body, /not collected yet/)
  assert.match(before.body, /<form method="post" action="\/assets\/collect" class="inline" id="server-collect">/)
  const res = await deployer.form('/assets/collect', { server_id: String(server.id), back: '/assets' })
  assert.equal(res.statusCode, 302)
  await app.assets.ssh.settled(app.assets.ssh.latest()!.id)
  const after = await deployer.get(`/servers/${server.id}`)
  assert.match(after.body, /<a href="\/assets\/\d+">facts and history<\/a>, collected \d{4}-/)
  const viewer = await signIn(app, 'viewer')
  assert.doesNotMatch((await viewer.get(`/servers/${server.id}`)).body, /server-collect/)
})
