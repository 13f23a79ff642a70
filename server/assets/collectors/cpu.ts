import type { Collector } from './collector.ts'

export interface CpuFacts {
  model: string | null
  /** Distinct physical ids; 1 when cpuinfo has none (most ARM machines, some VMs). */
  sockets: number
  /** Distinct (physical id, core id) pairs; the thread count when cpuinfo has no core ids. */
  cores: number
  /** Logical processors the kernel runs (hyper-threads included). */
  threads: number
}

// the "CPU implementer" and "CPU part" of ARM cores seen in servers and boards; lscpu carries the full table
const ARM_IMPLEMENTERS: Record<string, string> = { '0x41': 'ARM', '0x42': 'Broadcom', '0x43': 'Cavium', '0x48': 'HiSilicon', '0x4e': 'NVIDIA', '0x50': 'APM', '0x51': 'Qualcomm', '0x61': 'Apple', '0xc0': 'Ampere' }
const ARM_PARTS: Record<string, string> = {
  '0xd03': 'Cortex-A53',
  '0xd07': 'Cortex-A57',
  '0xd08': 'Cortex-A72',
  '0xd0b': 'Cortex-A76',
  '0xd0c': 'Neoverse-N1',
  '0xd40': 'Neoverse-V1',
  '0xd49': 'Neoverse-N2',
  '0xd4f': 'Neoverse-V2',
}

type Block = Map<string, string>

/** cpuinfo's blank-line separated "key : value" blocks, the ones describing a processor. */
export function parseCpuinfoBlocks(text: string): { processors: Block[]; global: Block } {
  const processors: Block[] = []
  const global: Block = new Map()
  for (const chunk of text.split(/\n\s*\n/)) {
    const block: Block = new Map()
    for (const line of chunk.split('\n')) {
      const at = line.indexOf(':')
      if (at === -1) continue
      block.set(line.slice(0, at).trim().toLowerCase(), line.slice(at + 1).trim())
    }
    if (block.has('processor') && /^\d+$/.test(block.get('processor') as string)) processors.push(block)
    // ARM32 and some others put "Hardware", "model name" … in a block of their own after the processors
    else for (const [key, value] of block) global.set(key, value)
  }
  return { processors, global }
}

function armModel(block: Block): string | null {
  const implementer = block.get('cpu implementer')?.toLowerCase()
  const part = block.get('cpu part')?.toLowerCase()
  if (!implementer || !part) return null
  const vendor = ARM_IMPLEMENTERS[implementer] ?? `implementer ${implementer}`
  return `${vendor} ${ARM_PARTS[part] ?? `part ${part}`}`
}

export function parseCpuinfo(text: string): CpuFacts {
  const { processors, global } = parseCpuinfoBlocks(text)
  if (!processors.length) throw new Error('/proc/cpuinfo lists no processor')
  const first = processors[0] as Block
  const model =
    first.get('model name') ?? first.get('cpu model') ?? global.get('model name') ?? global.get('processor') ?? armModel(first) ?? global.get('hardware') ?? null
  const sockets = new Set<string>()
  const cores = new Set<string>()
  for (const p of processors) {
    const socket = p.get('physical id')
    const core = p.get('core id')
    if (socket !== undefined) sockets.add(socket)
    if (core !== undefined) cores.add(`${socket ?? '0'}/${core}`)
  }
  return {
    model: model || null,
    sockets: sockets.size || 1,
    cores: cores.size || processors.length,
    threads: processors.length,
  }
}

export const cpuCollector: Collector<CpuFacts> = {
  name: 'cpu',
  needs: { files: ['/proc/cpuinfo'] },
  async collect(target) {
    const cpuinfo = await target.readFile('/proc/cpuinfo')
    if (cpuinfo === null) throw new Error('/proc/cpuinfo cannot be read')
    return parseCpuinfo(cpuinfo)
  },
}
