import { test } from 'node:test'
import assert from 'node:assert/strict'
import { checkCollectorNames, collectAll, collectorNames, getCollector } from '../../server/assets/collectors/index.ts'
import type { CollectTarget, TargetNeeds } from '../../server/assets/target.ts'
import { fixture, fixtureNames, override } from './support/targets.ts'

for (const name of fixtureNames) {
  test(`collectAll: the ${name} fixture yields every fact group and no error`, async () => {
    const { facts, errors } = await collectAll(await fixture(name))
    assert.deepEqual(errors, [])
    assert.deepEqual(Object.keys(facts).sort(), [...collectorNames].sort())
  })
}

test('collectAll: a collector that throws is an error row with its stack; the others still report', async () => {
  const denied = Object.assign(new Error("EACCES: permission denied, open '/proc/meminfo'"), { code: 'EACCES' })
  const target = override(await fixture('debian12-vm'), { files: { '/proc/meminfo': denied } })
  const { facts, errors } = await collectAll(target)
  assert.equal(errors.length, 1)
  assert.equal(errors[0]?.collector, 'memory')
  assert.equal(errors[0]?.message, "EACCES: permission denied, open '/proc/meminfo'")
  assert.match(errors[0]?.stack ?? '', /^Error: EACCES[^\n]*\n\s+at /)
  assert.equal(facts.memory, undefined)
  assert.deepEqual(Object.keys(facts).sort(), ['board', 'cpu', 'disk', 'nic', 'os'])
  assert.equal(facts.cpu?.threads, 4)
})

test('collectAll: several failures (a read that times out, lsblk and its fallback both missing) each get their row', async () => {
  const timeout = new Error('cat /proc/cpuinfo timed out')
  const target = override(await fixture('centos7-dell'), { files: { '/proc/cpuinfo': timeout }, dirs: { '/sys/block': null } })
  const { facts, errors } = await collectAll(target)
  assert.deepEqual(errors.map((e) => e.collector).sort(), ['cpu', 'disk'])
  assert.match(errors.find((e) => e.collector === 'disk')?.message ?? '', /lsblk -J failed and \/sys\/block cannot be read/)
  // os reads cpuinfo too, but systemd-detect-virt answered first
  assert.deepEqual(Object.keys(facts).sort(), ['board', 'memory', 'nic', 'os'])
})

test('collectAll: a thrown non-Error is recorded by its text, without a stack', async () => {
  const target: CollectTarget = { ...(await fixture('debian12-vm')), readFile: () => Promise.reject('plain string') }
  const { errors } = await collectAll(target, ['cpu'])
  assert.deepEqual(errors, [{ collector: 'cpu', message: 'plain string', stack: null }])
})

test('collectAll: only the configured collectors run', async () => {
  const target = override(await fixture('debian12-vm'))
  const { facts } = await collectAll(target, ['cpu', 'board'])
  assert.deepEqual(Object.keys(facts).sort(), ['board', 'cpu'])
  assert.ok(!target.calls.some((c) => c.startsWith('run ')), 'neither cpu nor board runs a command')
})

test('collectAll: an unknown collector name is refused before anything runs', async () => {
  const target = override(await fixture('debian12-vm'))
  await assert.rejects(collectAll(target, ['cpu', 'gpu']), /unknown collector "gpu"; known: os, cpu, memory, disk, nic, board/)
  assert.deepEqual(target.calls, [])
  assert.deepEqual(checkCollectorNames(['cpu', 'cpu', 'os']), ['cpu', 'os'])
})

test('collectAll: a target that prefetches is told once everything the chosen collectors read', async () => {
  const seen: TargetNeeds[] = []
  const target: CollectTarget = { ...(await fixture('debian12-vm')), prefetch: async (needs) => void seen.push(needs) }
  await collectAll(target, ['disk', 'memory'])
  assert.equal(seen.length, 1)
  assert.deepEqual([...(seen[0]?.commands ?? [])].map((c) => c.command).sort(), ['dmidecode -t 17', 'lsblk -J -b -d -o NAME,SIZE,ROTA,MODEL,SERIAL,TYPE'])
  assert.ok(seen[0]?.files?.includes('/proc/meminfo'))
  assert.ok(seen[0]?.files?.includes('/sys/block/*/size'))
  assert.deepEqual(seen[0]?.dirs, ['/sys/block'])
})

test('collectAll: a failing prefetch is an error row, and the collectors read one by one instead', async () => {
  const target: CollectTarget = { ...(await fixture('debian12-vm')), prefetch: () => Promise.reject(new Error('batch timed out')) }
  const { facts, errors } = await collectAll(target)
  assert.deepEqual(
    errors.map((e) => [e.collector, e.message]),
    [['prefetch', 'batch timed out']],
  )
  assert.equal(Object.keys(facts).length, collectorNames.length)
})

test('registry: every collector is registered under its own name and declares what it reads', () => {
  for (const name of collectorNames) {
    const collector = getCollector(name)
    assert.equal(collector.name, name)
    assert.ok(collector.needs?.files?.length || collector.needs?.commands?.length, `${name} declares its reads`)
  }
})
