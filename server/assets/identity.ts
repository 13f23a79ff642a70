import { meaningful } from './placeholders.ts'

/**
 * Which stored asset a collection belongs to. Hostnames alone are not an
 * identity (a rename, two machines with one name, a cloned VM), so a
 * report carries several signals, strongest first:
 *
 * - agent id: a random id the agent keeps in its identity file from its
 *   first run on; a clone copies the file, so it is checked against the
 *   hardware below;
 * - previous hostname: the name the agent last reported successfully (the
 *   same identity file); the seeds' rule for renames;
 * - hardware: the machine-id hash and the product UUID (placeholders such
 *   as all zeros or "03000200-0400-…" ignored), and the MAC addresses;
 * - the hostname itself.
 *
 * Rules, in order (each is a test in test/assets/identity.test.ts):
 *
 * 1. Agent id known → that asset. 2. Else the previous hostname names an
 *    asset → that asset. 3. Else the machine-id hash or product UUID equals
 *    an asset's → that asset (the agent was reinstalled, or the console
 *    collects over SSH); MACs alone never match, a NIC can move.
 * 4. For an asset found by 1–3: when every signal both sides have differs
 *    (machine-id, UUID, and not one MAC in common) and at least one was
 *    compared, the report is a suspected clone: flagged, never merged.
 *    Otherwise, same hostname → match; a new hostname free → rename; a new
 *    hostname another asset has → the old name stays, with an error.
 * 5. Else an asset has the reported hostname:
 *    - from an agent (a new host, by the seeds' rule): refused with an
 *      error, unless the asset shares a MAC with the report, or was never
 *      collected (no agent, no hardware known: created by hand or CSV) and
 *      is claimed;
 *    - from the console (SSH or Ansible, no agent id): a match, unless the
 *      hardware all differs as in 4 (a clone answering at another address).
 * 6. Else a new asset.
 */

export interface StoredIdentity {
  id: number
  hostname: string
  agentId: string | null
  machineIdHash: string | null
  productUuid: string | null
  macs: readonly string[]
}

export interface IdentityReport {
  hostname: string
  /** From the agent's identity file: the hostname it last reported with success. Null on a first run and in SSH/Ansible mode. */
  previousHostname: string | null
  /** Null in SSH and Ansible modes, where the console itself chose the host. */
  agentId: string | null
  machineIdHash: string | null
  productUuid: string | null
  macs: readonly string[]
}

export type RecognisedBy = 'agent-id' | 'previous-hostname' | 'hardware' | 'hostname'

export type IdentityDecision =
  /** The asset, under the name it has. */
  | { kind: 'match'; assetId: number; hostname: string; by: RecognisedBy }
  /** The asset, renamed from → to (hostname is the new name). */
  | { kind: 'rename'; assetId: number; hostname: string; from: string; to: string; by: RecognisedBy }
  /** The asset, keeping its old name (hostname) because `to` belongs to asset takenBy; the error goes to the log. */
  | { kind: 'rename-refused'; assetId: number; hostname: string; from: string; to: string; takenBy: number; by: RecognisedBy; error: string }
  /** No asset is this machine and the name is free: create one. */
  | { kind: 'new'; hostname: string }
  /** A new machine whose name asset takenBy has: nothing is recorded, the error goes to the log. */
  | { kind: 'refuse'; hostname: string; takenBy: number; error: string }
  /** Claims to be assetId, but its hardware says otherwise: nothing is merged, the error is flagged. */
  | { kind: 'clone'; assetId: number; hostname: string; by: RecognisedBy; error: string }

interface Hardware {
  machineIdHash: string | null
  uuid: string | null
  macs: Set<string>
}

/** A MAC as a signal: lowercase colon form, never the all-zero or broadcast address. */
export function normalizeMac(mac: string): string | null {
  const lower = mac.trim().toLowerCase().replaceAll('-', ':')
  if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(lower)) return null
  return lower === '00:00:00:00:00:00' || lower === 'ff:ff:ff:ff:ff:ff' ? null : lower
}

/** A product UUID as a signal: lowercase, or null for the placeholders firmware ships. */
export function normalizeUuid(uuid: string | null | undefined): string | null {
  return meaningful(uuid)?.toLowerCase() ?? null
}

function hardwareOf(source: { machineIdHash: string | null; productUuid: string | null; macs: readonly string[] }): Hardware {
  const macs = new Set<string>()
  for (const mac of source.macs) {
    const normal = normalizeMac(mac)
    if (normal) macs.add(normal)
  }
  return { machineIdHash: source.machineIdHash?.trim().toLowerCase() || null, uuid: normalizeUuid(source.productUuid), macs }
}

