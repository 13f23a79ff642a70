import type { Knex } from 'knex'
import { insertedId, toDate } from '../db/connection.ts'
import { tableChanged } from '../db/table-cache.ts'
import { listPage, whereContains, type ListQuery, type Page } from '../web/list-query.ts'

export type CredentialKind = 'key' | 'password'
export const CREDENTIAL_KINDS: CredentialKind[] = ['key', 'password']

/** What pages and the API may see: never the secret. */
export interface Credential {
  id: number
  name: string
  kind: CredentialKind
  fingerprint: string
  notes: string
  server_count: number
  created_at: Date
  updated_at: Date
}

export const CREDENTIAL_SORTS = ['name', 'kind', 'created_at', 'updated_at'] as const
export type CredentialSort = (typeof CREDENTIAL_SORTS)[number]

const COLUMNS = ['id', 'name', 'kind', 'fingerprint', 'notes', 'created_at', 'updated_at']

function toCredential(row: Record<string, unknown>): Credential {
  return {
    id: Number(row.id),
    name: String(row.name),
    kind: row.kind as CredentialKind,
    fingerprint: String(row.fingerprint ?? ''),
    notes: String(row.notes ?? ''),
    server_count: Number(row.server_count ?? 0),
    created_at: toDate(row.created_at) as Date,
    updated_at: toDate(row.updated_at) as Date,
  }
}

export function createCredentialsRepository(knex: Knex) {
  const withCount = (trx: Knex) => trx.raw('(select count(*) from servers where servers.credential_id = credentials.id) as server_count')

  return {
    async list(query: ListQuery<CredentialSort>, trx: Knex = knex): Promise<Page<Credential>> {
      const builder = whereContains(trx('credentials'), ['name', 'notes'], query.q)
      return listPage(trx, builder, query, [...COLUMNS, withCount(trx)], toCredential, { uniqueSorts: ['name'] })
    },

    async options(trx: Knex = knex): Promise<Array<{ id: number; name: string; kind: CredentialKind }>> {
      const rows = await trx('credentials').select('id', 'name', 'kind').orderBy('name')
      return rows.map((r: Record<string, unknown>) => ({ id: Number(r.id), name: String(r.name), kind: r.kind as CredentialKind }))
    },

    async findById(id: number, trx: Knex = knex): Promise<Credential | null> {
      const row = await trx('credentials').where({ id }).first([...COLUMNS, withCount(trx)])
      return row ? toCredential(row) : null
    },

    /** The servers that connect with this credential (they lose it when it is deleted). */
    async serversUsing(id: number, trx: Knex = knex): Promise<Array<{ id: number; hostname: string }>> {
      const rows = await trx('servers').where({ credential_id: id }).select('id', 'hostname').orderBy('hostname')
      return rows.map((r: Record<string, unknown>) => ({ id: Number(r.id), hostname: String(r.hostname) }))
    },

    /** The kind and encrypted secret, for the SSH runner only. */
    async encryptedSecret(id: number, trx: Knex = knex): Promise<{ kind: CredentialKind; secret_encrypted: string } | null> {
      const row = await trx('credentials').where({ id }).first('kind', 'secret_encrypted')
      return row ? { kind: row.kind as CredentialKind, secret_encrypted: String(row.secret_encrypted) } : null
    },

    async create(input: { name: string; kind: CredentialKind; secret_encrypted: string; fingerprint: string; notes: string }, trx: Knex = knex): Promise<Credential> {
      const now = new Date()
      const id = insertedId(await trx('credentials').insert({ ...input, created_at: now, updated_at: now }))
      return (await this.findById(id, trx)) as Credential
    },

    async update(
      id: number,
      input: Partial<{ name: string; kind: CredentialKind; secret_encrypted: string; fingerprint: string; notes: string }>,
      trx: Knex = knex,
    ): Promise<Credential | null> {
      const changed = await trx('credentials').where({ id }).update({ ...input, updated_at: new Date() })
      // the servers list shows a credential's name (see page-cache.ts)
      tableChanged(trx, 'credentials')
      return changed ? this.findById(id, trx) : null
    },

    async remove(id: number, trx: Knex = knex): Promise<boolean> {
      const removed = (await trx('credentials').where({ id }).del()) > 0
      tableChanged(trx, 'credentials')
      return removed
    },
  }
}

export type CredentialsRepository = ReturnType<typeof createCredentialsRepository>
