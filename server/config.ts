import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { loadAssetConfig, type AssetConfig } from './assets/config.ts'

/** Thrown for a setting that cannot work; main.ts prints its message as one line. */
export class ConfigError extends Error {}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'

export interface DatabaseConfig {
  client: 'sqlite' | 'mysql'
  /** SQLite: the file; MySQL: the URL as given. */
  filename?: string
  url?: string
}

export interface Config {
  host: string
  port: number
  dataDir: string
  database: DatabaseConfig
  sessionSecret: string
  /** 32 bytes: the AES-256-GCM key for credentials at rest. */
  secretKey: Buffer
  cookieSecure: boolean
  logLevel: LogLevel
  /** Failed logins allowed per address per minute before a 429. */
  loginMaxFailures: number
  /** Largest request body in bytes (413 beyond). */
  bodyLimit: number
  sessionMaxAgeMs: number
  trustProxy: boolean
  /** How long a long poll is held before it answers empty (keep it under any proxy's read timeout). */
  pollTimeoutMs: number
  /** How long a session read is reused before the database is asked again (0: never reused). */
  sessionCacheMs: number
  /** Bound on each release hook, on the console or a server. */
  hookTimeoutMs: number
  /** Bound on connecting to a server over SSH (TCP, handshake, authentication). */
  connectTimeoutMs: number
  /** Bound on cloning or fetching a project's repository. */
  gitTimeoutMs: number
  /** Names this console among several sharing a database (release locks); generated into DATA_DIR. */
  instanceId: string
  /** The CMDB's collection settings (COLLECT_CONCURRENCY, COLLECT_TIMEOUT_S, COLLECTORS). */
  assets: AssetConfig
  /** REDIS_URL and REDIS_PREFIX: the backplane several instances share events through (null: this one alone). */
  redis: { url: string; prefix: string } | null
  /** WORKERS: console processes on this machine, one per core at most useful; more than one needs Redis. */
  workers: number
}

const LOG_LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

/** A whole-number setting within bounds, or its default when unset; exported for the features' own settings (assets/config.ts). */
export function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  if (!/^\d+$/.test(raw)) throw new ConfigError(`${name}=${raw} is not a whole number`)
  const value = Number(raw)
  if (value < min || value > max) throw new ConfigError(`${name}=${raw} is outside ${min}..${max}`)
  return value
}

function boolean(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  if (/^(1|true|yes|on)$/i.test(raw)) return true
  if (/^(0|false|no|off)$/i.test(raw)) return false
  throw new ConfigError(`${name}=${raw} must be true or false`)
}

function database(env: NodeJS.ProcessEnv, dataDir: string): DatabaseConfig {
  const url = env.DATABASE_URL
  if (!url) return { client: 'sqlite', filename: path.join(dataDir, 'longship.sqlite') }
  if (url.startsWith('sqlite:')) {
    const file = url.replace(/^sqlite:(\/\/)?/, '')
    if (!file) throw new ConfigError('DATABASE_URL=sqlite: needs a file name, e.g. sqlite:data/longship.sqlite')
    return { client: 'sqlite', filename: path.resolve(file) }
  }
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new ConfigError(`DATABASE_URL is not a URL (expected mysql://user:pass@host:3306/db)`)
  }
  if (parsed.protocol !== 'mysql:' && parsed.protocol !== 'mariadb:') {
    throw new ConfigError(`DATABASE_URL scheme ${parsed.protocol} is not supported (use mysql:// or leave it unset for SQLite)`)
  }
  if (parsed.pathname.length <= 1) throw new ConfigError('DATABASE_URL names no database (…:3306/longship)')
  return { client: 'mysql', url }
}

/**
 * A secret given in the environment wins; otherwise one is generated into
 * DATA_DIR on first run and read back afterwards, so restarts keep sessions
 * and stored credentials readable.
 */
