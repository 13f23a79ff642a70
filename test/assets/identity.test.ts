import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decideIdentity, normalizeMac, normalizeUuid, sameHostname, type IdentityReport, type StoredIdentity } from '../../server/assets/identity.ts'
import { isPlaceholder } from '../../server/assets/placeholders.ts'

/** web1: an agent-reported VM with every signal known. */
const web1: StoredIdentity = {
  id: 1,
  hostname: 'web1',
  agentId: 'agent-web1',
  machineIdHash: 'aaaa1111',
  productUuid: '11111111-2222-3333-4444-555555555555',
  macs: ['52:54:00:00:00:01'],
}
/** db1: collected over SSH, no agent. */
const db1: StoredIdentity = { id: 2, hostname: 'db1', agentId: null, machineIdHash: 'bbbb2222', productUuid: null, macs: ['52:54:00:00:00:02'] }
/** cache1: created by hand or CSV, never collected. */
const cache1: StoredIdentity = { id: 3, hostname: 'cache1', agentId: null, machineIdHash: null, productUuid: null, macs: [] }
const assets = [web1, db1, cache1]

/** A report from web1's own machine, as its agent sends it. */
const fromWeb1: IdentityReport = {
  hostname: 'web1',
  previousHostname: 'web1',
  agentId: 'agent-web1',
  machineIdHash: 'aaaa1111',
  productUuid: '11111111-2222-3333-4444-555555555555',
  macs: ['52:54:00:00:00:01'],
}
/** A machine the console has never seen, on the agent's first run. */
const stranger: IdentityReport = {
  hostname: 'new1',
  previousHostname: null,
  agentId: 'agent-new',
  machineIdHash: 'ffff9999',
  productUuid: '99999999-8888-7777-6666-555555555555',
  macs: ['52:54:00:00:00:99'],
}
/** web1's machine cloned: same identity file and name, new machine-id, UUID and MACs. */
const cloneOfWeb1: IdentityReport = { ...fromWeb1, machineIdHash: 'cccc3333', productUuid: '33333333-3333-3333-3333-333333333333', macs: ['52:54:00:00:00:33'] }

test('identity: a machine reporting again under its name is a match by agent id', () => {
  assert.deepEqual(decideIdentity(assets, fromWeb1), { kind: 'match', assetId: 1, hostname: 'web1', by: 'agent-id' })
})

test('identity: a first report with a free hostname and unknown hardware is a new asset', () => {
  assert.deepEqual(decideIdentity(assets, stranger), { kind: 'new', hostname: 'new1' })
  assert.deepEqual(decideIdentity([], stranger), { kind: 'new', hostname: 'new1' })
})

