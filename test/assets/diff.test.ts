import { test } from 'node:test'
import assert from 'node:assert/strict'
import { collectAll, type Disk, type Facts, type MemoryModule, type Nic } from '../../server/assets/collectors/index.ts'
import { diffFacts } from '../../server/assets/diff.ts'
import { formatDiskSize, formatMemorySize } from '../../server/assets/sizes.ts'
import { createLocalTarget } from '../../server/assets/targets/local.ts'
import { fixture, fixtureNames } from './support/targets.ts'

const GiB = 1024 ** 3
const summaries = (stored: Facts, next: Facts) => diffFacts(stored, next).map((c) => c.summary)

const disk = (name: string, sizeBytes: number, serial: string | null = null): Disk => ({ name, sizeBytes, rotational: false, model: 'Samsung SSD 860', serial })
const nic = (name: string, mac: string | null, ipv4: string[] | null = ['10.0.0.5/24'], extra: Partial<Nic> = {}): Nic => ({
  name,
  mac,
  mtu: 1500,
  state: 'up',
  speedMbps: 1000,
  ipv4,
  ipv6: [],
  ...extra,
})
const dimm = (slot: string, gib: number, serial: string | null = `S-${slot}`): MemoryModule => ({
  slot,
  sizeBytes: gib * GiB,
  type: 'DDR4',
  speedMts: 3200,
  manufacturer: 'Samsung',
  serial,
  partNumber: 'M393A1K43DB2-CWE',
})

for (const name of fixtureNames) {
  test(`diff: collecting ${name} twice changes nothing`, async () => {
    const first = await collectAll(await fixture(name))
    const second = await collectAll(await fixture(name))
    assert.deepEqual(diffFacts(first.facts, second.facts), [])
  })
}

test('diff: two collections of this machine differ in uptime only, which is no change', async () => {
  const first = await collectAll(createLocalTarget())
  const second = await collectAll(createLocalTarget())
  assert.deepEqual(diffFacts(first.facts, second.facts), [])
})

test('diff: a new kernel, a changed OS and a renamed host are one row each, old → new', async () => {
  const { facts } = await collectAll(await fixture('debian12-vm'))
  const next = { ...facts, os: { ...facts.os!, kernel: '6.1.0-18-amd64', prettyName: 'Debian GNU/Linux 12.5 (bookworm)', hostname: 'db2', uptimeSeconds: 5 } }
  assert.deepEqual(diffFacts(facts, next), [
    { field: 'os.prettyName', old: 'Debian GNU/Linux 12 (bookworm)', new: 'Debian GNU/Linux 12.5 (bookworm)', summary: 'OS Debian GNU/Linux 12 (bookworm) → Debian GNU/Linux 12.5 (bookworm)' },
    { field: 'os.kernel', old: '6.1.0-13-amd64', new: '6.1.0-18-amd64', summary: 'kernel 6.1.0-13-amd64 → 6.1.0-18-amd64' },
    { field: 'os.hostname', old: 'db1', new: 'db2', summary: 'hostname db1 → db2' },
  ])
})

test('diff: CPU model and counts', () => {
  const before: Facts = { cpu: { model: 'Xeon E5-2623 v4', sockets: 2, cores: 8, threads: 16 } }
  const after: Facts = { cpu: { model: 'Xeon Gold 6230', sockets: 2, cores: 40, threads: 80 } }
  assert.deepEqual(summaries(before, after), ['CPU Xeon E5-2623 v4 → Xeon Gold 6230', 'CPU cores 8 → 40', 'CPU threads 16 → 80'])
})

test('diff: memory total in GiB; a drift under 1% (kernel reservations) is no change', () => {
  const eight: Facts = { memory: { totalBytes: 8 * GiB, modules: null } }
  assert.deepEqual(diffFacts(eight, { memory: { totalBytes: 16 * GiB, modules: null } }), [
    { field: 'memory.total', old: '8 GiB', new: '16 GiB', summary: 'memory 8 GiB → 16 GiB' },
  ])
  assert.deepEqual(diffFacts(eight, { memory: { totalBytes: 8 * GiB - 12 * 1024 * 1024, modules: null } }), [])
})

