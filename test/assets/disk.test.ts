import { test } from 'node:test'
import assert from 'node:assert/strict'
import { diskCollector, parseLsblk } from '../../server/assets/collectors/disk.ts'
import { CommandFailedError } from '../../server/assets/target.ts'
import { fixture, override } from './support/targets.ts'

const LSBLK = 'lsblk -J -b -d -o NAME,SIZE,ROTA,MODEL,SERIAL,TYPE'

test('disk: lsblk JSON gives whole disks only (no loop, no rom), NVMe and virtio alike', async () => {
  assert.deepEqual(await diskCollector.collect(await fixture('debian12-vm')), [
    { name: 'nvme0n1', sizeBytes: 512110190592, rotational: false, model: 'QEMU NVMe Ctrl', serial: 'deadbeef0001' },
    { name: 'vda', sizeBytes: 34359738368, rotational: true, model: null, serial: null },
  ])
})

test('disk: util-linux before 2.33 prints sizes and flags as strings', async () => {
  assert.deepEqual(await diskCollector.collect(await fixture('ubuntu18-virtualbox')), [
    { name: 'sda', sizeBytes: 21474836480, rotational: true, model: 'VBOX HARDDISK', serial: 'VB3b1c5a2e-7d9f0e41' },
  ])
})

test('disk: without lsblk -J (CentOS 7), /sys/block gives the disks, skipping dm, loop and sr devices', async () => {
  assert.deepEqual(await diskCollector.collect(await fixture('centos7-dell')), [
    { name: 'sda', sizeBytes: 3907029168 * 512, rotational: true, model: 'ST2000NM0055-1V4', serial: null },
    { name: 'sdb', sizeBytes: 937703088 * 512, rotational: false, model: 'INTEL SSDSC2KB48', serial: null },
  ])
})

test('disk: without lsblk at all (BusyBox), NVMe model and serial come from /sys/block/*/device', async () => {
  assert.deepEqual(await diskCollector.collect(await fixture('alpine-arm-container')), [
    { name: 'nvme0n1', sizeBytes: 8589934592, rotational: false, model: 'Amazon Elastic Block Store', serial: 'vol0123456789abcdef0' },
    { name: 'nvme1n1', sizeBytes: 107374182400, rotational: false, model: 'Amazon Elastic Block Store', serial: 'vol0fedcba9876543210' },
  ])
})

test('disk: this machine: zram is not a disk, and the virtio serial lsblk missed (no udev) comes from sysfs', async () => {
  const disks = await diskCollector.collect(await fixture('this-machine'))
  assert.deepEqual(
    disks.map((d) => [d.name, d.serial]),
    [['vda', '1776640322808149']],
  )
})

test('disk: neither lsblk nor /sys/block fails the collector', async () => {
  const target = override(await fixture('debian12-vm'), { commands: { [LSBLK]: new CommandFailedError(LSBLK, 127, '') }, dirs: { '/sys/block': null } })
  await assert.rejects(diskCollector.collect(target), /\/sys\/block cannot be read/)
})

test('parseLsblk: disks of size 0 (an empty card reader) are left out; no blockdevices is an error', () => {
  const json = JSON.stringify({ blockdevices: [{ name: 'sdc', size: 0, rota: true, model: 'Card Reader', serial: null, type: 'disk' }] })
  assert.deepEqual(parseLsblk(json), [])
  assert.throws(() => parseLsblk('{}'), /no blockdevices/)
})