test('identity: a new host whose hostname another asset has is refused with an error to log', () => {
  const decision = decideIdentity(assets, { ...stranger, hostname: 'web1' })
  assert.equal(decision.kind, 'refuse')
  assert.equal(decision.kind === 'refuse' && decision.takenBy, 1)
  assert.match(decision.kind === 'refuse' ? decision.error : '', /new host reports hostname "web1", which asset #1 already has; not recorded/)
})

test('identity: a new agent on a host known only over SSH with other hardware is refused too', () => {
  assert.equal(decideIdentity(assets, { ...stranger, hostname: 'db1' }).kind, 'refuse')
})

test('identity: a new agent claims an asset created by hand that was never collected', () => {
  assert.deepEqual(decideIdentity(assets, { ...stranger, hostname: 'cache1' }), { kind: 'match', assetId: 3, hostname: 'cache1', by: 'hostname' })
})

test('identity: a new agent on a machine already known by its machine-id (agent reinstalled) is a match by hardware', () => {
  const reinstalled = { ...fromWeb1, agentId: 'agent-web1-again', previousHostname: null }
  assert.deepEqual(decideIdentity(assets, reinstalled), { kind: 'match', assetId: 1, hostname: 'web1', by: 'hardware' })
  const sameMacOnly = { ...stranger, hostname: 'db1', machineIdHash: null, macs: ['52:54:00:00:00:02'] }
  assert.deepEqual(decideIdentity(assets, sameMacOnly), { kind: 'match', assetId: 2, hostname: 'db1', by: 'hostname' }, 'a shared MAC backs a taken hostname')
})

test('identity: a rename to a free name renames the asset', () => {
  assert.deepEqual(decideIdentity(assets, { ...fromWeb1, hostname: 'web1-new' }), { kind: 'rename', assetId: 1, hostname: 'web1-new', from: 'web1', to: 'web1-new', by: 'agent-id' })
})

test('identity: a rename to a name another asset has keeps the old name and records an error', () => {
  const decision = decideIdentity(assets, { ...fromWeb1, hostname: 'db1' })
  assert.equal(decision.kind, 'rename-refused')
  if (decision.kind !== 'rename-refused') return
  assert.equal(decision.assetId, 1)
  assert.equal(decision.hostname, 'web1', 'the facts are stored under the old name')
  assert.equal(decision.takenBy, 2)
  assert.match(decision.error, /asset #1 "web1" was renamed to "db1", which asset #2 already has; it keeps the name "web1"/)
})

test('identity: without a known agent id, the previous hostname from the identity file finds the asset (the seeds\' rule)', () => {
  const oldAgent = { ...fromWeb1, agentId: null, hostname: 'web2', previousHostname: 'web1' }
  assert.deepEqual(decideIdentity(assets, oldAgent), { kind: 'rename', assetId: 1, hostname: 'web2', from: 'web1', to: 'web2', by: 'previous-hostname' })
  const toTaken = { ...oldAgent, hostname: 'cache1' }
  assert.equal(decideIdentity(assets, toTaken).kind, 'rename-refused')
})

test('identity: same agent id but machine-id, UUID and MACs all different is a suspected clone, not merged', () => {
  const decision = decideIdentity(assets, cloneOfWeb1)
  assert.equal(decision.kind, 'clone')
  if (decision.kind !== 'clone') return
  assert.equal(decision.assetId, 1)
  assert.equal(decision.by, 'agent-id')
  assert.match(decision.error, /has the agent-id of asset #1 \("web1"\) but none of its machine-id, product UUID or MAC addresses/)
})

test('identity: a clone is told by the signals it has (a non-root agent sends no UUID)', () => {
  assert.equal(decideIdentity(assets, { ...cloneOfWeb1, productUuid: null }).kind, 'clone')
  assert.equal(decideIdentity(assets, { ...cloneOfWeb1, agentId: null, previousHostname: 'web1', hostname: 'web1-copy' }).kind, 'clone')
})

test('identity: one signal in common is not a clone (an OS reinstall keeps the UUID, a new NIC keeps the machine-id)', () => {
  assert.equal(decideIdentity(assets, { ...cloneOfWeb1, productUuid: fromWeb1.productUuid }).kind, 'match')
  assert.equal(decideIdentity(assets, { ...cloneOfWeb1, macs: ['52:54:00:00:00:01', '52:54:00:00:00:77'] }).kind, 'match')
  assert.equal(decideIdentity(assets, { ...cloneOfWeb1, machineIdHash: 'aaaa1111' }).kind, 'match')
})

test('identity: nothing to compare is not a clone', () => {
  const bare = { ...fromWeb1, machineIdHash: null, productUuid: null, macs: [] }
  assert.equal(decideIdentity(assets, bare).kind, 'match')
})

test('identity: from the console (no agent id), the hostname finds the asset unless the hardware all differs', () => {
  const ssh = { hostname: 'db1', previousHostname: null, agentId: null, machineIdHash: 'bbbb2222', productUuid: null, macs: [] }
  assert.deepEqual(decideIdentity(assets, ssh), { kind: 'match', assetId: 2, hostname: 'db1', by: 'hardware' })
  assert.deepEqual(decideIdentity(assets, { ...ssh, machineIdHash: null }), { kind: 'match', assetId: 2, hostname: 'db1', by: 'hostname' })
  const copy = decideIdentity(assets, { ...ssh, machineIdHash: 'dddd4444', macs: ['52:54:00:00:00:44'] })
  assert.equal(copy.kind, 'clone')
  assert.equal(copy.kind === 'clone' && copy.by, 'hostname')
})

test('identity: a machine renamed between two SSH collections is found by its hardware and renamed', () => {
  const ssh = { hostname: 'db1-renamed', previousHostname: null, agentId: null, machineIdHash: 'bbbb2222', productUuid: null, macs: [] }
  assert.deepEqual(decideIdentity(assets, ssh), { kind: 'rename', assetId: 2, hostname: 'db1-renamed', from: 'db1', to: 'db1-renamed', by: 'hardware' })
})

test('identity: placeholder UUIDs never match two machines and never count as the same hardware', () => {
  const ami = '03000200-0400-0500-0006-000700080009'
  const boardA = { ...cache1, id: 10, hostname: 'a', productUuid: ami, macs: ['52:54:00:00:0a:0a'] }
  const fromB = { ...stranger, hostname: 'b', productUuid: ami, machineIdHash: null }
  assert.deepEqual(decideIdentity([boardA], fromB), { kind: 'new', hostname: 'b' })
  const zeros = '00000000-0000-0000-0000-000000000000'
  const storedZero = { ...web1, productUuid: zeros }
  assert.equal(decideIdentity([storedZero], { ...cloneOfWeb1, productUuid: zeros }).kind, 'clone')
})

test('identity: MAC addresses alone never merge two machines (a NIC can move)', () => {
  assert.deepEqual(decideIdentity(assets, { ...stranger, machineIdHash: null, productUuid: null, macs: ['52:54:00:00:00:01'] }), { kind: 'new', hostname: 'new1' })
})

test('identity: several assets with the machine\'s UUID (clones flagged before): the one with its hostname wins', () => {
  const twin = { ...web1, id: 7, hostname: 'web1-clone', agentId: 'agent-twin', machineIdHash: 'eeee' }
  const report = { ...stranger, hostname: 'web1-clone', productUuid: web1.productUuid }
  assert.deepEqual(decideIdentity([web1, twin], report), { kind: 'match', assetId: 7, hostname: 'web1-clone', by: 'hardware' })
})

test('identity: hostnames compare without case or a trailing dot; an empty one is refused', () => {
  assert.deepEqual(decideIdentity(assets, { ...fromWeb1, hostname: 'WEB1.' }), { kind: 'match', assetId: 1, hostname: 'web1', by: 'agent-id' })
  assert.ok(sameHostname('Db1', 'db1.'))
  assert.throws(() => decideIdentity(assets, { ...fromWeb1, hostname: '  ' }), /needs a hostname/)
})

test('identity: MACs and UUIDs are normalized before comparing', () => {
  assert.equal(normalizeMac('52-54-00-AB-CD-EF'), '52:54:00:ab:cd:ef')
  assert.equal(normalizeMac('00:00:00:00:00:00'), null)
  assert.equal(normalizeMac('not a mac'), null)
  assert.equal(normalizeUuid('4C4C4544-0058-4B10-8032-B8C04F4A4B32'), '4c4c4544-0058-4b10-8032-b8c04f4a4b32')
  assert.equal(normalizeUuid('FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF'), null)
  const shouting = { ...fromWeb1, agentId: null, previousHostname: null, macs: ['52-54-00-00-00-01'], productUuid: web1.productUuid?.toUpperCase() ?? null }
  assert.equal(decideIdentity(assets, shouting).kind, 'match')
})

test('placeholders: the fillers firmware ships are not serials', () => {
  for (const filler of ['', '   ', '0', '00000000', '.........', 'To be filled by O.E.M.', 'To Be Filled By O.E.M.', 'Not Specified', 'Default string', 'None', '0123456789', 'System Serial Number', 'N/A', 'xxxxxxxx', '03000200-0400-0500-0006-000700080009', '00000000-0000-0000-0000-000000000000']) {
    assert.ok(isPlaceholder(filler), JSON.stringify(filler))
  }
  for (const serial of ['8XK2JK2', 'VMware-42 1c 3b 2a', '4c4c4544-0058-4b10-8032-b8c04f4a4b32', 'S3Z9NB0K123456', '..CN7475164G0123.']) {
    assert.ok(!isPlaceholder(serial), serial)
  }
  assert.ok(isPlaceholder(null))
})
