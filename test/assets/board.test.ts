import { test } from 'node:test'
import assert from 'node:assert/strict'
import { boardCollector, hashMachineId } from '../../server/assets/collectors/board.ts'
import { fixture } from './support/targets.ts'

test('board: vendor, product, serials and the UUID in lowercase from /sys/class/dmi/id', async () => {
  assert.deepEqual(await boardCollector.collect(await fixture('centos7-dell')), {
    vendor: 'Dell Inc.',
    product: 'PowerEdge R730',
    serial: '8XK2JK2',
    uuid: '4c4c4544-0058-4b10-8032-b8c04f4a4b32',
    boardSerial: '..CN7475164G0123.',
    machineIdHash: hashMachineId('a1b2c3d4e5f60718293a4b5c6d7e8f90'),
  })
})

test('board: the machine-id is kept only as a SHA-256 hash', async () => {
  const facts = await boardCollector.collect(await fixture('debian12-vm'))
  assert.match(facts.machineIdHash ?? '', /^[0-9a-f]{64}$/)
  assert.ok(!JSON.stringify(facts).includes('5f1e8a7c3b2d4e6f8a9b0c1d2e3f4a5b'))
  assert.equal(hashMachineId('5F1E8A7C3B2D4E6F8A9B0C1D2E3F4A5B\n'), facts.machineIdHash, 'case and a newline do not change the hash')
})

test('board: root-only DMI files unreadable in a container are null, and so is a missing machine-id', async () => {
  assert.deepEqual(await boardCollector.collect(await fixture('alpine-arm-container')), {
    vendor: 'Amazon EC2',
    product: 'm6g.large',
    serial: null,
    uuid: null,
    boardSerial: null,
    machineIdHash: null,
  })
})

test('board: placeholder serials are reported as the firmware has them (identity ignores them)', async () => {
  const facts = await boardCollector.collect(await fixture('ubuntu18-virtualbox'))
  assert.equal(facts.serial, '0')
  assert.equal(facts.boardSerial, '0')
  assert.equal(facts.uuid, '5b4a3f2e-1d0c-4b9a-8877-665544332211')
})

test('board: a machine without DMI at all (this one) reports nulls, not an error', async () => {
  const facts = await boardCollector.collect(await fixture('this-machine'))
  assert.equal(facts.vendor, null)
  assert.match(facts.machineIdHash ?? '', /^[0-9a-f]{64}$/)
})
