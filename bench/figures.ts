import { readFileSync } from 'node:fs'
import { loadavg } from 'node:os'

/** What the benches share: their numeric knobs and how they read and print figures. */

/** A whole-number knob from the environment (BENCH_*), at least `min`; the published figures use the defaults. */
export function knob(name: string, fallback: number, min: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isSafeInteger(value) || value < min) throw new Error(`${name}=${raw}: a whole number >= ${min} is needed`)
  return value
}

export const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
export const secs = (ms: number) => `${fmt(ms / 1000, 2)} s`
export const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')
export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}

/** CPU seconds the whole machine spent (all processes, user + system), from /proc/stat. */
export function machineCpu(): number {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] as string).trim().split(/\s+/).slice(1).map(Number)
  // user nice system idle iowait irq softirq steal: busy = all but idle and iowait
  const busy = fields.slice(0, 8).reduce((a, b, i) => (i === 3 || i === 4 ? a : a + b), 0)
  return busy / 100
}
