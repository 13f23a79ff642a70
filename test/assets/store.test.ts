import { test } from 'node:test'
import assert from 'node:assert/strict'
import { collectAll, type Facts } from '../../server/assets/collectors/index.ts'
import { describeChange } from '../../server/assets/present.ts'
import { createAssetsService, type CollectionReport } from '../../server/assets/service.ts'
import { buildTestApp, countRows, signIn } from '../helper.ts'
import { fixture, type FixtureName } from './support/targets.ts'

async function factsOf(name: FixtureName): Promise<Facts> {
  return (await collectAll(await fixture(name))).facts
}

function agentReport(hostname: string, agentId: string, facts: Facts, previousHostname: string | null = null): CollectionReport {
  return { mode: 'agent', hostname, previousHostname, agentId, facts, errors: [] }
}

const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T

test('storing collections through the service', async (t) => {
  const app = await buildTestApp(t)
  await app.ready()
  const service = createAssetsService(app.knex, app.hub)
  const debian = await factsOf('debian12-vm')

  await t.test('a first collection creates the asset with its key columns and no history', async () => {
    const outcome = await service.store(agentReport('db1', 'agent-debian-1', debian))
    assert.equal(outcome.kind, 'created')
    const asset = await service.repo.findById(outcome.assetId as number)
    assert.ok(asset)
    assert.equal(asset.hostname, 'db1')
    assert.equal(asset.mode, 'agent')
    assert.equal(asset.agent_id, 'agent-debian-1')
    assert.equal(asset.disk_bytes, 512110190592 + 34359738368)
    assert.deepEqual(asset.macs, ['02:42:7f:19:a0:c4', '52:54:00:6b:3c:1a', '52:54:00:d2:8e:47'])
    assert.deepEqual(asset.facts, debian)
    assert.equal(await countRows(app, 'asset_changes'), 0)
  })

  await t.test('an identical second collection only moves collected_at', async () => {
    const before = (await app.knex('assets').where({ hostname: 'db1' }).first()) as Record<string, unknown>
    await new Promise((r) => setTimeout(r, 5))
    const outcome = await service.store(agentReport('db1', 'agent-debian-1', clone(debian), 'db1'))
    assert.equal(outcome.kind, 'unchanged')
    const after = (await app.knex('assets').where({ hostname: 'db1' }).first()) as Record<string, unknown>
    assert.ok(new Date(after.collected_at as string) > new Date(before.collected_at as string), 'collected_at moved')
    assert.deepEqual({ ...after, collected_at: null }, { ...before, collected_at: null }, 'nothing else changed')
    assert.equal(await countRows(app, 'asset_changes'), 0)
  })

  await t.test('a changed collection writes one asset_changes row per change, readable as history', async () => {
    const next = clone(debian)
    next.disk = [...(next.disk ?? []), { name: 'sdb', sizeBytes: 512_000_000_000, rotational: false, model: 'Samsung SSD', serial: 'S4EWNX0N123' }]
    next.memory = { totalBytes: (next.memory?.totalBytes ?? 0) * 2, modules: next.memory?.modules ?? null }
    const outcome = await service.store(agentReport('db1', 'agent-debian-1', next, 'db1'))
    assert.equal(outcome.kind, 'updated')
    const rows = await service.repo.changes(outcome.assetId as number)
    assert.deepEqual(rows.map((r) => r.field).sort(), ['disk.sdb', 'memory.total'])
    assert.ok(rows.every((r) => r.source === 'agent'))
    const lines = rows.map(describeChange)
    assert.ok(lines.includes('disk sdb added, 512 GB, SSD, Samsung SSD, serial S4EWNX0N123'), lines.join(' | '))
    assert.ok(lines.some((l) => /^memory .* GiB → .* GiB$/.test(l)), lines.join(' | '))
  })

  await t.test('a collector that failed keeps its last known facts and logs its error', async () => {
    const partial = clone(debian)
    delete partial.disk
    const outcome = await service.store({ ...agentReport('db1', 'agent-debian-1', partial, 'db1'), errors: [{ collector: 'disk', message: 'lsblk timed out', stack: 'Error: lsblk timed out\n    at x' }] })
    assert.notEqual(outcome.kind, 'refused')
    const asset = await service.repo.findById(outcome.assetId as number)
    assert.equal(asset?.facts.disk?.length, 3, 'the disks are still known')
    const errors = await service.repo.errorsFor(outcome.assetId as number)
    assert.equal(errors[0]?.kind, 'collector')
    assert.equal(errors[0]?.collector, 'disk')
    assert.match(errors[0]?.stack ?? '', /at x/)
  })

  await t.test('a new machine claiming a taken hostname is refused and logged, nothing merged', async () => {
    const changesBefore = await countRows(app, 'asset_changes')
    const outcome = await service.store(agentReport('db1', 'agent-other-2', await factsOf('centos7-dell')))
    assert.equal(outcome.kind, 'refused')
    assert.equal(await countRows(app, 'assets'), 1)
    assert.equal(await countRows(app, 'asset_changes'), changesBefore)
    const row = await app.knex('asset_errors').where({ kind: 'refused' }).first()
    assert.match(String(row.message), /already has; not recorded/)
  })

  await t.test('a rename to a free name renames, and the history says so', async () => {
    const outcome = await service.store(agentReport('db1-new', 'agent-debian-1', clone(debian), 'db1'))
    assert.equal(outcome.kind, 'updated')
    assert.equal(outcome.hostname, 'db1-new')
    const rows = await service.repo.changes(outcome.assetId as number)
    assert.ok(rows.map(describeChange).includes('renamed db1 → db1-new'))
  })

  await t.test('a rename to a taken name keeps the old name and logs an error', async () => {
    const other = await service.store(agentReport('build-vm', 'agent-ubuntu-3', await factsOf('ubuntu18-virtualbox')))
    assert.equal(other.kind, 'created')
    const outcome = await service.store(agentReport('build-vm', 'agent-debian-1', clone(debian), 'db1-new'))
    assert.equal(outcome.kind, 'unchanged', 'same facts as stored; only the refused name is news')
    assert.match(outcome.warning ?? '', /already has/)
    assert.equal(outcome.hostname, 'db1-new')
    assert.equal((await service.repo.findById(outcome.assetId as number))?.hostname, 'db1-new')
    const row = await app.knex('asset_errors').where({ kind: 'rename-refused' }).first()
    assert.match(String(row.message), /keeps the name "db1-new"/)
  })

  await t.test('a clone (same agent id, other hardware) is flagged and not merged', async () => {
    const asset = await app.knex('assets').where({ hostname: 'db1-new' }).first()
    const outcome = await service.store(agentReport('db1-new', 'agent-debian-1', await factsOf('centos7-dell'), 'db1-new'))
    assert.equal(outcome.kind, 'refused')
    const after = await app.knex('assets').where({ id: asset.id }).first()
    assert.equal(after.facts, asset.facts, 'facts untouched')
    const row = await app.knex('asset_errors').where({ kind: 'clone' }).first()
    assert.equal(Number(row.asset_id), Number(asset.id))
    assert.match(String(row.message), /cloned machine/)
  })

  await t.test('the errors page lists refusals, renames refused and clones', async () => {
    const viewer = await signIn(app, 'viewer')
    const res = await viewer.get('/assets/errors')
    assert.equal(res.statusCode, 200)
    for (const kind of ['refused', 'rename-refused', 'clone', 'collector']) assert.match(res.body, new RegExp(`class="error-${kind}"`))
    const detail = await viewer.get(`/assets/${(await app.knex('assets').where({ hostname: 'db1-new' }).first()).id}`)
    assert.equal(detail.statusCode, 200)
    assert.match(detail.body, /renamed db1 → db1-new/)
    assert.match(detail.body, /disk sdb added, 512 GB/)
  })

  await t.test('the list pages, sorts and searches', async () => {
    const viewer = await signIn(app, 'viewer')
    const list = await viewer.get('/assets?sort=memory_bytes&dir=desc')
    assert.equal(list.statusCode, 200)
    assert.ok(list.body.indexOf('db1-new') < list.body.indexOf('build-vm'), 'the bigger machine first')
    const found = await viewer.get('/assets?q=Ubuntu')
    assert.match(found.body, /build-vm/)
    assert.doesNotMatch(found.body, /id="asset-\d+">\s*<td><a href="\/assets\/\d+">db1-new/)
    const api = await viewer.json('GET', '/api/assets?per_page=1')
    assert.equal(api.statusCode, 200)
    const body = api.json() as { items: Array<{ hostname: string }>; total: number }
    assert.equal(body.total, 2)
    assert.deepEqual(body.items.map((i) => i.hostname), ['build-vm', 'db1-new'])
  })
})
