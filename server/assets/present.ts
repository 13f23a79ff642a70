import type { Asset, AssetChangeRow } from './repository.ts'
import { formatDiskSize, formatMemorySize } from './sizes.ts'

/**
 * How assets read on pages and in exports: the key facts as short text,
 * and a stored change row as the line the history shows.
 */

export interface AssetSummary {
  os: string
  cpu: string
  memory: string
  disks: string
  ips: string
}

export function summarize(asset: Pick<Asset, 'facts' | 'os_name' | 'memory_bytes' | 'ips'>): AssetSummary {
  const { facts } = asset
  const cpu = facts.cpu ? [facts.cpu.model, `${facts.cpu.cores} cores / ${facts.cpu.threads} threads`].filter(Boolean).join(', ') : ''
  const disks = (facts.disk ?? []).map((d) => `${d.name} ${formatDiskSize(d.sizeBytes)}`).join(', ')
  return {
    os: asset.os_name ?? '',
    cpu,
    memory: asset.memory_bytes === null ? '' : formatMemorySize(asset.memory_bytes),
    disks,
    ips: asset.ips.join(', '),
  }
}

/**
 * A change row as a sentence: "disk sdb added, 512 GB, SSD",
 * "memory total 8 GiB → 16 GiB", "renamed web1 → web2". The diff wrote
 * old and new as a person reads them, so the field path is all that needs
 * turning into words.
 */
const LABELS: Record<string, string> = {
  'os.prettyName': 'OS',
  'os.kernel': 'kernel',
  'os.arch': 'architecture',
  'cpu.model': 'CPU',
  'cpu.sockets': 'CPU sockets',
  'cpu.cores': 'CPU cores',
  'cpu.threads': 'CPU threads',
  'memory.total': 'memory',
  'board.uuid': 'product UUID',
  'board.machineIdHash': 'machine-id',
  'board.boardSerial': 'board serial',
}

export function describeChange(change: Pick<AssetChangeRow, 'field' | 'old_value' | 'new_value'>): string {
  const label = LABELS[change.field] ?? change.field.replace(/\./g, ' ')
  if (change.field === 'hostname') return `renamed ${change.old_value ?? '?'} → ${change.new_value ?? '?'}`
  if (change.old_value === null) return `${label} added, ${change.new_value ?? ''}`
  if (change.new_value === null) return `${label} removed, ${change.old_value}`
  return `${label} ${change.old_value} → ${change.new_value}`
}