/** How many signals both sides have agree, and how many disagree. */
function compare(a: Hardware, b: Hardware): { same: number; differ: number } {
  let same = 0
  let differ = 0
  const count = (equal: boolean) => (equal ? same++ : differ++)
  if (a.machineIdHash && b.machineIdHash) count(a.machineIdHash === b.machineIdHash)
  if (a.uuid && b.uuid) count(a.uuid === b.uuid)
  if (a.macs.size && b.macs.size) count([...a.macs].some((mac) => b.macs.has(mac)))
  return { same, differ }
}

/** Hostnames compare as DNS does: without case and without a trailing dot. */
export function sameHostname(a: string, b: string): boolean {
  return normalizeHostname(a) === normalizeHostname(b)
}

function normalizeHostname(name: string): string {
  return name.trim().replace(/\.$/, '').toLowerCase()
}

const isClone = (c: { same: number; differ: number }) => c.same === 0 && c.differ > 0

export function decideIdentity(assets: readonly StoredIdentity[], report: IdentityReport): IdentityDecision {
  const hostname = report.hostname.trim()
  if (!hostname) throw new TypeError('a report needs a hostname')
  const hw = hardwareOf(report)
  const known = assets.map((asset) => ({ asset, hw: hardwareOf(asset) }))
  const named = (name: string) => known.find((k) => sameHostname(k.asset.hostname, name))

  const settle = (found: { asset: StoredIdentity; hw: Hardware }, by: RecognisedBy): IdentityDecision => {
    const asset = found.asset
    if (isClone(compare(found.hw, hw))) {
      const error =
        `a host reporting as "${hostname}" has the ${by} of asset #${asset.id} ("${asset.hostname}") but none of its machine-id, ` +
        'product UUID or MAC addresses: a cloned machine? Not merged; give the clone an identity of its own (new machine-id, remove the agent identity file)'
      return { kind: 'clone', assetId: asset.id, hostname, by, error }
    }
    if (sameHostname(asset.hostname, hostname)) return { kind: 'match', assetId: asset.id, hostname: asset.hostname, by }
    const taken = named(hostname)
    if (taken) {
      const error = `asset #${asset.id} "${asset.hostname}" was renamed to "${hostname}", which asset #${taken.asset.id} already has; it keeps the name "${asset.hostname}"`
      return { kind: 'rename-refused', assetId: asset.id, hostname: asset.hostname, from: asset.hostname, to: hostname, takenBy: taken.asset.id, by, error }
    }
    return { kind: 'rename', assetId: asset.id, hostname, from: asset.hostname, to: hostname, by }
  }

  // 1. the agent's own id
  const byAgent = report.agentId ? known.find((k) => k.asset.agentId === report.agentId) : undefined
  if (byAgent) return settle(byAgent, 'agent-id')

  // 2. the name the agent last reported under
  const byPrevious = report.previousHostname ? named(report.previousHostname) : undefined
  if (byPrevious) return settle(byPrevious, 'previous-hostname')

  // 3. machine-id or product UUID; several candidates (clones flagged earlier): the one with this name, then the closest
  const strong = known.filter((k) => (hw.machineIdHash && k.hw.machineIdHash === hw.machineIdHash) || (hw.uuid && k.hw.uuid === hw.uuid))
  const byHardware =
    strong.find((k) => sameHostname(k.asset.hostname, hostname)) ?? strong.sort((a, b) => compare(b.hw, hw).same - compare(a.hw, hw).same)[0]
  if (byHardware) return settle(byHardware, 'hardware')

  // 5. the hostname alone
  const byName = named(hostname)
  if (!byName) return { kind: 'new', hostname }
  const c = compare(byName.hw, hw)
  if (report.agentId === null) {
    return isClone(c) ? settle(byName, 'hostname') : { kind: 'match', assetId: byName.asset.id, hostname: byName.asset.hostname, by: 'hostname' }
  }
  const neverCollected = byName.asset.agentId === null && !byName.hw.machineIdHash && !byName.hw.uuid && byName.hw.macs.size === 0
  if (c.same > 0 || neverCollected) return { kind: 'match', assetId: byName.asset.id, hostname: byName.asset.hostname, by: 'hostname' }
  const error =
    `a new host reports hostname "${hostname}", which asset #${byName.asset.id} already has; not recorded. ` +
    'Rename the new host, or delete the old asset if that machine is gone'
  return { kind: 'refuse', hostname, takenBy: byName.asset.id, error }
}
