import { createHash, randomBytes } from 'node:crypto'
import type { Knex } from 'knex'
import { insertedId, isSqlite, toDate } from '../db/connection.ts'
import { cachedRead, tableChanged } from '../db/table-cache.ts'
import { listPage, whereContains, type ListQuery, type Page } from '../web/list-query.ts'

export type Role = 'admin' | 'deployer' | 'viewer'
export const ROLES: Role[] = ['admin', 'deployer', 'viewer']

export interface User {
  id: number
  username: string
  display_name: string
  role: Role
  last_login_at: Date | null
  created_at: Date
  updated_at: Date
}

export interface UserWithHash extends User {
  password_hash: string
}

export interface ApiToken {
  id: number
  user_id: number
  name: string
  prefix: string
  last_used_at: Date | null
  created_at: Date
}

const PUBLIC_COLUMNS = ['id', 'username', 'display_name', 'role', 'last_login_at', 'created_at', 'updated_at']

function toUser(row: Record<string, unknown>): User {
  return {
    id: Number(row.id),
    username: String(row.username),
    display_name: String(row.display_name ?? ''),
    role: row.role as Role,
    last_login_at: toDate(row.last_login_at),
    created_at: toDate(row.created_at) as Date,
    updated_at: toDate(row.updated_at) as Date,
  }
}

function toToken(row: Record<string, unknown>): ApiToken {
  return {
    id: Number(row.id),
    user_id: Number(row.user_id),
    name: String(row.name),
    prefix: String(row.prefix),
    last_used_at: toDate(row.last_used_at),
    created_at: toDate(row.created_at) as Date,
  }
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex')
}

export const USER_SORTS = ['username', 'display_name', 'role', 'created_at', 'last_login_at'] as const

export function createUsersRepository(knex: Knex) {
  return {
    async count(trx: Knex = knex): Promise<number> {
      const row = (await trx('users').count({ n: '*' }).first()) as { n: number | string }
      return Number(row.n)
    },

    async findById(id: number, trx: Knex = knex): Promise<User | null> {
      const row = await trx('users').where({ id }).first(PUBLIC_COLUMNS)
      return row ? toUser(row) : null
    },

    /**
     * The signed-in user, asked on every request: cached for a moment, and
     * dropped at once when this console changes any user (a role, a delete).
     */
    async findSignedIn(id: number): Promise<User | null> {
      return cachedRead(knex, 'users', `id:${id}`, () => this.findById(id))
    },

    async findByUsernameWithHash(username: string, trx: Knex = knex): Promise<UserWithHash | null> {
      const row = await trx('users').where({ username }).first()
      return row ? { ...toUser(row), password_hash: String(row.password_hash) } : null
    },

    async findWithHash(id: number, trx: Knex = knex): Promise<UserWithHash | null> {
      const row = await trx('users').where({ id }).first()
      return row ? { ...toUser(row), password_hash: String(row.password_hash) } : null
    },

    async list(query: ListQuery<(typeof USER_SORTS)[number]>, trx: Knex = knex): Promise<Page<User>> {
      const base = whereContains(trx('users'), ['username', 'display_name'], query.q)
      return listPage(trx, base, query, PUBLIC_COLUMNS, toUser, { uniqueSorts: ['username'] })
    },

    async countAdmins(trx: Knex = knex): Promise<number> {
      const row = (await trx('users').where({ role: 'admin' }).count({ n: '*' }).first()) as { n: number | string }
      return Number(row.n)
    },

    /** Case-insensitive, so SQLite refuses "Admin" beside "admin" just as MySQL's collation does. */
    async usernameTaken(username: string, exceptId: number | null = null, trx: Knex = knex): Promise<boolean> {
      const query = trx('users').whereRaw('lower(username) = ?', [username.toLowerCase()])
      if (exceptId) query.whereNot({ id: exceptId })
      return !!(await query.first('id'))
    },

    /**
     * The admins' ids, locked on MySQL until the transaction ends, so that two
     * admins demoting each other at once cannot both pass the last-admin check
     * (SQLite writes one transaction at a time and has no FOR UPDATE).
     */
    async lockAdminIds(trx: Knex): Promise<number[]> {
      const query = trx('users').where({ role: 'admin' }).select('id')
      if (!isSqlite(trx)) query.forUpdate()
      return (await query).map((row: { id: number | string }) => Number(row.id))
    },

    async create(input: { username: string; display_name: string; role: Role; password_hash: string }, trx: Knex = knex): Promise<User> {
      const now = new Date()
      const id = insertedId(await trx('users').insert({ ...input, created_at: now, updated_at: now }))
      tableChanged(trx, 'users')
      return (await this.findById(id, trx)) as User
    },

    async update(id: number, input: Partial<{ username: string; display_name: string; role: Role; password_hash: string }>, trx: Knex = knex): Promise<User | null> {
      await trx('users').where({ id }).update({ ...input, updated_at: new Date() })
      tableChanged(trx, 'users')
      return this.findById(id, trx)
    },

    async touchLogin(id: number, trx: Knex = knex): Promise<void> {
      await trx('users').where({ id }).update({ last_login_at: new Date() })
    },

    async remove(id: number, trx: Knex = knex): Promise<boolean> {
      const removed = (await trx('users').where({ id }).del()) > 0
      tableChanged(trx, 'users')
      return removed
    },

    /** Returns the token once; only its hash is kept. */
    async createToken(userId: number, name: string, trx: Knex = knex): Promise<{ token: string; record: ApiToken }> {
      const token = 'ls_' + randomBytes(24).toString('base64url')
      const now = new Date()
      const id = insertedId(
        await trx('api_tokens').insert({ user_id: userId, name, token_hash: hashToken(token), prefix: token.slice(0, 10), created_at: now }),
      )
      const row = await trx('api_tokens').where({ id }).first()
      return { token, record: toToken(row) }
    },

    async listTokens(userId: number, trx: Knex = knex): Promise<ApiToken[]> {
      const rows = await trx('api_tokens').where({ user_id: userId }).orderBy('id', 'desc')
      return rows.map(toToken)
    },

    async revokeToken(userId: number, tokenId: number, trx: Knex = knex): Promise<boolean> {
      return (await trx('api_tokens').where({ id: tokenId, user_id: userId }).del()) > 0
    },

    async findByToken(token: string, trx: Knex = knex): Promise<User | null> {
      const row = await trx('api_tokens').where({ token_hash: hashToken(token) }).first('id', 'user_id', 'last_used_at')
      if (!row) return null
      // "last used" to the minute is all the page shows; a script polling the API
      // should not cost a database write per call
      const lastUsed = toDate(row.last_used_at)
      if (!lastUsed || Date.now() - lastUsed.getTime() > 60_000) {
        await trx('api_tokens').where({ id: row.id }).update({ last_used_at: new Date() })
      }
      return this.findById(Number(row.user_id), trx)
    },
  }
}

export type UsersRepository = ReturnType<typeof createUsersRepository>
