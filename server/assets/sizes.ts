/**
 * Two ways of counting bytes, each where people expect it: disks in
 * decimal units (GB = 10^9 bytes), as vendors print them on the label,
 * so a "512 GB" SSD shows as 512 GB; memory in binary units (GiB = 2^30
 * bytes), as DIMMs are sized and as free and top count, so 8 GiB of
 * modules shows as 8 GiB.
 */

const DECIMAL = ['B', 'kB', 'MB', 'GB', 'TB', 'PB']
const BINARY = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']

function format(bytes: number, base: number, units: string[]): string {
  let value = bytes
  let unit = 0
  while (Math.abs(value) >= base && unit < units.length - 1) {
    value /= base
    unit++
  }
  // three significant digits at most: 512 GB, 23.5 GiB, 1.92 TB
  const digits = unit === 0 || Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2
  return `${Number(value.toFixed(digits))} ${units[unit]}`
}

/** Decimal units, for disks: 512110190592 → "512 GB". */
export function formatDiskSize(bytes: number): string {
  return format(bytes, 1000, DECIMAL)
}

/** Binary units, for memory: 17179869184 → "16 GiB". */
export function formatMemorySize(bytes: number): string {
  return format(bytes, 1024, BINARY)
}
