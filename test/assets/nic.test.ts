import { test } from 'node:test'
import assert from 'node:assert/strict'
import { nicCollector, parseIpOneline } from '../../server/assets/collectors/nic.ts'
import { CommandFailedError } from '../../server/assets/target.ts'
import { fixture, override } from './support/targets.ts'

test('nic: ip -j addr, without lo and container veths, with every address and its prefix', async () => {
  assert.deepEqual(await nicCollector.collect(await fixture('debian12-vm')), [
    { name: 'docker0', mac: '02:42:7f:19:a0:c4', mtu: 1500, state: 'down', speedMbps: null, ipv4: ['172.17.0.1/16'], ipv6: [] },
    { name: 'enp1s0', mac: '52:54:00:6b:3c:1a', mtu: 1500, state: 'up', speedMbps: null, ipv4: ['192.168.122.10/24'], ipv6: ['fe80::5054:ff:fe6b:3c1a/64'] },
    {
      name: 'enp7s0',
      mac: '52:54:00:d2:8e:47',
      mtu: 9000,
      state: 'up',
      speedMbps: 1000,
      ipv4: ['10.10.0.5/16', '10.10.0.6/16'],
      ipv6: ['2001:db8:10::5/64', 'fe80::5054:ff:fed2:8e47/64'],
    },
  ])
})

test('nic: without ip -j (CentOS 7), /sys/class/net and ip -o addr; a down link has no speed', async () => {
  assert.deepEqual(await nicCollector.collect(await fixture('centos7-dell')), [
    { name: 'em1', mac: '24:6e:96:12:34:56', mtu: 1500, state: 'up', speedMbps: 1000, ipv4: ['10.1.2.30/24'], ipv6: ['fe80::266e:96ff:fe12:3456/64'] },
    { name: 'em2', mac: '24:6e:96:12:34:57', mtu: 1500, state: 'down', speedMbps: null, ipv4: [], ipv6: [] },
    { name: 'virbr0', mac: '52:54:00:ab:cd:ef', mtu: 1500, state: 'down', speedMbps: null, ipv4: ['192.168.122.1/24'], ipv6: [] },
  ])
})

test('nic: BusyBox ip refuses -j and still answers ip -o addr', async () => {
  assert.deepEqual(await nicCollector.collect(await fixture('alpine-arm-container')), [
    { name: 'eth0', mac: '02:42:ac:11:00:02', mtu: 1500, state: 'up', speedMbps: 10000, ipv4: ['172.17.0.2/16'], ipv6: [] },
  ])
})

test('nic: with no ip command at all the addresses are unknown (null), not "none"', async () => {
  const target = override(await fixture('alpine-arm-container'), { commands: { 'ip -o addr': new CommandFailedError('ip -o addr', 127, '') } })
  const [eth0] = await nicCollector.collect(target)
  assert.equal(eth0?.ipv4, null)
  assert.equal(eth0?.ipv6, null)
  assert.equal(eth0?.mac, '02:42:ac:11:00:02')
})

test('nic: speed -1 (virtio) or unreadable is null', async () => {
  const nics = await nicCollector.collect(await fixture('this-machine'))
  assert.ok(nics.length >= 1)
  assert.ok(nics.every((n) => n.speedMbps === null))
  assert.ok(!nics.some((n) => n.name === 'lo'))
})

test('nic: neither ip -j nor /sys/class/net fails the collector', async () => {
  const target = override(await fixture('alpine-arm-container'), { dirs: { '/sys/class/net': null } })
  await assert.rejects(nicCollector.collect(target), /\/sys\/class\/net cannot be read/)
})

test('parseIpOneline: interfaces named with @peer and several addresses', () => {
  const text = '5: eth0@if6    inet 10.0.0.2/8 brd 10.255.255.255 scope global eth0\\       valid_lft forever\n5: eth0@if6    inet6 fd00::2/64 scope global \\       valid_lft forever\n'
  assert.deepEqual([...parseIpOneline(text)], [['eth0', { ipv4: ['10.0.0.2/8'], ipv6: ['fd00::2/64'] }]])
})