test('diff: memory modules by slot: added, removed, replaced by a bigger one', () => {
  const before: Facts = { memory: { totalBytes: 32 * GiB, modules: [dimm('A1', 16), dimm('A2', 16)] } }
  const after: Facts = { memory: { totalBytes: 32 * GiB, modules: [dimm('A1', 32, 'S-new'), dimm('B1', 16)] } }
  assert.deepEqual(summaries(before, after), [
    'memory module A1 16 GiB → 32 GiB',
    'memory module A2 removed, 16 GiB',
    'memory module B1 added, 16 GiB, DDR4, 3200 MT/s, Samsung, serial S-B1',
  ])
  const swapped = { memory: { totalBytes: 32 * GiB, modules: [dimm('A1', 16, 'S-other'), dimm('A2', 16)] } }
  assert.deepEqual(summaries(before, swapped), ['memory module A1 changed, now 16 GiB, DDR4, 3200 MT/s, Samsung, serial S-other'])
})

test('diff: modules unknown on one side (collected without root) are not modules removed', () => {
  const before: Facts = { memory: { totalBytes: 32 * GiB, modules: [dimm('A1', 16), dimm('A2', 16)] } }
  assert.deepEqual(diffFacts(before, { memory: { totalBytes: 32 * GiB, modules: null } }), [])
})

test('diff: disks added and removed, sized in decimal GB as on the label', () => {
  const before: Facts = { disk: [disk('sda', 480103981056, 'S1'), disk('sdc', 2000398934016, 'S3')] }
  const after: Facts = { disk: [disk('sda', 480103981056, 'S1'), disk('sdb', 512110190592, 'S2')] }
  assert.deepEqual(diffFacts(before, after), [
    { field: 'disk.sdc', old: '2 TB, SSD, Samsung SSD 860, serial S3', new: null, summary: 'disk sdc removed, 2 TB' },
    { field: 'disk.sdb', old: null, new: '512 GB, SSD, Samsung SSD 860, serial S2', summary: 'disk sdb added, 512 GB' },
  ])
})

test('diff: a disk is followed by its serial when its name moves, and by its name when it has none', () => {
  const moved = diffFacts({ disk: [disk('sda', 512110190592, 'S1')] }, { disk: [disk('sdb', 512110190592, 'S1')] })
  assert.deepEqual(moved, [{ field: 'disk.sda.name', old: 'sda', new: 'sdb', summary: 'disk sda is now sdb' }])
  const grown = diffFacts({ disk: [disk('vda', 34359738368)] }, { disk: [disk('vda', 68719476736)] })
  assert.deepEqual(grown, [{ field: 'disk.vda.size', old: '34.4 GB', new: '68.7 GB', summary: 'disk vda 34.4 GB → 68.7 GB' }])
  const serialSeen = diffFacts({ disk: [disk('vda', 34359738368)] }, { disk: [disk('vda', 34359738368, 'V1')] })
  assert.deepEqual(serialSeen.map((c) => c.summary), ['disk vda serial now V1'])
})

test('diff: another serial under the same name is another disk', () => {
  assert.deepEqual(summaries({ disk: [disk('sda', 1e12, 'OLD')] }, { disk: [disk('sda', 1e12, 'NEW')] }), ['disk sda removed, 1 TB', 'disk sda added, 1 TB'])
})

test('diff: NICs by MAC: removed, added with address, renamed, readdressed, MTU changed', () => {
  const before: Facts = { nic: [nic('eth0', '52:54:00:00:00:01'), nic('eth1', '52:54:00:00:00:02', ['10.0.1.5/24'])] }
  const after: Facts = { nic: [nic('ens3', '52:54:00:00:00:01', ['10.0.0.6/24'], { mtu: 9000 }), nic('eth2', '52:54:00:00:00:03', ['10.0.2.5/24'])] }
  assert.deepEqual(summaries(before, after), [
    'nic eth1 removed',
    'nic eth2 added, 52:54:00:00:00:03, 10.0.2.5/24',
    'nic eth0 is now ens3',
    'nic ens3 MTU 1500 → 9000',
    'nic ens3 IPv4 10.0.0.5/24 → 10.0.0.6/24',
  ])
})

