import { test } from 'node:test'
import assert from 'node:assert/strict'
import { osCollector, parseOsRelease } from '../../server/assets/collectors/os.ts'
import { CommandFailedError } from '../../server/assets/target.ts'
import { fixture, override } from './support/targets.ts'

const DETECT_VIRT = 'systemd-detect-virt 2>/dev/null || true'

test('os: a Debian 12 KVM guest, every field', async () => {
  assert.deepEqual(await osCollector.collect(await fixture('debian12-vm')), {
    name: 'Debian GNU/Linux',
    id: 'debian',
    versionId: '12',
    prettyName: 'Debian GNU/Linux 12 (bookworm)',
    kernel: '6.1.0-13-amd64',
    arch: 'x86_64',
    hostname: 'db1',
    uptimeSeconds: 1296123,
    virtualization: 'kvm',
  })
})

test('os: bare metal is "none", as systemd-detect-virt says on CentOS 7', async () => {
  const facts = await osCollector.collect(await fixture('centos7-dell'))
  assert.equal(facts.prettyName, 'CentOS Linux 7 (Core)')
  assert.equal(facts.kernel, '3.10.0-1160.el7.x86_64')
  assert.equal(facts.virtualization, 'none')
})

test('os: a container without systemd-detect-virt is told by /.dockerenv', async () => {
  const facts = await osCollector.collect(await fixture('alpine-arm-container'))
  assert.equal(facts.id, 'alpine')
  assert.equal(facts.versionId, '3.19.1')
  assert.equal(facts.arch, 'aarch64')
  assert.equal(facts.virtualization, 'docker')
})

test('os: /run/systemd/container names the container manager', async () => {
  const target = override(await fixture('alpine-arm-container'), { files: { '/run/systemd/container': 'lxc\n' } })
  assert.equal((await osCollector.collect(target)).virtualization, 'lxc')
})

test('os: without systemd-detect-virt, /sys/hypervisor/type, then the CPU hypervisor flag tell a VM', async () => {
  const missing = new CommandFailedError(DETECT_VIRT, 127, 'not found')
  const xen = override(await fixture('debian12-vm'), { commands: { [DETECT_VIRT]: missing }, files: { '/sys/hypervisor/type': 'xen\n' } })
  assert.equal((await osCollector.collect(xen)).virtualization, 'xen')
  const flagged = override(await fixture('debian12-vm'), { commands: { [DETECT_VIRT]: missing } })
  assert.equal((await osCollector.collect(flagged)).virtualization, 'vm')
  const metal = override(await fixture('centos7-dell'), { commands: { [DETECT_VIRT]: '' } })
  assert.equal((await osCollector.collect(metal)).virtualization, 'none')
})

test('os: an ARM machine with no virtualization hints is unknown, not bare metal', async () => {
  const target = override(await fixture('alpine-arm-container'), { files: { '/.dockerenv': null } })
  assert.equal((await osCollector.collect(target)).virtualization, null)
})

test('os: /usr/lib/os-release stands in for a missing /etc/os-release, /proc for a missing uname', async () => {
  const inner = await fixture('debian12-vm')
  const release = await inner.readFile('/etc/os-release')
  const target = override(inner, {
    files: { '/etc/os-release': null, '/usr/lib/os-release': release, '/proc/sys/kernel/hostname': 'db1\n', '/proc/sys/kernel/osrelease': '6.1.0-13-amd64\n' },
    commands: { 'uname -nrm': new CommandFailedError('uname -nrm', 127, '') },
  })
  const facts = await osCollector.collect(target)
  assert.equal(facts.prettyName, 'Debian GNU/Linux 12 (bookworm)')
  assert.equal(facts.hostname, 'db1')
  assert.equal(facts.kernel, '6.1.0-13-amd64')
  assert.equal(facts.arch, null)
})

test('os: with neither os-release nor uname the collector fails', async () => {
  const target = override(await fixture('debian12-vm'), {
    files: { '/etc/os-release': null, '/usr/lib/os-release': null, '/proc/sys/kernel/osrelease': null },
    commands: { 'uname -nrm': new CommandFailedError('uname -nrm', 127, '') },
  })
  await assert.rejects(osCollector.collect(target), /os-release/)
})

test('parseOsRelease: double and single quotes, escapes, comments and blank lines', () => {
  const parsed = parseOsRelease('# a comment\nNAME="Some \\"quoted\\" OS"\n\nID=plain\nVERSION=\'1 (one)\'\nEMPTY=\nBROKEN LINE\n')
  assert.deepEqual(parsed, { NAME: 'Some "quoted" OS', ID: 'plain', VERSION: '1 (one)', EMPTY: '' })
})
