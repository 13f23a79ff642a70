import { meaningful } from '../placeholders.ts'
import { tryRun, type Collector } from './collector.ts'

export interface MemoryModule {
  /** dmidecode's Locator ("DIMM 0", "A1"), with the bank locator when locators repeat. */
  slot: string
  sizeBytes: number
  /** DDR4, DDR5, RAM (VMs) … */
  type: string | null
  /** Rated speed in MT/s (older dmidecode prints MHz, meaning the same number). */
  speedMts: number | null
  manufacturer: string | null
  serial: string | null
  partNumber: string | null
}

export interface MemoryFacts {
  /** MemTotal: what the kernel can use, a little under the installed size. */
  totalBytes: number
  /** Installed modules; null when they could not be read (not root, no dmidecode, no SMBIOS). Empty slots are left out. */
  modules: MemoryModule[] | null
}

const DMIDECODE = 'dmidecode -t 17'
const UNIT: Record<string, number> = { kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, tb: 1024 ** 4 }

export function parseMeminfoTotal(text: string): number {
  const m = /^MemTotal:\s+(\d+)\s*kB/m.exec(text)
  if (!m) throw new Error('/proc/meminfo has no MemTotal line')
  // "kB" in meminfo is KiB
  return Number(m[1]) * 1024
}

/** dmidecode sizes are binary whatever they are called: "8192 MB" and "8 GB" are the same module. */
function parseSize(value: string | undefined): number | null {
  const m = /^(\d+)\s*(kB|MB|GB|TB)$/i.exec(value?.trim() ?? '')
  return m ? Number(m[1]) * (UNIT[(m[2] as string).toLowerCase()] as number) : null
}

/** dmidecode -t 17 output: one module per installed "Memory Device"; null when it shows no SMBIOS table at all. */
export function parseDmidecodeMemory(text: string): MemoryModule[] | null {
  const sections = text.split(/\n(?=Handle 0x)/).filter((s) => /^Handle 0x/m.test(s) && /\nMemory Device\s*\n/.test(s))
  if (!sections.length) return /^Handle 0x/m.test(text) ? [] : null
  const raw = sections.map((section) => {
    const fields = new Map<string, string>()
    for (const line of section.split('\n')) {
      const m = /^\t([^\t:][^:]*):\s*(.*)$/.exec(line)
      if (m) fields.set(m[1] as string, (m[2] as string).trim())
    }
    return fields
  })
  // "No Module Installed", "0 MB" and "Unknown" are empty slots
  const installed = raw.filter((f) => (parseSize(f.get('Size')) ?? 0) > 0)
  const locators = installed.map((f) => f.get('Locator') ?? '')
  const repeated = (locator: string) => locators.filter((l) => l === locator).length > 1
  return installed.map((f, i) => {
    const locator = meaningful(f.get('Locator')) ?? `module ${i + 1}`
    const bank = meaningful(f.get('Bank Locator'))
    return {
      slot: repeated(f.get('Locator') ?? '') && bank ? `${bank} ${locator}` : locator,
      sizeBytes: parseSize(f.get('Size')) as number,
      type: meaningful(f.get('Type')),
      speedMts: Number(/^(\d+)\s*(MT\/s|MHz)$/.exec(f.get('Speed') ?? '')?.[1]) || null,
      manufacturer: meaningful(f.get('Manufacturer')),
      serial: meaningful(f.get('Serial Number')),
      partNumber: meaningful(f.get('Part Number')),
    }
  })
}

export const memoryCollector: Collector<MemoryFacts> = {
  name: 'memory',
  needs: { files: ['/proc/meminfo'], commands: [{ command: DMIDECODE, rootOnly: true }] },
  async collect(target) {
    const meminfo = await target.readFile('/proc/meminfo')
    if (meminfo === null) throw new Error('/proc/meminfo cannot be read')
    // dmidecode reads the SMBIOS table, which only root may; missing or failing it leaves modules unknown, not wrong
    const dmidecode = (await target.isRoot()) ? await tryRun(target, DMIDECODE) : null
    return { totalBytes: parseMeminfoTotal(meminfo), modules: dmidecode === null ? null : parseDmidecodeMemory(dmidecode) }
  },
}
