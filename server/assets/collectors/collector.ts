import type { CollectTarget, TargetNeeds } from '../target.ts'

/**
 * One fact group. A collector reads only through its target and returns
 * plain JSON (null for what it could not learn), or throws when it learnt
 * nothing at all; collectAll turns a throw into an error row while the
 * other collectors carry on.
 */
export interface Collector<T> {
  readonly name: string
  /** What collect() will read, so a target with costly round trips can fetch it all at once first. */
  readonly needs?: TargetNeeds
  collect(target: CollectTarget): Promise<T>
}

/** The output of a command that may be missing or fail, or null: for sources that have a fallback. */
export async function tryRun(target: CollectTarget, command: string, timeoutMs?: number): Promise<string | null> {
  try {
    return await target.run(command, timeoutMs === undefined ? undefined : { timeoutMs })
  } catch {
    return null
  }
}

/** A trimmed one-line sysfs/procfs value, or null when missing or empty. */
export async function readValue(target: CollectTarget, path: string): Promise<string | null> {
  const content = await target.readFile(path)
  const value = content?.trim()
  return value ? value : null
}

/** An integer from a value, or null when it is not one. */
export function toInt(value: string | null | undefined): number | null {
  if (value === null || value === undefined || !/^-?\d+$/.test(value.trim())) return null
  return Number(value.trim())
}
