import { createHash, randomBytes } from 'node:crypto'
import type { Knex } from 'knex'
import { insertedId, toDate } from '../db/connection.ts'
import { tableChanged } from '../db/table-cache.ts'
import { listPage, whereContains, type ListQuery, type Page } from '../web/list-query.ts'
import type { Facts } from './collectors/index.ts'
import type { AssetChange } from './diff.ts'
import { normalizeMac, normalizeUuid, type StoredIdentity } from './identity.ts'
import { meaningful } from './placeholders.ts'

export const MODES = ['agent', 'ssh', 'ansible'] as const
export type Mode = (typeof MODES)[number]

export interface Asset {
  id: number
  server_id: number | null
  hostname: string
  agent_id: string | null
  facts: Facts
  mode: Mode | null
  collected_at: Date | null
  created_at: Date
  updated_at: Date
  os_name: string | null
  memory_bytes: number | null
  disk_bytes: number | null
  ips: string[]
  macs: string[]
  serial: string | null
}

export interface AssetChangeRow {
  id: number
  asset_id: number
  field: string
  old_value: string | null
  new_value: string | null
  source: string
  created_at: Date
}

export const ERROR_KINDS = ['refused', 'rename-refused', 'clone', 'collector', 'host'] as const
export type AssetErrorKind = (typeof ERROR_KINDS)[number]

export interface AssetErrorInput {
  asset_id: number | null
  hostname: string
  kind: AssetErrorKind
  collector?: string | null
  message: string
  stack?: string | null
  source: string
}

export interface AssetError extends Required<AssetErrorInput> {
  id: number
  created_at: Date
}

export interface EnrollmentToken {
  id: number
  name: string
  prefix: string
  created_by: number | null
  created_at: Date
  last_used_at: Date | null
}

export const ASSET_SORTS = ['hostname', 'os_name', 'memory_bytes', 'disk_bytes', 'collected_at', 'mode'] as const
export type AssetSort = (typeof ASSET_SORTS)[number]

const COLUMNS = [
  'id',
  'server_id',
  'hostname',
  'agent_id',
  'facts',
  'mode',
  'collected_at',
  'created_at',
  'updated_at',
  'os_name',
  'memory_bytes',
  'disk_bytes',
  'ips',
  'macs',
  'serial',
]

/** Every stored list column is "a,b,c"; empty means none. */
const split = (value: unknown) => String(value ?? '').split(',').filter(Boolean)

function parseFacts(raw: unknown): Facts {
  try {
    const value = JSON.parse(String(raw ?? '{}')) as unknown
    return value && typeof value === 'object' ? (value as Facts) : {}
  } catch {
    return {}
  }
}

const num = (value: unknown) => (value === null || value === undefined ? null : Number(value))

function toAsset(row: Record<string, unknown>): Asset {
  return {
    id: Number(row.id),
    server_id: num(row.server_id),
    hostname: String(row.hostname),
    agent_id: (row.agent_id as string | null) ?? null,
    facts: parseFacts(row.facts),
    mode: (row.mode as Mode | null) ?? null,
    collected_at: toDate(row.collected_at),
    created_at: toDate(row.created_at) as Date,
    updated_at: toDate(row.updated_at) as Date,
    os_name: (row.os_name as string | null) ?? null,
    memory_bytes: num(row.memory_bytes),
    disk_bytes: num(row.disk_bytes),
    ips: split(row.ips),
    macs: split(row.macs),
    serial: (row.serial as string | null) ?? null,
  }
}

/**
 * The columns copied out of the facts: what the list sorts by and what
 * identity compares. A group the collection lacks leaves its columns out,
 * so a failed collector does not erase a stored value.
 */
export function keyColumns(facts: Facts): Record<string, unknown> {
  const row: Record<string, unknown> = {}
  if (facts.os) row.os_name = (facts.os.prettyName ?? facts.os.name)?.slice(0, 128) ?? null
  if (facts.memory) row.memory_bytes = facts.memory.totalBytes
  if (facts.disk) row.disk_bytes = facts.disk.reduce((sum, d) => sum + d.sizeBytes, 0)
  if (facts.nic) {
    const ips = facts.nic.flatMap((n) => n.ipv4 ?? []).map((ip) => ip.split('/')[0] as string)
    row.ips = [...new Set(ips.filter((ip) => !ip.startsWith('127.')))].join(',').slice(0, 1024)
    const macs = facts.nic.map((n) => (n.mac ? normalizeMac(n.mac) : null)).filter((m): m is string => m !== null)
    row.macs = [...new Set(macs)].join(',').slice(0, 1024)
  }
  if (facts.board) {
    row.machine_id_hash = facts.board.machineIdHash?.slice(0, 64) ?? null
    row.product_uuid = normalizeUuid(facts.board.uuid)?.slice(0, 64) ?? null
    row.serial = meaningful(facts.board.serial)?.slice(0, 128) ?? null
  }
  return row
}

