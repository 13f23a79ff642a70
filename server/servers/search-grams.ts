import type { Knex } from 'knex'
import { isSqlite } from '../db/connection.ts'

/**
 * A substring index for the servers search on MySQL/MariaDB: every
 * three-character piece (trigram) of a server's hostname, address and tags,
 * in `server_search_grams` (migration 20261124000021), written by the
 * servers repository next to the row itself.
 *
 * MariaDB has no substring full-text index (FULLTEXT indexes whole words),
 * so a search was LIKE '%q%' over every row: about 6 ms of the database's
 * time per search with 10,000 servers, which capped a console at about 300
 * searches a second. With the grams a search reads the servers that hold a
 * few of the query's trigrams (the optimizer starts from the rarest, through
 * the primary key) and LIKE only checks those.
 *
 * The grams are only a filter: a server that holds every gram of the query
 * may still not contain it (the grams can come from different places), so
 * the LIKE stays and decides. A server that contains the query always holds
 * its grams, as long as both sides are folded the same way (lower case,
 * accents removed), so case and accents match as loosely as the columns'
 * case- and accent-insensitive collation lets LIKE match them. The
 * collation's rarer equivalences are not folded (ß = ss, æ = ae): such a
 * search finds only what it spells the same way, as on SQLite. SQLite has
 * its own trigram index (FTS5, migration 20261124000020) and does not use
 * this table.
 */

export const GRAMS_TABLE = 'server_search_grams'
export const GRAM_LENGTH = 3
/** How many of a query's grams are joined: enough to narrow a search to a handful of rows, few enough for the optimizer. */
export const QUERY_GRAMS = 4
/** Rows per INSERT when the index is rebuilt (two bound values each). */
const INSERT_CHUNK = 1000

/** Lower case without accents, in code points: what both the index and the query are made of. */
function fold(text: string): string[] {
  return Array.from(text.toLowerCase().normalize('NFD').replace(/\p{M}/gu, ''))
}

function gramsOf(text: string, into: Set<string>): void {
  const chars = fold(text)
  for (let i = 0; i + GRAM_LENGTH <= chars.length; i++) into.add(chars.slice(i, i + GRAM_LENGTH).join(''))
}

/** The distinct grams of a server's searched columns, as stored. */
export function serverGrams(columns: { hostname: string; address: string; tags: string }): string[] {
  const grams = new Set<string>()
  gramsOf(columns.hostname, grams)
  gramsOf(columns.address, grams)
  gramsOf(columns.tags, grams)
  return [...grams]
}

/**
 * At most QUERY_GRAMS of the query's distinct grams, spread from its start to
 * its end; none when it is shorter than a gram (the caller then scans with
 * LIKE alone).
 */
export function queryGrams(q: string): string[] {
  const all = new Set<string>()
  gramsOf(q, all)
  const grams = [...all]
  if (grams.length <= QUERY_GRAMS) return grams
  const picked = new Set<string>()
  for (let k = 0; k < QUERY_GRAMS; k++) picked.add(grams[Math.round((k * (grams.length - 1)) / (QUERY_GRAMS - 1))] as string)
  return [...picked]
}

/** MySQL/MariaDB, where migration 20261124000021 made the table. */
export function usesGrams(knex: Knex): boolean {
  return !isSqlite(knex)
}

/** Replaces the grams of these servers (by id) with those of their current columns. */
export async function indexServers(trx: Knex, ids: number[]): Promise<void> {
  if (!usesGrams(trx) || !ids.length) return
  await trx(GRAMS_TABLE).whereIn('server_id', ids).del()
  const rows = (await trx('servers').whereIn('id', ids).select('id', 'hostname', 'address', 'tags')) as Array<Record<string, unknown>>
  await insertGrams(trx, rows)
}

/** Builds the whole index from the servers table (after a bulk load, and for servers stored before the migration). */
export async function rebuildServerGrams(knex: Knex): Promise<void> {
  if (!usesGrams(knex)) return
  await knex(GRAMS_TABLE).del()
  let after = 0
  for (;;) {
    const rows = (await knex('servers').where('id', '>', after).orderBy('id').limit(500).select('id', 'hostname', 'address', 'tags')) as Array<Record<string, unknown>>
    if (!rows.length) return
    await insertGrams(knex, rows)
    after = Number(rows[rows.length - 1]?.id)
  }
}

async function insertGrams(trx: Knex, servers: Array<Record<string, unknown>>): Promise<void> {
  const rows: Array<{ gram: string; server_id: number }> = []
  for (const s of servers) {
    const grams = serverGrams({ hostname: String(s.hostname ?? ''), address: String(s.address ?? ''), tags: String(s.tags ?? '') })
    for (const gram of grams) rows.push({ gram, server_id: Number(s.id) })
  }
  for (let i = 0; i < rows.length; i += INSERT_CHUNK) await trx(GRAMS_TABLE).insert(rows.slice(i, i + INSERT_CHUNK))
}

/**
 * Narrows a query on `servers` to those holding the query's grams: one
 * self-join per gram, so MariaDB reads the rarest gram's servers through the
 * primary key (gram, server_id) and looks the others up by key.
 */
export function whereHasGrams(builder: Knex.QueryBuilder, grams: string[]): Knex.QueryBuilder {
  return builder.whereIn('servers.id', (sub) => {
    sub.select('g0.server_id').from(`${GRAMS_TABLE} as g0`).where('g0.gram', grams[0] as string)
    grams.slice(1).forEach((gram, i) => {
      const alias = `g${i + 1}`
      sub.join(`${GRAMS_TABLE} as ${alias}`, (on) => on.on(`${alias}.server_id`, '=', 'g0.server_id').andOnVal(`${alias}.gram`, '=', gram))
    })
  })
}
