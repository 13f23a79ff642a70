import type { Knex } from 'knex'
import { insertedId, toDate } from '../db/connection.ts'
import { tableChanged } from '../db/table-cache.ts'
import { listPage, whereContains, type ListQuery, type Page } from '../web/list-query.ts'
import { indexServers, queryGrams, usesGrams, whereHasGrams } from './search-grams.ts'

export interface Server {
  id: number
  hostname: string
  address: string
  port: number
  username: string
  credential_id: number | null
  credential_name: string | null
  env: string
  tags: string[]
  notes: string
  host_key_fingerprint: string | null
  created_at: Date
  updated_at: Date
}

export interface ServerInput {
  hostname: string
  address: string
  port: number
  username: string
  credential_id: number | null
  env: string
  tags: string[]
  notes: string
}

const ID_CHUNK = 500

/** What connecting to a server needs, host key included (list pages never read it). */
export interface SshServer {
  id: number
  hostname: string
  address: string
  port: number
  username: string
  credential_id: number | null
  host_key: string | null
}

export const SERVER_SORTS = ['hostname', 'address', 'env', 'port', 'username', 'created_at', 'updated_at'] as const
export type ServerSort = (typeof SERVER_SORTS)[number]

const COLUMNS = [
  'servers.id',
  'servers.hostname',
  'servers.address',
  'servers.port',
  'servers.username',
  'servers.credential_id',
  'credentials.name as credential_name',
  'servers.env',
  'servers.tags',
  'servers.notes',
  'servers.host_key_fingerprint',
  'servers.created_at',
  'servers.updated_at',
]

/** Tags are stored as ",a,b," so that a search for one tag is a plain LIKE. */
export function tagsToColumn(tags: string[]): string {
  return tags.length ? `,${tags.join(',')},` : ''
}

function toServer(row: Record<string, unknown>): Server {
  return {
    id: Number(row.id),
    hostname: String(row.hostname),
    address: String(row.address),
    port: Number(row.port),
    username: String(row.username),
    credential_id: row.credential_id === null || row.credential_id === undefined ? null : Number(row.credential_id),
    credential_name: (row.credential_name as string | null) ?? null,
    env: String(row.env),
    tags: String(row.tags ?? '').split(',').filter(Boolean),
    notes: String(row.notes ?? ''),
    host_key_fingerprint: (row.host_key_fingerprint as string | null) ?? null,
    created_at: toDate(row.created_at) as Date,
    updated_at: toDate(row.updated_at) as Date,
  }
}

function toRow(input: Partial<ServerInput>): Record<string, unknown> {
  const row: Record<string, unknown> = { ...input }
  if (input.tags) row.tags = tagsToColumn(input.tags)
  return row
}

const SEARCHED = ['servers.hostname', 'servers.address', 'servers.tags']

/**
 * Servers whose hostname, address or tags contain q, case-insensitively.
 * A query of three characters or more is looked up in a trigram index:
 * - on SQLite the FTS5 index of migration 20261124000020, as one quoted
 *   phrase, so nothing the user types is read as FTS syntax. FTS5 cannot
 *   parse a NUL even inside quotes: parseListQuery drops them, and a caller
 *   that did not gets LIKE (where, on SQLite, the NUL ends the pattern)
 *   rather than an error;
 * - on MySQL/MariaDB the gram table of search-grams.ts narrows the rows and
 *   LIKE decides among them.
 * Shorter queries, which no trigram index can look up, use LIKE alone.
 */