export function hashEnrollmentToken(token: string): string {
  return createHash('sha256').update(token).digest('hex')
}

function toError(row: Record<string, unknown>): AssetError {
  return {
    id: Number(row.id),
    asset_id: num(row.asset_id),
    hostname: String(row.hostname),
    kind: String(row.kind) as AssetErrorKind,
    collector: (row.collector as string | null) ?? null,
    message: String(row.message),
    stack: (row.stack as string | null) ?? null,
    source: String(row.source),
    created_at: toDate(row.created_at) as Date,
  }
}

function toEnrollment(row: Record<string, unknown>): EnrollmentToken {
  return {
    id: Number(row.id),
    name: String(row.name),
    prefix: String(row.prefix),
    created_by: num(row.created_by),
    created_at: toDate(row.created_at) as Date,
    last_used_at: toDate(row.last_used_at),
  }
}

/** Changes are inserted in chunks so a first inventory of a big machine stays under SQLite's bound-variable limit. */
const CHANGE_CHUNK = 100

export function createAssetsRepository(knex: Knex) {
  return {
    async list(query: ListQuery<AssetSort>, trx: Knex = knex): Promise<Page<Asset>> {
      // facts holds the OS, CPU, disks and addresses as text, so one LIKE over it finds them all
      const searched = ['hostname', 'facts']
      return listPage(trx, whereContains(trx('assets'), searched, query.q), query, COLUMNS, toAsset, { uniqueSorts: ['hostname'], cacheTable: 'assets' })
    },

    async findById(id: number, trx: Knex = knex): Promise<Asset | null> {
      const row = await trx('assets').where({ id }).first(COLUMNS)
      return row ? toAsset(row) : null
    },

    async findByServerId(serverId: number, trx: Knex = knex): Promise<Asset | null> {
      const row = await trx('assets').where({ server_id: serverId }).first(COLUMNS)
      return row ? toAsset(row) : null
    },

    /** Every asset as identity sees it; small columns only. */
    async identities(trx: Knex = knex): Promise<StoredIdentity[]> {
      const rows = (await trx('assets').select('id', 'hostname', 'agent_id', 'machine_id_hash', 'product_uuid', 'macs')) as Array<Record<string, unknown>>
      return rows.map((r) => ({
        id: Number(r.id),
        hostname: String(r.hostname),
        agentId: (r.agent_id as string | null) ?? null,
        machineIdHash: (r.machine_id_hash as string | null) ?? null,
        productUuid: (r.product_uuid as string | null) ?? null,
        macs: split(r.macs),
      }))
    },

    /** The server of that name that no other asset is linked to yet. */
    async linkableServerId(hostname: string, assetId: number | null, trx: Knex = knex): Promise<number | null> {
      const server = (await trx('servers').whereRaw('lower(hostname) = ?', [hostname.toLowerCase().replace(/\.$/, '')]).first('id')) as { id: number } | undefined
      if (!server) return null
      const linked = (await trx('assets').where({ server_id: server.id }).first('id')) as { id: number } | undefined
      return !linked || Number(linked.id) === assetId ? Number(server.id) : null
    },

    async create(row: Record<string, unknown>, trx: Knex = knex): Promise<number> {
      const now = new Date()
      const id = insertedId(await trx('assets').insert({ ...row, created_at: now, updated_at: now }))
      tableChanged(trx, 'assets')
      return id
    },

    async update(id: number, row: Record<string, unknown>, trx: Knex = knex): Promise<void> {
      await trx('assets').where({ id }).update({ ...row, updated_at: new Date() })
      tableChanged(trx, 'assets')
    },

    async addChanges(assetId: number, changes: readonly AssetChange[], source: string, at: Date, trx: Knex = knex): Promise<void> {
      const rows = changes.map((c) => ({ asset_id: assetId, field: c.field.slice(0, 128), old_value: c.old, new_value: c.new, source, created_at: at }))
      for (let i = 0; i < rows.length; i += CHANGE_CHUNK) await trx('asset_changes').insert(rows.slice(i, i + CHANGE_CHUNK))
    },

    async changes(assetId: number, limit = 200, trx: Knex = knex): Promise<AssetChangeRow[]> {
      const rows = (await trx('asset_changes').where({ asset_id: assetId }).orderBy('id', 'desc').limit(limit)) as Array<Record<string, unknown>>
      return rows.map((r) => ({
        id: Number(r.id),
        asset_id: Number(r.asset_id),
        field: String(r.field),
        old_value: (r.old_value as string | null) ?? null,
        new_value: (r.new_value as string | null) ?? null,
        source: String(r.source),
        created_at: toDate(r.created_at) as Date,
      }))
    },

    /** Stores errors and returns their ids (one insert each: a batch insert tells one id, and which one differs by dialect). */
    async addErrors(errors: readonly AssetErrorInput[], trx: Knex = knex): Promise<number[]> {
      const now = new Date()
      const ids: number[] = []
      for (const e of errors) {
        ids.push(insertedId(await trx('asset_errors').insert({ ...e, hostname: e.hostname.slice(0, 253), collector: e.collector ?? null, stack: e.stack ?? null, created_at: now })))
      }
      return ids
    },

    async findError(id: number, trx: Knex = knex): Promise<AssetError | null> {
      const row = (await trx('asset_errors').where({ id }).first()) as Record<string, unknown> | undefined
      return row ? toError(row) : null
    },

    async listErrors(query: ListQuery<'created_at'>, trx: Knex = knex): Promise<Page<AssetError>> {
      const base = whereContains(trx('asset_errors'), ['hostname', 'kind', 'message'], query.q)
      return listPage(trx, base, query, ['id', 'asset_id', 'hostname', 'kind', 'collector', 'message', 'stack', 'source', 'created_at'], toError)
    },

    async errorsFor(assetId: number, limit = 50, trx: Knex = knex): Promise<AssetError[]> {
      const rows = (await trx('asset_errors').where({ asset_id: assetId }).orderBy('id', 'desc').limit(limit)) as Array<Record<string, unknown>>
      return rows.map(toError)
    },

    /** Servers with their asset's key columns, for exports and service discovery. */
    async serversWithAssets(trx: Knex = knex): Promise<Array<Record<string, unknown>>> {
      return trx('servers')
        .leftJoin('assets', 'assets.server_id', 'servers.id')
        .leftJoin('credentials', 'credentials.id', 'servers.credential_id')
        .select(
          'credentials.name as credential_name',
          'servers.id',
          'servers.hostname',
          'servers.address',
          'servers.port',
          'servers.username',
          'servers.env',
          'servers.tags',
          'servers.notes',
          'assets.id as asset_id',
          'assets.facts',
          'assets.os_name',
          'assets.memory_bytes',
          'assets.disk_bytes',
          'assets.ips',
          'assets.mode',
          'assets.collected_at',
        )
        .orderBy('servers.hostname')
    },

    async createEnrollmentToken(name: string, createdBy: number | null, trx: Knex = knex): Promise<{ token: string; record: EnrollmentToken }> {
      // a prefix of its own, so a token pasted in the wrong place is recognisable as an agent's
      const token = 'lse_' + randomBytes(24).toString('base64url')
      const id = insertedId(
        await trx('enrollment_tokens').insert({ name, token_hash: hashEnrollmentToken(token), prefix: token.slice(0, 11), created_by: createdBy, created_at: new Date() }),
      )
      const row = await trx('enrollment_tokens').where({ id }).first()
      return { token, record: toEnrollment(row) }
    },

    async listEnrollmentTokens(trx: Knex = knex): Promise<EnrollmentToken[]> {
      const rows = (await trx('enrollment_tokens').orderBy('id', 'desc')) as Array<Record<string, unknown>>
      return rows.map(toEnrollment)
    },

    async revokeEnrollmentToken(id: number, trx: Knex = knex): Promise<EnrollmentToken | null> {
      const row = await trx('enrollment_tokens').where({ id }).first()
      if (!row) return null
      await trx('enrollment_tokens').where({ id }).del()
      return toEnrollment(row)
    },

    /** The token's record when it is a live enrollment token; marks it used. */
    async useEnrollmentToken(token: string, trx: Knex = knex): Promise<EnrollmentToken | null> {
      const row = await trx('enrollment_tokens').where({ token_hash: hashEnrollmentToken(token) }).first()
      if (!row) return null
      await trx('enrollment_tokens').where({ id: row.id }).update({ last_used_at: new Date() })
      return toEnrollment(row)
    },
  }
}

export type AssetsRepository = ReturnType<typeof createAssetsRepository>
