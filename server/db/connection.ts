import knexFactory, { type Knex } from 'knex'
import path from 'node:path'
import { mkdirSync } from 'node:fs'
import type { DatabaseConfig } from '../config.ts'
import { migrationSource } from './migration-source.ts'

// Knex prints pool errors itself; a failed connection is reported once, as one
// line, by the db plugin, so that noise is dropped and the rest still shows.
const log = {
  warn: (message: unknown) => {
    if (!String(message).startsWith('Acquire connection error')) console.warn(message)
  },
  error: (message: unknown) => console.error(message),
  deprecate: (method: string, alternative: string) => console.warn(`knex: ${method} is deprecated, use ${alternative}`),
  debug: () => undefined,
}

interface SqliteConnection {
  pragma(sql: string): unknown
  prepare(sql: string): unknown
}

/** Statements kept per SQLite connection; a list page or a poll's sign-in check asks the same few again and again. */
export const PREPARED_STATEMENTS = 500

/**
 * Knex prepares every query anew on better-sqlite3 (about 80 µs for a list
 * page's query with 10,000 servers, as much as running it). A statement
 * only depends on its SQL text, and knex runs each one to completion
 * synchronously (`all` or `run`, never an open iterator), so one prepared
 * statement per SQL text can serve every call. SQLite re-prepares a kept
 * statement by itself when the schema changes (a migration). Kept most
 * recently used first, at most PREPARED_STATEMENTS of them: SQL with
 * a varying number of placeholders (`whereIn`, batch inserts) comes and goes.
 */
function reusePreparedStatements(conn: SqliteConnection): void {
  const prepare = conn.prepare.bind(conn)
  const kept = new Map<string, unknown>()
  conn.prepare = (sql: string) => {
    let statement = kept.get(sql)
    if (statement) kept.delete(sql)
    else {
      statement = prepare(sql)
      if (kept.size >= PREPARED_STATEMENTS) kept.delete(kept.keys().next().value as string)
    }
    kept.set(sql, statement)
    return statement
  }
}

/**
 * Every per-dialect detail lives here (Ghost's data/db/connection.js):
 * SQLite gets foreign keys, WAL and a busy timeout; MySQL/MariaDB gets UTC,
 * utf8mb4 and big numbers as strings-free numbers.
 */
export function createKnex(db: DatabaseConfig): Knex {
  if (db.client === 'sqlite') {
    const filename = db.filename as string
    if (filename !== ':memory:') mkdirSync(path.dirname(filename), { recursive: true })
    return knexFactory({
      client: 'better-sqlite3',
      connection: { filename },
      useNullAsDefault: true,
      log,
      pool: {
        min: 1,
        max: 1,
        afterCreate(conn: SqliteConnection, done: (err: Error | null, conn: unknown) => void) {
          reusePreparedStatements(conn)
          conn.pragma('foreign_keys = ON')
          conn.pragma('journal_mode = WAL')
          conn.pragma('busy_timeout = 5000')
          conn.pragma('synchronous = NORMAL')
          done(null, conn)
        },
      },
      migrations: { migrationSource },
    })
  }
  const url = new URL(db.url as string)
  return knexFactory({
    client: 'mysql2',
    connection: {
      host: url.hostname,
      port: url.port ? Number(url.port) : 3306,
      user: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password),
      database: decodeURIComponent(url.pathname.slice(1)),
      timezone: 'Z',
      charset: 'utf8mb4',
      supportBigNumbers: true,
      bigNumberStrings: false,
      connectTimeout: 5000,
    },
    pool: { min: 0, max: 10 },
    log,
    migrations: { migrationSource },
  })
}

export function isSqlite(knex: Knex): boolean {
  return knex.client.config.client === 'better-sqlite3'
}

/** A unique-constraint violation in either dialect, so callers can say "already exists". */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; errno?: number }
  return e?.code === 'ER_DUP_ENTRY' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
}

export function isForeignKeyViolation(err: unknown): boolean {
  const e = err as { code?: string }
  return e?.code === 'SQLITE_CONSTRAINT_FOREIGNKEY' || e?.code === 'ER_ROW_IS_REFERENCED_2' || e?.code === 'ER_ROW_IS_REFERENCED' || e?.code === 'ER_NO_REFERENCED_ROW_2'
}

/** Dates come back as Date (mysql2), epoch ms (better-sqlite3) or text; pages want one kind. */
export function toDate(value: unknown): Date | null {
  if (value === null || value === undefined) return null
  if (value instanceof Date) return value
  if (typeof value === 'number') return new Date(value)
  if (typeof value === 'string') return /^\d+$/.test(value) ? new Date(Number(value)) : new Date(value)
  return null
}

/** The id of a freshly inserted row: MySQL returns [id], SQLite [id] too, but never the row. */
export function insertedId(result: unknown): number {
  const first = Array.isArray(result) ? result[0] : result
  if (typeof first === 'object' && first !== null && 'id' in first) return Number((first as { id: unknown }).id)
  return Number(first)
}