test('diff: a bond sharing its slaves\' MAC is followed by name; link state and unknown speed are no change', () => {
  const mac = '52:54:00:00:00:01'
  const before: Facts = { nic: [nic('bond0', mac), nic('eth0', mac, []), nic('eth1', mac, [])] }
  const after: Facts = { nic: [nic('bond0', mac, ['10.0.0.5/24', '10.0.0.9/24']), nic('eth0', mac, [], { state: 'down', speedMbps: null }), nic('eth1', mac, [])] }
  assert.deepEqual(summaries(before, after), ['nic bond0 IPv4 10.0.0.5/24 → 10.0.0.5/24, 10.0.0.9/24'])
  const slower = { nic: [nic('bond0', mac), nic('eth0', mac, [], { speedMbps: 100 }), nic('eth1', mac, [])] }
  assert.deepEqual(summaries(before, slower), ['nic eth0 speed 1000 Mb/s → 100 Mb/s'])
})

test('diff: addresses unknown on one side (no ip command) are not addresses removed', () => {
  assert.deepEqual(diffFacts({ nic: [nic('eth0', '52:54:00:00:00:01')] }, { nic: [nic('eth0', '52:54:00:00:00:01', null)] }), [])
})

test('diff: board serials and UUID; the machine-id shows as a short hash', () => {
  const board = { vendor: 'Dell Inc.', product: 'PowerEdge R730', serial: '8XK2JK2', uuid: 'u-1', boardSerial: 'B1', machineIdHash: 'a'.repeat(64) }
  const after = { ...board, serial: 'NEWSER', machineIdHash: 'b'.repeat(64) }
  assert.deepEqual(diffFacts({ board }, { board: after }), [
    { field: 'board.serial', old: '8XK2JK2', new: 'NEWSER', summary: 'serial 8XK2JK2 → NEWSER' },
    { field: 'board.machineIdHash', old: 'aaaaaaaaaaaa', new: 'bbbbbbbbbbbb', summary: 'machine-id aaaaaaaaaaaa → bbbbbbbbbbbb' },
  ])
  assert.deepEqual(summaries({ board }, { board: { ...board, serial: null } }), ['serial 8XK2JK2 no longer reported'])
})

test('diff: a group missing on either side (its collector failed or is off) is not compared', async () => {
  const { facts } = await collectAll(await fixture('centos7-dell'))
  const withoutDisks = { ...facts, disk: undefined }
  assert.deepEqual(diffFacts(facts, withoutDisks), [])
  assert.deepEqual(diffFacts(withoutDisks, facts), [])
  assert.deepEqual(diffFacts({}, facts), [])
})

test('diff: one fixture against another reads as a list of plain sentences', async () => {
  const vm = (await collectAll(await fixture('debian12-vm'))).facts
  const metal = (await collectAll(await fixture('centos7-dell'))).facts
  const rows = summaries(vm, metal)
  assert.ok(rows.includes('memory 7.76 GiB → 62.7 GiB'), rows.join('\n'))
  assert.ok(rows.includes('disk sda added, 2 TB'), rows.join('\n'))
  assert.ok(rows.includes('disk vda removed, 34.4 GB'), rows.join('\n'))
  assert.ok(rows.includes('nic enp7s0 removed'), rows.join('\n'))
  assert.ok(rows.includes('memory module DIMM 0 removed, 8 GiB'), rows.join('\n'))
})

test('sizes: disks in decimal units, memory in binary ones', () => {
  assert.equal(formatDiskSize(512110190592), '512 GB')
  assert.equal(formatDiskSize(2000398934016), '2 TB')
  assert.equal(formatDiskSize(1920383410176), '1.92 TB')
  assert.equal(formatDiskSize(34359738368), '34.4 GB')
  assert.equal(formatDiskSize(0), '0 B')
  assert.equal(formatMemorySize(8 * GiB), '8 GiB')
  assert.equal(formatMemorySize(25276026880), '23.5 GiB')
  assert.equal(formatMemorySize(512 * 1024 * 1024), '512 MiB')
  assert.equal(formatMemorySize(1536), '1.5 KiB')
})
