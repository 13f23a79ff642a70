import type { Disk, Facts, MemoryModule, Nic } from './collectors/index.ts'
import { meaningful } from './placeholders.ts'
import { formatDiskSize, formatMemorySize } from './sizes.ts'

/** One row of asset_changes: old and new as a person reads them, summary as the history shows it. */
export interface AssetChange {
  /** "os.kernel", "disk.sdb", "disk.sdb.size", "nic.eth0.ipv4", "memory.modules.DIMM 1" … */
  field: string
  old: string | null
  new: string | null
  summary: string
}

type Value = string | number | boolean | null

/**
 * Kernels reserve a slightly different amount of memory from boot to boot
 * and version to version; MemTotal moving by less than this is not a change
 * anyone made.
 */
const MEMORY_TOTAL_TOLERANCE = 0.01

/** A scalar field: nothing when equal, else a row saying old → new (or that it appeared or went). */
function scalar<T extends Value>(out: AssetChange[], field: string, label: string, before: T, after: T, fmt: (v: NonNullable<T>) => string = String): void {
  if (before === after) return
  const old = before === null ? null : fmt(before as NonNullable<T>)
  const now = after === null ? null : fmt(after as NonNullable<T>)
  const summary = old === null ? `${label} now ${now}` : now === null ? `${label} ${old} no longer reported` : `${label} ${old} → ${now}`
  out.push({ field, old, new: now, summary })
}

const list = (values: readonly string[] | null) => (values === null ? null : [...values].sort().join(', ') || 'none')

/**
 * Pairs the items of two lists: first by a unique natural key both sides
 * have (a disk's serial, a NIC's MAC), then the rest by name. A key that
 * repeats within one list (a bond and its slaves share a MAC) is no key.
 * Items whose keys both exist and differ are never paired by name: a new
 * serial in the same slot is another disk.
 */
function pair<T extends { name: string }>(before: readonly T[], after: readonly T[], keyOf: (item: T) => string | null) {
  const uniqueKeys = (items: readonly T[]) => {
    const counts = new Map<string, number>()
    for (const item of items) {
      const key = keyOf(item)
      if (key) counts.set(key, (counts.get(key) ?? 0) + 1)
    }
    return (item: T) => {
      const key = keyOf(item)
      return key && counts.get(key) === 1 ? key : null
    }
  }
  const keyBefore = uniqueKeys(before)
  const keyAfter = uniqueKeys(after)
  const pairs: [T, T][] = []
  const left = new Set(before)
  const right = new Set(after)
  for (const b of before) {
    const key = keyBefore(b)
    const a = key ? after.find((x) => keyAfter(x) === key) : undefined
    if (a) {
      pairs.push([b, a])
      left.delete(b)
      right.delete(a)
    }
  }
  for (const b of [...left]) {
    const a = [...right].find((x) => x.name === b.name && !(keyOf(x) && keyOf(b) && keyOf(x) !== keyOf(b)))
    if (a) {
      pairs.push([b, a])
      left.delete(b)
      right.delete(a)
    }
  }
  return { pairs, removed: [...left], added: [...right] }
}

function describeDisk(d: Disk): string {
  const kind = d.rotational === null ? null : d.rotational ? 'HDD' : 'SSD'
  return [formatDiskSize(d.sizeBytes), kind, d.model, d.serial && `serial ${d.serial}`].filter(Boolean).join(', ')
}

function diffDisks(out: AssetChange[], before: readonly Disk[], after: readonly Disk[]): void {
  const { pairs, removed, added } = pair(before, after, (d) => meaningful(d.serial))
  for (const d of removed) out.push({ field: `disk.${d.name}`, old: describeDisk(d), new: null, summary: `disk ${d.name} removed, ${formatDiskSize(d.sizeBytes)}` })
  for (const d of added) out.push({ field: `disk.${d.name}`, old: null, new: describeDisk(d), summary: `disk ${d.name} added, ${formatDiskSize(d.sizeBytes)}` })
  for (const [b, a] of pairs) {
    const at = `disk.${b.name}`
    if (b.name !== a.name) out.push({ field: `${at}.name`, old: b.name, new: a.name, summary: `disk ${b.name} is now ${a.name}` })
    scalar(out, `${at}.size`, `disk ${a.name}`, b.sizeBytes, a.sizeBytes, formatDiskSize)
    scalar(out, `${at}.model`, `disk ${a.name} model`, b.model, a.model)
    scalar(out, `${at}.serial`, `disk ${a.name} serial`, b.serial, a.serial)
    if (b.rotational !== null && a.rotational !== null) scalar(out, `${at}.rotational`, `disk ${a.name} rotational`, b.rotational, a.rotational, (r) => (r ? 'yes' : 'no'))
  }
}

function describeNic(n: Nic): string {
  return [n.mac, ...(n.ipv4 ?? [])].filter(Boolean).join(', ') || n.name
}

