import type { Knex } from 'knex'

interface Entry {
  value: unknown
  expires: number
}

/**
 * A small in-process cache of values read from a table (a list's total, the
 * signed-in user's row), per database. A write through a repository drops
 * the table's entries at once; every entry also expires after a short time,
 * because another instance of the console may have written the table.
 *
 * Keyed by the client's config object, which a transaction shares with the
 * knex instance it came from.
 */
interface TableState {
  entries: Map<string, Entry>
  /** Reads under way: callers who miss the same key at once share one read. */
  loading: Map<string, Promise<unknown>>
  /** Counts the writes made here, so a cache elsewhere can tell its copy is stale. */
  version: number
}

const stores = new WeakMap<object, Map<string, TableState>>()

function tableState(knex: Knex, table: string): TableState {
  const key = knex.client.config as object
  let tables = stores.get(key)
  if (!tables) stores.set(key, (tables = new Map()))
  let state = tables.get(table)
  if (!state) tables.set(table, (state = { entries: new Map(), loading: new Map(), version: 0 }))
  return state
}

export const TABLE_CACHE_TTL_MS = 2000
const MAX_ENTRIES_PER_TABLE = 1000

export async function cachedRead<T>(knex: Knex, table: string, key: string, load: () => Promise<T>, ttlMs = TABLE_CACHE_TTL_MS): Promise<T> {
  const state = tableState(knex, table)
  const { entries, loading } = state
  const now = Date.now()
  const hit = entries.get(key)
  if (hit && hit.expires > now) return hit.value as T
  const version = state.version
  const flight = `${version}|${key}`
  const shared = loading.get(flight)
  if (shared) return shared as Promise<T>
  const read = load().finally(() => loading.delete(flight))
  loading.set(flight, read)
  const value = await read
  // a write during the read made it stale: the next caller reads again
  if (state.version === version) {
    if (entries.size >= MAX_ENTRIES_PER_TABLE) entries.clear()
    entries.set(key, { value, expires: now + ttlMs })
  }
  return value
}

const listeners = new WeakMap<object, (table: string) => void>()

/** Every repository write to `table` calls this. */
export function tableChanged(knex: Knex, table: string): void {
  tableChangedElsewhere(knex, table)
  listeners.get(knex.client.config as object)?.(table)
}

/** Another instance wrote `table` (told through the realtime relay): drop what this one keeps of it. */
export function tableChangedElsewhere(knex: Knex, table: string): void {
  const state = tableState(knex, table)
  state.entries.clear()
  state.version++
}

/** Tells `listener` of every write made here (the relay passes it on to the other instances). */
export function onTableChanged(knex: Knex, listener: ((table: string) => void) | null): void {
  const key = knex.client.config as object
  if (listener) listeners.set(key, listener)
  else listeners.delete(key)
}

/** How many writes to `table` this process has made; read it before a read whose result is kept. */
export function tableVersion(knex: Knex, table: string): number {
  return tableState(knex, table).version
}
