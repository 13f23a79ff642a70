import type { Knex } from 'knex'
import { toDate } from '../db/connection.ts'
import { listPage, type ListQuery, type Page } from '../web/list-query.ts'

export interface AuditEntry {
  id: number
  user_id: number | null
  username: string | null
  address: string
  action: string
  target_type: string | null
  target_id: string | null
  detail: string
  created_at: Date
}

export interface AuditInput {
  user_id: number | null
  username: string | null
  address: string
  action: string
  target_type?: string | null
  target_id?: string | number | null
  detail?: string
}

const COLUMNS = ['id', 'user_id', 'username', 'address', 'action', 'target_type', 'target_id', 'detail', 'created_at']

function toEntry(row: Record<string, unknown>): AuditEntry {
  return {
    id: Number(row.id),
    user_id: row.user_id === null ? null : Number(row.user_id),
    username: (row.username as string | null) ?? null,
    address: String(row.address),
    action: String(row.action),
    target_type: (row.target_type as string | null) ?? null,
    target_id: row.target_id === null || row.target_id === undefined ? null : String(row.target_id),
    detail: String(row.detail ?? ''),
    created_at: toDate(row.created_at) as Date,
  }
}

export function createAuditRepository(knex: Knex) {
  return {
    async record(entry: AuditInput, trx: Knex = knex): Promise<void> {
      await trx('audit_log').insert({
        user_id: entry.user_id,
        username: entry.username?.slice(0, 64) ?? null,
        address: entry.address.slice(0, 64),
        action: entry.action.slice(0, 64),
        target_type: entry.target_type ?? null,
        target_id: entry.target_id === null || entry.target_id === undefined ? null : String(entry.target_id).slice(0, 64),
        detail: (entry.detail ?? '').slice(0, 1024),
        created_at: new Date(),
      })
    },

    async list(query: ListQuery<'created_at'>, filter: { username?: string; action?: string }, trx: Knex = knex): Promise<Page<AuditEntry>> {
      const base = trx('audit_log')
      if (filter.username) base.where('username', filter.username)
      if (filter.action) base.where('action', filter.action)
      return listPage(trx, base, query, COLUMNS, toEntry)
    },

    async actions(trx: Knex = knex): Promise<string[]> {
      const rows = await trx('audit_log').distinct('action').orderBy('action')
      return rows.map((r: { action: string }) => r.action)
    },
  }
}

export type AuditRepository = ReturnType<typeof createAuditRepository>
