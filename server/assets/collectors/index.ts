import { mergeNeeds, type CollectTarget } from '../target.ts'
import { boardCollector } from './board.ts'
import type { Collector } from './collector.ts'
import { cpuCollector } from './cpu.ts'
import { diskCollector } from './disk.ts'
import { memoryCollector } from './memory.ts'
import { nicCollector } from './nic.ts'
import { osCollector } from './os.ts'

export type { Collector } from './collector.ts'
export type { BoardFacts } from './board.ts'
export type { CpuFacts } from './cpu.ts'
export type { Disk } from './disk.ts'
export type { MemoryFacts, MemoryModule } from './memory.ts'
export type { Nic } from './nic.ts'
export type { OsFacts } from './os.ts'

/**
 * Every collector there is, by the name configuration uses. Adding one is
 * a file in this folder and a line here; Facts follows by itself.
 */
const registry = {
  os: osCollector,
  cpu: cpuCollector,
  memory: memoryCollector,
  disk: diskCollector,
  nic: nicCollector,
  board: boardCollector,
} as const

export type CollectorName = keyof typeof registry

type FactsOf<C> = C extends Collector<infer T> ? T : never

/** What a collection learnt, one key per collector that succeeded. */
export type Facts = { [K in CollectorName]?: FactsOf<(typeof registry)[K]> }

export interface CollectError {
  /** A collector's name, or "prefetch" when the target's batch read failed (the collectors then read one by one). */
  collector: string
  message: string
  stack: string | null
}

export interface Collection {
  facts: Facts
  errors: CollectError[]
}

export const collectorNames = Object.keys(registry) as CollectorName[]

export function isCollectorName(name: string): name is CollectorName {
  return Object.hasOwn(registry, name)
}

/** Refuses a configured list naming a collector that does not exist, so a typo fails at start-up instead of collecting less. */
export function checkCollectorNames(names: readonly string[]): CollectorName[] {
  const unknown = names.filter((n) => !isCollectorName(n))
  if (unknown.length) throw new Error(`unknown collector ${unknown.map((n) => `"${n}"`).join(', ')}; known: ${collectorNames.join(', ')}`)
  return [...new Set(names)] as CollectorName[]
}

function toError(collector: string, err: unknown): CollectError {
  if (err instanceof Error) return { collector, message: err.message, stack: err.stack ?? null }
  return { collector, message: String(err), stack: null }
}

/**
 * Runs the chosen collectors (all by default) against one target. A
 * collector that throws (a missing command, no permission, a timeout)
 * leaves its group out of facts and adds an error row; the others report
 * as usual. Only a bad list of names throws.
 */
export async function collectAll(target: CollectTarget, names: readonly string[] = collectorNames): Promise<Collection> {
  const chosen = checkCollectorNames(names)
  const errors: CollectError[] = []
  if (target.prefetch) {
    try {
      await target.prefetch(mergeNeeds(chosen.map((name) => registry[name].needs)))
    } catch (err) {
      errors.push(toError('prefetch', err))
    }
  }
  const facts: Record<string, unknown> = {}
  const settled = await Promise.allSettled(chosen.map((name) => (registry[name] as Collector<unknown>).collect(target)))
  settled.forEach((outcome, i) => {
    const name = chosen[i] as CollectorName
    if (outcome.status === 'fulfilled') facts[name] = outcome.value
    else errors.push(toError(name, outcome.reason))
  })
  return { facts: facts as Facts, errors }
}

/** The collector objects themselves, for tests and tools that list what exists. */
export function getCollector<K extends CollectorName>(name: K): (typeof registry)[K] {
  return registry[name]
}