function whereServerContains(trx: Knex, builder: Knex.QueryBuilder, q: string): Knex.QueryBuilder {
  if (!q) return builder
  if (usesGrams(trx)) {
    const grams = queryGrams(q)
    return whereContains(grams.length ? whereHasGrams(builder, grams) : builder, SEARCHED, q)
  }
  // SQLite from here (usesGrams is every other database)
  if ([...q].length < 3 || q.includes('\0')) return whereContains(builder, SEARCHED, q)
  const phrase = '"' + q.replace(/"/g, '""') + '"'
  return builder.whereRaw('?? in (select rowid from servers_search where servers_search match ?)', ['servers.id', phrase])
}

/** Whether a write changes what the search index holds for a server. */
function touchesSearch(input: Partial<ServerInput>): boolean {
  return input.hostname !== undefined || input.address !== undefined || input.tags !== undefined
}

/**
 * Runs a write and the reindex after it in one transaction on MySQL/MariaDB:
 * the row lock the write takes keeps a concurrent edit of the same server from
 * leaving the other edit's grams behind. SQLite's triggers keep its index.
 */
function withGrams<T>(trx: Knex, write: (trx: Knex) => Promise<T>): Promise<T> {
  if (!usesGrams(trx) || trx.isTransaction) return write(trx)
  return trx.transaction((inner) => write(inner))
}

export function createServersRepository(knex: Knex) {
  const base = (trx: Knex) => trx('servers').leftJoin('credentials', 'credentials.id', 'servers.credential_id')

  return {
    async list(query: ListQuery<ServerSort>, trx: Knex = knex): Promise<Page<Server>> {
      return listPage(trx, whereServerContains(trx, base(trx), query.q), { ...query, sort: `servers.${query.sort}` }, COLUMNS, toServer, {
        // the credentials join never changes how many servers there are
        count: whereServerContains(trx, trx('servers'), query.q),
        uniqueSorts: ['servers.hostname'],
        cacheTable: 'servers',
      })
    },

    /** Every server, for pickers (a project's servers); small columns only. */
    async options(trx: Knex = knex): Promise<Array<{ id: number; hostname: string; env: string }>> {
      const rows = await trx('servers').select('id', 'hostname', 'env').orderBy('hostname')
      return rows.map((r: Record<string, unknown>) => ({ id: Number(r.id), hostname: String(r.hostname), env: String(r.env) }))
    },

    async findById(id: number, trx: Knex = knex): Promise<Server | null> {
      const row = await base(trx).where('servers.id', id).first(COLUMNS)
      return row ? toServer(row) : null
    },

    async projectsUsing(serverId: number, trx: Knex = knex): Promise<Array<{ id: number; title: string }>> {
      const rows = await trx('projects')
        .join('project_servers', 'project_servers.project_id', 'projects.id')
        .where('project_servers.server_id', serverId)
        .select('projects.id', 'projects.title')
        .orderBy('projects.title')
      return rows.map((r: Record<string, unknown>) => ({ id: Number(r.id), title: String(r.title) }))
    },

    /** Which of these ids are servers; asked in chunks to stay under SQLite's bound-variable limit. */
    async existingIds(ids: number[], trx: Knex = knex): Promise<number[]> {
      const found: number[] = []
      for (let i = 0; i < ids.length; i += ID_CHUNK) {
        const rows = await trx('servers').whereIn('id', ids.slice(i, i + ID_CHUNK)).select('id')
        for (const r of rows as Array<{ id: number }>) found.push(Number(r.id))
      }
      return found
    },

    async create(input: ServerInput, trx: Knex = knex): Promise<Server> {
      const now = new Date()
      const id = await withGrams(trx, async (t) => {
        const inserted = insertedId(await t('servers').insert({ ...toRow(input), created_at: now, updated_at: now }))
        await indexServers(t, [inserted])
        return inserted
      })
      tableChanged(trx, 'servers')
      return (await this.findById(id, trx)) as Server
    },

    async update(id: number, input: Partial<ServerInput>, trx: Knex = knex): Promise<Server | null> {
      const write = (t: Knex) => t('servers').where({ id }).update({ ...toRow(input), updated_at: new Date() })
      const changed = touchesSearch(input)
        ? await withGrams(trx, async (t) => {
            const n = await write(t)
            if (n) await indexServers(t, [id])
            return n
          })
        : await write(trx)
      tableChanged(trx, 'servers')
      return changed ? this.findById(id, trx) : null
    },

    /** The servers with these ids, with their pinned host keys, in hostname order. */
    async forSsh(ids: number[], trx: Knex = knex): Promise<SshServer[]> {
      const found: SshServer[] = []
      for (let i = 0; i < ids.length; i += ID_CHUNK) {
        const rows = await trx('servers').whereIn('id', ids.slice(i, i + ID_CHUNK)).select('id', 'hostname', 'address', 'port', 'username', 'credential_id', 'host_key')
        for (const r of rows as Array<Record<string, unknown>>) {
          found.push({
            id: Number(r.id),
            hostname: String(r.hostname),
            address: String(r.address),
            port: Number(r.port),
            username: String(r.username),
            credential_id: r.credential_id === null || r.credential_id === undefined ? null : Number(r.credential_id),
            host_key: (r.host_key as string | null) ?? null,
          })
        }
      }
      return found.sort((a, b) => (a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0))
    },

    /**
     * Pins a host key seen on first use. Only where none is pinned yet: two
     * releases reaching a new server at once must not overwrite each other,
     * and a changed key is never pinned by a connection.
     */
    async pinHostKey(id: number, key: string, fingerprint: string, trx: Knex = knex): Promise<void> {
      await trx('servers').where({ id }).whereNull('host_key').update({ host_key: key, host_key_fingerprint: fingerprint })
    },

    /** Forgets the pinned key (the server was reinstalled): the next connection pins the new one. */
    async clearHostKey(id: number, trx: Knex = knex): Promise<boolean> {
      return (await trx('servers').where({ id }).update({ host_key: null, host_key_fingerprint: null })) > 0
    },

    async remove(id: number, trx: Knex = knex): Promise<boolean> {
      const removed = (await trx('servers').where({ id }).del()) > 0
      tableChanged(trx, 'servers')
      return removed
    },
  }
}

export type ServersRepository = ReturnType<typeof createServersRepository>
