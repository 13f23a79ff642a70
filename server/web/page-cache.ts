import type { Knex } from 'knex'
import { TABLE_CACHE_TTL_MS, tableVersion } from '../db/table-cache.ts'

interface PageEntry {
  html: string
  /** The versions of the tables it was read from, taken before the read. */
  stamp: string
  expires: number
}

/**
 * Rendered fragments of list pages (the table, its pagination), kept per
 * database while the tables they were read from are unchanged. A team
 * watching the same list, or one person paging back and forth, then costs
 * no query and no render; the page around the fragment (user, CSRF token,
 * flash, poll client) is still rendered per request.
 *
 * A write through a repository bumps its table's version (table-cache.ts),
 * which makes every fragment read from that table stale at once; a fragment
 * also expires after TABLE_CACHE_TTL_MS, because another instance of the
 * console may have written the table. The fragment's data must not depend on
 * who asks beyond what the key says (e.g. the role).
 */
const caches = new WeakMap<object, Map<string, PageEntry>>()
/** Renders under way, by key and stamp: see `cachedPage`. */
const rendering = new WeakMap<object, Map<string, Promise<string>>>()

/** 40 list fragments of ~35 KB each stay around 1.5 MB. */
export const MAX_PAGES = 40

function cacheOf(knex: Knex): Map<string, PageEntry> {
  const key = knex.client.config as object
  let cache = caches.get(key)
  if (!cache) caches.set(key, (cache = new Map()))
  return cache
}

export async function cachedPage(knex: Knex, tables: readonly string[], key: string, render: () => Promise<string>): Promise<string> {
  const cache = cacheOf(knex)
  // read before rendering: a write that lands during the render bumps the
  // version, so what was rendered is never served as current afterwards
  const stamp = tables.map((t) => tableVersion(knex, t)).join(',')
  const now = Date.now()
  const hit = cache.get(key)
  if (hit && hit.stamp === stamp && hit.expires > now) {
    // most recently used last: the first key is the one to evict
    cache.delete(key)
    cache.set(key, hit)
    return hit.html
  }
  // when a fragment expires under load, every connection asks for it at once:
  // they share one render instead of each running the same query (50 renders
  // in a row were a 65 ms stall on SQLite and 250 ms on MariaDB every 2 s)
  let pending = rendering.get(knex.client.config as object)
  if (!pending) rendering.set(knex.client.config as object, (pending = new Map()))
  const flight = `${stamp}|${key}`
  const shared = pending.get(flight)
  if (shared) return shared
  const rendered = render().then(
    (html) => {
      pending.delete(flight)
      cache.delete(key)
      if (cache.size >= MAX_PAGES) cache.delete(cache.keys().next().value as string)
      cache.set(key, { html, stamp, expires: Date.now() + TABLE_CACHE_TTL_MS })
      return html
    },
    (err: unknown) => {
      pending.delete(flight)
      throw err
    },
  )
  pending.set(flight, rendered)
  return rendered
}