function persistentSecret(env: NodeJS.ProcessEnv, name: string, dataDir: string, file: string): string {
  const given = env[name]
  if (given) return given
  const target = path.join(dataDir, file)
  if (existsSync(target)) return readFileSync(target, 'utf8').trim()
  const value = randomBytes(32).toString('hex')
  writeFileSync(target, value + '\n', { mode: 0o600 })
  return value
}

function secretKeyFrom(raw: string): Buffer {
  if (/^[0-9a-f]{64}$/i.test(raw)) return Buffer.from(raw, 'hex')
  const b64 = Buffer.from(raw, 'base64')
  if (b64.length === 32 && /^[A-Za-z0-9+/]+=*$/.test(raw)) return b64
  throw new ConfigError('SECRET_KEY must be 32 bytes as 64 hex characters or base64 (openssl rand -hex 32)')
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const dataDir = path.resolve(env.DATA_DIR || 'data')
  try {
    mkdirSync(dataDir, { recursive: true })
  } catch (err) {
    throw new ConfigError(`DATA_DIR=${dataDir} cannot be created: ${(err as Error).message}`)
  }
  const logLevel = (env.LOG_LEVEL || 'info') as LogLevel
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError(`LOG_LEVEL=${logLevel} must be one of ${LOG_LEVELS.join(', ')}`)
  const redis = redisConfig(env)
  const workers = integer(env, 'WORKERS', 1, 1, 64)
  if (workers > 1 && !redis) throw new ConfigError(`WORKERS=${workers} needs REDIS_URL: the processes share live events through Redis`)
  const sessionSecret = persistentSecret(env, 'SESSION_SECRET', dataDir, 'session-secret')
  if (sessionSecret.length < 32) throw new ConfigError('SESSION_SECRET must be at least 32 characters')
  return {
    host: env.HOST || '127.0.0.1',
    port: integer(env, 'PORT', 3000, 0, 65535),
    dataDir,
    database: database(env, dataDir),
    sessionSecret,
    secretKey: secretKeyFrom(persistentSecret(env, 'SECRET_KEY', dataDir, 'secret-key')),
    cookieSecure: boolean(env, 'COOKIE_SECURE', false),
    logLevel,
    loginMaxFailures: integer(env, 'LOGIN_MAX_FAILURES', 5, 1, 1000),
    bodyLimit: integer(env, 'BODY_LIMIT', 1024 * 1024, 1024, 100 * 1024 * 1024),
    sessionMaxAgeMs: integer(env, 'SESSION_MAX_AGE_HOURS', 24 * 7, 1, 24 * 365) * 3600 * 1000,
    trustProxy: boolean(env, 'TRUST_PROXY', false),
    pollTimeoutMs: integer(env, 'POLL_TIMEOUT_MS', 25_000, 100, 120_000),
    sessionCacheMs: integer(env, 'SESSION_CACHE_MS', 5_000, 0, 60_000),
    hookTimeoutMs: integer(env, 'HOOK_TIMEOUT_S', 1800, 1, 86_400) * 1000,
    connectTimeoutMs: integer(env, 'SSH_CONNECT_TIMEOUT_S', 10, 1, 300) * 1000,
    gitTimeoutMs: integer(env, 'GIT_TIMEOUT_S', 120, 1, 3600) * 1000,
    // a restart keeps the id, which is how it knows the releases it ran before are dead
    instanceId: persistentSecret(env, 'INSTANCE_ID', dataDir, 'instance-id').slice(0, 32),
    assets: loadAssetConfig(env),
    redis,
    workers,
  }
}

function redisConfig(env: NodeJS.ProcessEnv): Config['redis'] {
  const url = env.REDIS_URL
  const prefix = env.REDIS_PREFIX || 'longship'
  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(prefix)) throw new ConfigError(`REDIS_PREFIX=${prefix} may hold only letters, digits and _.:- (at most 64)`)
  if (!url) return null
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new ConfigError('REDIS_URL must be a URL like redis://127.0.0.1:6379')
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw new ConfigError(`REDIS_URL must start with redis:// or rediss://, not ${parsed.protocol}//`)
  return { url, prefix }
}
