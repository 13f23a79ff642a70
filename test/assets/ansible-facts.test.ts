import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { carryForward, factsFromAnsible } from '../../server/assets/ansible-facts.ts'
import { hashMachineId } from '../../server/assets/collectors/board.ts'
import { collectorNames, type Facts } from '../../server/assets/collectors/index.ts'

// `ansible -m setup` against this machine (a Debian 12 container on a KVM guest), trimmed of facts we never read
const thisMachine = JSON.parse(readFileSync(new URL('./fixtures/ansible/this-machine-setup.json', import.meta.url), 'utf8')) as Record<string, unknown>

test('ansible facts: this machine maps to the collectors\' shape, field by field', () => {
  const { facts, errors } = factsFromAnsible(thisMachine, collectorNames)
  assert.deepEqual(errors, [])
  assert.deepEqual(facts.os, {
    name: null,
    id: 'debian',
    versionId: '12',
    prettyName: 'Debian GNU/Linux 12 (bookworm)',
    kernel: '6.18.44-fc-v782',
    arch: 'x86_64',
    hostname: 'vm',
    uptimeSeconds: 3811,
    virtualization: 'docker',
  })
  assert.deepEqual(facts.cpu, { model: 'AMD EPYC', sockets: 1, cores: 2, threads: 2 })
  assert.deepEqual(facts.memory, { totalBytes: 24105 * 1024 * 1024, modules: null })
  // loop and zram devices are not disks; sectors are 512-byte units
  assert.deepEqual(facts.disk, [{ name: 'vda', sizeBytes: 536870912 * 512, rotational: true, model: null, serial: null }])
  assert.deepEqual(
    facts.nic?.map((n) => [n.name, n.mac, n.mtu, n.state, n.speedMbps, n.ipv4, n.ipv6]),
    [
      ['eth0', '02:fc:00:00:00:01', 1400, 'up', null, ['192.0.2.2/24'], ['fd00::2/64', 'fe80::fc:ff:fe00:1/64']],
      ['ifb0', '16:0b:d0:54:22:1e', 1500, 'down', null, [], []],
      ['ifb1', '5e:3c:cc:3a:56:67', 1500, 'down', null, [], []],
    ],
  )
  // "NA" is setup's word for a DMI value it could not read; the machine-id is hashed as every mode hashes it
  assert.deepEqual(facts.board, { vendor: null, product: null, serial: null, uuid: null, boardSerial: null, machineIdHash: hashMachineId('3d1219c7c4c5404aaa1f6d2a48adfda4') })
})

test('ansible facts: only the configured groups, and a group with missing facts is an error row while the others report', () => {
  const broken = { ...thisMachine, ansible_devices: undefined }
  const { facts, errors } = factsFromAnsible(broken, ['os', 'disk'])
  assert.deepEqual(Object.keys(facts), ['os'])
  assert.equal(errors.length, 1)
  assert.equal(errors[0]?.collector, 'disk')
  assert.match(errors[0]?.message ?? '', /ansible_devices/)
})

test('ansible facts: a bare-metal RHEL server with DMI readable, secondary addresses and a dashed interface name', () => {
  const { facts } = factsFromAnsible(
    {
      ansible_distribution: 'RedHat',
      ansible_distribution_version: '9.3',
      ansible_distribution_major_version: '9',
      ansible_distribution_release: 'Plow',
      ansible_virtualization_type: 'kvm',
      ansible_virtualization_role: 'host',
      ansible_processor: ['0', 'GenuineIntel', 'Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz', '1', 'GenuineIntel', 'Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz'],
      ansible_processor_count: 2,
      ansible_processor_cores: 20,
      ansible_processor_vcpus: 80,
      ansible_system_vendor: 'Dell Inc.',
      ansible_product_name: 'PowerEdge R640',
      ansible_product_serial: 'ABC1234',
      ansible_product_uuid: '4C4C4544-0042-3110-8058-B2C04F333232',
      ansible_interfaces: ['br-lan', 'lo'],
      ansible_br_lan: { device: 'br-lan', macaddress: 'AA:BB:CC:00:11:22', mtu: 9000, active: true, speed: 10000, ipv4: { address: '10.0.0.5', prefix: '24' }, ipv4_secondaries: [{ address: '10.0.0.6', prefix: '24' }] },
      ansible_lo: { device: 'lo', type: 'loopback', active: true },
    },
    ['os', 'cpu', 'nic', 'board'],
  )
  assert.equal(facts.os?.id, 'rhel')
  assert.equal(facts.os?.versionId, '9.3')
  assert.equal(facts.os?.prettyName, 'RedHat 9.3 (Plow)')
  assert.equal(facts.os?.virtualization, 'none', 'a KVM host is itself bare metal')
  assert.deepEqual(facts.cpu, { model: 'Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz', sockets: 2, cores: 40, threads: 80 })
  assert.deepEqual(facts.nic, [{ name: 'br-lan', mac: 'aa:bb:cc:00:11:22', mtu: 9000, state: 'up', speedMbps: 10000, ipv4: ['10.0.0.5/24', '10.0.0.6/24'], ipv6: [] }])
  assert.equal(facts.board?.uuid, '4c4c4544-0042-3110-8058-b2c04f333232')
  assert.equal(facts.board?.machineIdHash, null)
})

test('ansible facts: what setup cannot see (os-release NAME, memory modules, a virtio serial) is carried from the stored asset', () => {
  const stored: Facts = {
    os: { name: 'Debian GNU/Linux', id: 'debian', versionId: '12', prettyName: 'Debian GNU/Linux 12 (bookworm)', kernel: 'k', arch: 'x86_64', hostname: 'vm', uptimeSeconds: 1, virtualization: 'kvm' },
    memory: { totalBytes: 1, modules: [{ slot: 'DIMM 0', sizeBytes: 8 * 2 ** 30, type: 'RAM', speedMts: null, manufacturer: null, serial: null, partNumber: null }] },
    disk: [
      { name: 'vda', sizeBytes: 100, rotational: true, model: null, serial: 'S1' },
      { name: 'vdb', sizeBytes: 100, rotational: true, model: null, serial: 'S2' },
    ],
  }
  const { facts } = factsFromAnsible(thisMachine, ['os', 'memory', 'disk'])
  facts.disk = [
    { name: 'vda', sizeBytes: 100, rotational: true, model: null, serial: null },
    // a disk of another size in that slot is another disk: nothing is carried to it
    { name: 'vdb', sizeBytes: 200, rotational: true, model: null, serial: null },
  ]
  const next = carryForward(facts, stored)
  assert.equal(next.os?.name, 'Debian GNU/Linux')
  assert.equal(next.memory?.modules?.length, 1)
  assert.deepEqual(next.disk?.map((d) => d.serial), ['S1', null])
  // another release is another OS: its NAME is not carried
  const upgraded = carryForward({ os: { ...(facts.os as NonNullable<Facts['os']>), versionId: '13' } }, stored)
  assert.equal(upgraded.os?.name, null)
})
