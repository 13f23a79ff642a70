import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import type { TestContext } from 'node:test'
import knexFactory from 'knex'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import { buildApp } from '../server/app.ts'
import { loadConfig, type Config } from '../server/config.ts'
import { createUsersRepository, type Role, type User } from '../server/users/repository.ts'
import { hashPassword } from '../server/users/password.ts'

export const TEST_PASSWORD = 'correct horse battery'

/** A directory of the test's own under the system temp dir (`longship-<name>-…`), removed when the test ends. */
export function tempDir(t: TestContext, name: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), `longship-${name}-`))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/**
 * A database of the test's own: a temporary SQLite file, or, when
 * DATABASE_URL names a MySQL/MariaDB server, a fresh database on it that is
 * dropped afterwards, so test files can run in parallel on either.
 */
export async function createTestDatabase(t: TestContext): Promise<{ env: Record<string, string>; dataDir: string }> {
  const dataDir = tempDir(t, 'test')
  const url = process.env.DATABASE_URL
  if (!url || url.startsWith('sqlite:')) return { env: { DATA_DIR: dataDir }, dataDir }
  const parsed = new URL(url)
  const name = `${parsed.pathname.slice(1)}_${process.pid}_${randomBytes(3).toString('hex')}`
  const admin = knexFactory({
    client: 'mysql2',
    connection: { host: parsed.hostname, port: Number(parsed.port || 3306), user: decodeURIComponent(parsed.username), password: decodeURIComponent(parsed.password) },
    pool: { min: 0, max: 1 },
  })
  await admin.raw('CREATE DATABASE ?? CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci', [name])
  t.after(async () => {
    await admin.raw('DROP DATABASE IF EXISTS ??', [name])
    await admin.destroy()
  })
  parsed.pathname = '/' + name
  return { env: { DATA_DIR: dataDir, DATABASE_URL: parsed.toString() }, dataDir }
}

export async function testConfig(t: TestContext, env: Record<string, string> = {}): Promise<Config> {
  const db = await createTestDatabase(t)
  return loadConfig({ LOG_LEVEL: 'silent', ...db.env, ...env })
}

/** A built app on its own database, closed when the test ends. */
export async function buildTestApp(t: TestContext, env: Record<string, string> = {}): Promise<FastifyInstance> {
  const app = await buildApp(await testConfig(t, env), { logger: false })
  t.after(() => app.close())
  return app
}

export async function createUser(app: FastifyInstance, username: string, role: Role, password = TEST_PASSWORD): Promise<User> {
  return createUsersRepository(app.knex).create({ username, display_name: username, role, password_hash: await hashPassword(password) })
}

/**
 * A browser-like client over inject: keeps cookies, knows its CSRF token
 * (read from the last page's meta tag) and sends it with forms and ajax.
 */
export class Client {
  cookies = new Map<string, string>()
  csrf = ''

  constructor(readonly app: FastifyInstance) {}

  private cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ')
  }

  async request(opts: InjectOptions): Promise<LightMyRequestResponse> {
    const headers = { ...(opts.headers ?? {}) } as Record<string, string>
    if (this.cookies.size) headers.cookie = this.cookieHeader()
    const res = await this.app.inject({ ...opts, headers })
    for (const c of res.cookies as Array<{ name: string; value: string; maxAge?: number; expires?: Date }>) {
      if (c.maxAge === 0 || (c.expires && c.expires.getTime() < Date.now())) this.cookies.delete(c.name)
      else this.cookies.set(c.name, c.value)
    }
    const token = /<meta name="csrf-token" content="([^"]*)"/.exec(res.body)
    if (token?.[1]) this.csrf = token[1]
    return res
  }

  get(url: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
    return this.request({ method: 'GET', url, headers })
  }

  /** A form post, as a browser with JavaScript off sends it; `_csrf` added unless given. */
  form(url: string, fields: Record<string, string | string[]> = {}, opts: { csrf?: string | null } = {}): Promise<LightMyRequestResponse> {
    const params = new URLSearchParams()
    const token = opts.csrf === undefined ? this.csrf : opts.csrf
    if (token !== null) params.append('_csrf', token)
    for (const [k, v] of Object.entries(fields)) for (const item of Array.isArray(v) ? v : [v]) params.append(k, item)
    return this.request({ method: 'POST', url, payload: params.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } })
  }

  /** A JSON call as our ajax and API users make it, with the CSRF header. */
  json(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown, opts: { csrf?: string | null } = {}): Promise<LightMyRequestResponse> {
    const headers: Record<string, string> = { accept: 'application/json' }
    const token = opts.csrf === undefined ? this.csrf : opts.csrf
    if (token !== null && method !== 'GET') headers['x-csrf-token'] = token
    if (body !== undefined) headers['content-type'] = 'application/json'
    return this.request({ method, url, headers, payload: body === undefined ? undefined : JSON.stringify(body) })
  }
}

/** A client signed in as a new user of that role (through the real login form). */
export async function signIn(app: FastifyInstance, role: Role, username = `${role}-${randomBytes(3).toString('hex')}`): Promise<Client & { user: User }> {
  const user = await createUser(app, username, role)
  const client = new Client(app)
  await client.get('/login')
  const res = await client.form('/login', { username, password: TEST_PASSWORD })
  if (res.statusCode !== 302) throw new Error(`sign-in failed: ${res.statusCode} ${res.body.slice(0, 200)}`)
  await client.get('/servers')
  return Object.assign(client, { user })
}

/** Row count of a table: "nothing changed" checks compare it before and after. */
export async function countRows(app: FastifyInstance, table: string): Promise<number> {
  const row = (await app.knex(table).count({ n: '*' }).first()) as { n: number | string }
  return Number(row.n)
}

/** Waits until the hub holds at least `count` long polls, so what is published next reaches them. */
export async function pollsHeld(app: FastifyInstance, count: number): Promise<void> {
  while (app.hub.snapshot().waiting < count) await new Promise((r) => setTimeout(r, 5))
}
