import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cpuCollector, parseCpuinfo } from '../../server/assets/collectors/cpu.ts'
import { fixture, override } from './support/targets.ts'

test('cpu: a KVM guest with 2 sockets of 2 cores', async () => {
  assert.deepEqual(await cpuCollector.collect(await fixture('debian12-vm')), { model: 'Intel Xeon Processor (Icelake)', sockets: 2, cores: 4, threads: 4 })
})

test('cpu: two hyper-threaded Xeons count 2 sockets, 8 cores, 16 threads', async () => {
  assert.deepEqual(await cpuCollector.collect(await fixture('centos7-dell')), {
    model: 'Intel(R) Xeon(R) CPU E5-2623 v4 @ 2.60GHz',
    sockets: 2,
    cores: 8,
    threads: 16,
  })
})

test('cpu: ARM64 cpuinfo has no model name or physical id: the core is named from implementer and part', async () => {
  assert.deepEqual(await cpuCollector.collect(await fixture('alpine-arm-container')), { model: 'ARM Neoverse-N1', sockets: 1, cores: 2, threads: 2 })
})

test('cpu: a VM whose cpuinfo lacks physical and core ids counts one socket and a core per thread', () => {
  const block = (n: number) => `processor\t: ${n}\nvendor_id\t: GenuineIntel\nmodel name\t: QEMU Virtual CPU version 2.5+\nflags\t\t: fpu hypervisor\n`
  assert.deepEqual(parseCpuinfo([0, 1, 2].map(block).join('\n')), { model: 'QEMU Virtual CPU version 2.5+', sockets: 1, cores: 3, threads: 3 })
})

test('cpu: an unknown ARM part is still named by its numbers', () => {
  const text = 'processor\t: 0\nCPU implementer\t: 0x41\nCPU part\t: 0xfff\n\nprocessor\t: 1\nCPU implementer\t: 0x41\nCPU part\t: 0xfff\n'
  assert.equal(parseCpuinfo(text).model, 'ARM part 0xfff')
})

test('cpu: an unreadable or empty /proc/cpuinfo fails the collector', async () => {
  await assert.rejects(cpuCollector.collect(override(await fixture('debian12-vm'), { files: { '/proc/cpuinfo': null } })), /cpuinfo cannot be read/)
  assert.throws(() => parseCpuinfo('\n'), /no processor/)
})