function diffNics(out: AssetChange[], before: readonly Nic[], after: readonly Nic[]): void {
  const { pairs, removed, added } = pair(before, after, (n) => n.mac)
  for (const n of removed) out.push({ field: `nic.${n.name}`, old: describeNic(n), new: null, summary: `nic ${n.name} removed` })
  for (const n of added) out.push({ field: `nic.${n.name}`, old: null, new: describeNic(n), summary: `nic ${n.name} added, ${describeNic(n)}` })
  for (const [b, a] of pairs) {
    const at = `nic.${b.name}`
    if (b.name !== a.name) out.push({ field: `${at}.name`, old: b.name, new: a.name, summary: `nic ${b.name} is now ${a.name}` })
    scalar(out, `${at}.mac`, `nic ${a.name} MAC`, b.mac, a.mac)
    scalar(out, `${at}.mtu`, `nic ${a.name} MTU`, b.mtu, a.mtu)
    // unknown on one side (link down, unreadable) is not a change of speed; operstate is run-time, not inventory
    if (b.speedMbps !== null && a.speedMbps !== null) scalar(out, `${at}.speed`, `nic ${a.name} speed`, b.speedMbps, a.speedMbps, (s) => `${s} Mb/s`)
    if (b.ipv4 !== null && a.ipv4 !== null) scalar(out, `${at}.ipv4`, `nic ${a.name} IPv4`, list(b.ipv4), list(a.ipv4))
    if (b.ipv6 !== null && a.ipv6 !== null) scalar(out, `${at}.ipv6`, `nic ${a.name} IPv6`, list(b.ipv6), list(a.ipv6))
  }
}

function describeModule(m: MemoryModule): string {
  return [formatMemorySize(m.sizeBytes), m.type, m.speedMts && `${m.speedMts} MT/s`, m.manufacturer, m.serial && `serial ${m.serial}`].filter(Boolean).join(', ')
}

function diffModules(out: AssetChange[], before: readonly MemoryModule[], after: readonly MemoryModule[]): void {
  const bySlot = (modules: readonly MemoryModule[]) => new Map(modules.map((m) => [m.slot, m]))
  const old = bySlot(before)
  const now = bySlot(after)
  for (const [slot, m] of old) {
    const field = `memory.modules.${slot}`
    const a = now.get(slot)
    if (!a) out.push({ field, old: describeModule(m), new: null, summary: `memory module ${slot} removed, ${formatMemorySize(m.sizeBytes)}` })
    else if (describeModule(m) !== describeModule(a) || m.partNumber !== a.partNumber) {
      const summary =
        m.sizeBytes !== a.sizeBytes
          ? `memory module ${slot} ${formatMemorySize(m.sizeBytes)} → ${formatMemorySize(a.sizeBytes)}`
          : `memory module ${slot} changed, now ${describeModule(a)}`
      out.push({ field, old: describeModule(m), new: describeModule(a), summary })
    }
  }
  for (const [slot, m] of now) {
    if (!old.has(slot)) out.push({ field: `memory.modules.${slot}`, old: null, new: describeModule(m), summary: `memory module ${slot} added, ${describeModule(m)}` })
  }
}

const shortHash = (hash: string) => hash.slice(0, 12)

/**
 * What changed between the stored facts and a new collection, by natural
 * keys: disks by serial else name, NICs by MAC else name, memory modules
 * by slot. A group missing on either side (its collector failed or is not
 * configured) is not compared: a failed disk collector is not every disk
 * removed. Uptime changes every time and is never a change.
 */
export function diffFacts(stored: Facts, next: Facts): AssetChange[] {
  const out: AssetChange[] = []
  if (stored.os && next.os) {
    const [b, a] = [stored.os, next.os]
    scalar(out, 'os.prettyName', 'OS', b.prettyName, a.prettyName)
    scalar(out, 'os.kernel', 'kernel', b.kernel, a.kernel)
    scalar(out, 'os.arch', 'architecture', b.arch, a.arch)
    scalar(out, 'os.hostname', 'hostname', b.hostname, a.hostname)
    scalar(out, 'os.virtualization', 'virtualization', b.virtualization, a.virtualization)
  }
  if (stored.cpu && next.cpu) {
    const [b, a] = [stored.cpu, next.cpu]
    scalar(out, 'cpu.model', 'CPU', b.model, a.model)
    scalar(out, 'cpu.sockets', 'CPU sockets', b.sockets, a.sockets)
    scalar(out, 'cpu.cores', 'CPU cores', b.cores, a.cores)
    scalar(out, 'cpu.threads', 'CPU threads', b.threads, a.threads)
  }
  if (stored.memory && next.memory) {
    const [b, a] = [stored.memory, next.memory]
    if (Math.abs(a.totalBytes - b.totalBytes) > b.totalBytes * MEMORY_TOTAL_TOLERANCE) {
      scalar(out, 'memory.total', 'memory', b.totalBytes, a.totalBytes, formatMemorySize)
    }
    // unknown modules (collected without root this time) are not modules removed
    if (b.modules && a.modules) diffModules(out, b.modules, a.modules)
  }
  if (stored.disk && next.disk) diffDisks(out, stored.disk, next.disk)
  if (stored.nic && next.nic) diffNics(out, stored.nic, next.nic)
  if (stored.board && next.board) {
    const [b, a] = [stored.board, next.board]
    scalar(out, 'board.vendor', 'vendor', b.vendor, a.vendor)
    scalar(out, 'board.product', 'product', b.product, a.product)
    scalar(out, 'board.serial', 'serial', b.serial, a.serial)
    scalar(out, 'board.uuid', 'product UUID', b.uuid, a.uuid)
    scalar(out, 'board.boardSerial', 'board serial', b.boardSerial, a.boardSerial)
    scalar(out, 'board.machineIdHash', 'machine-id', b.machineIdHash, a.machineIdHash, shortHash)
  }
  return out
}
