/**
 * The two servers bench/poll.ts measures, behind one small interface: how to
 * start and stop it, how a tab polls it, how to publish to it, how many polls
 * it holds and how much memory and CPU its processes use.
 *
 * - longship: `npm start`'s command on a fresh SQLite file,
 *   signed in through the real /setup form; tabs POST /poll with the session
 *   cookie, the publisher POSTs /api/room/messages with the CSRF header.
 * - nchan: Debian's nginx with libnginx-mod-nchan, on a config written from
 *   bench/nchan/nginx.conf.template; tabs GET /sub (long poll, multipart),
 *   the publisher POSTs /pub, one message per request.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

// ---------------------------------------------------------------- processes

/** Every process the bench started and has not seen exit: killed on any way out. */
const started = new Set<number>()

export function track(child: ChildProcess): void {
  if (child.pid === undefined) return
  const pid = child.pid
  started.add(pid)
  child.once('exit', () => started.delete(pid))
}

/** Last resort (process exit, a second Ctrl-C): SIGKILL to whatever is left, by pid. */
export function killLeftovers(): void {
  for (const pid of started) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
  started.clear()
}

/**
 * Ctrl-C (or SIGTERM) runs `stop` and exits 130; a second one, or any exit,
 * SIGKILLs whatever the bench started. Returns whether it was interrupted,
 * so a run whose hosts vanished under it does not report that as an error.
 */
export function stopOnInterrupt(what: string, stop: () => Promise<unknown>): () => boolean {
  let interrupted = false
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (interrupted) {
        killLeftovers()
        process.exit(130)
      }
      interrupted = true
      console.error(`\n${signal}: stopping ${what}...`)
      void stop().finally(() => process.exit(130))
    })
  }
  process.on('exit', killLeftovers)
  return () => interrupted
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Sends `signal`, waits for the exit, and SIGKILLs after `graceMs`; `extra` pids (nginx workers) too. */
async function stopProcess(child: ChildProcess, signal: NodeJS.Signals, graceMs: number, extra: number[] = []): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.kill(signal)
    const timer = sleep(graceMs).then(() => 'late' as const)
    if ((await Promise.race([exited.then(() => 'ok' as const), timer])) === 'late') {
      child.kill('SIGKILL')
      await exited
    }
  }
  for (const pid of extra) {
    for (let i = 0; i < 50 && alive(pid); i++) await sleep(100)
    if (alive(pid)) process.kill(pid, 'SIGKILL')
    started.delete(pid)
  }
}

/** Deletes the keys a console run with WORKERS left in Redis under its prefix (boot, counters). */
export async function dropRedisPrefix(url: string, prefix: string): Promise<void> {
  const { Redis } = await import('ioredis')
  const redis = new Redis(url, { maxRetriesPerRequest: 1 })
  try {
    const keys = await redis.keys(`${prefix}:*`)
    if (keys.length) await redis.del(...keys)
  } finally {
    redis.disconnect()
  }
}

/** The direct children of a process (nginx's workers). */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
  } catch {
    return []
  }
}

/** Resident memory of the processes, in KiB (VmRSS from /proc/<pid>/status). */
export function rssKb(pids: number[]): number {
  let total = 0
  for (const pid of pids) {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    total += Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN)
  }
  return total
}

/** Proportional set size in KiB (shared pages split between the processes sharing them). */
export function pssKb(pids: number[]): number {
  let total = 0
  for (const pid of pids) {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8')
    total += Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? NaN)
  }
  return total
}

const CLOCK_TICKS = 100

/** User + system CPU seconds the processes have used so far. */
export function cpuSeconds(pids: number[]): number {
  let ticks = 0
  for (const pid of pids) {
    // the fields after the command name, which is in parentheses and may hold spaces
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    ticks += Number(fields[11]) + Number(fields[12])
  }
  return ticks / CLOCK_TICKS
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port
      server.close(() => resolve(port))
    })
  })
}

// ---------------------------------------------------------------- http

export interface HttpAnswer {
  status: number
  headers: http.IncomingHttpHeaders
  body: string
}

export function send(
  url: string,
  opts: { method?: string; headers?: http.OutgoingHttpHeaders; body?: string; agent?: http.Agent | false; timeoutMs?: number } = {},
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = { ...opts.headers }
    if (opts.body !== undefined) headers['content-length'] = Buffer.byteLength(opts.body)
    const req = http.request(url, { method: opts.method ?? 'GET', headers, agent: opts.agent ?? false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('error', reject)
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }))
    })
    req.setTimeout(opts.timeoutMs ?? 30_000, () => req.destroy(new Error(`${opts.method ?? 'GET'} ${url}: no answer in ${opts.timeoutMs ?? 30_000} ms`)))
    req.on('error', reject)
    req.end(opts.body)
  })
}

// ---------------------------------------------------------------- what a tab and a publisher do

/** One poll to send: the adapter's cursor is in it. */
export interface PollRequest {
  method: 'GET' | 'POST'
  path: string
  headers: http.OutgoingHttpHeaders
  body?: string
}

/** What one answer brought: the message bodies after the tab's cursor, in order. */
export interface PollRead {
  ok: boolean
  lines: string[]
  /** Events at or below the cursor the tab had (sent again): counted as duplicates, not shown. */
  stale: number
  /** The server said the tab's cursor could not be served (console: `resets`). */
  reset: boolean
  superseded: boolean
}

/** A browser tab's cursor state and its side of the protocol. */
export interface Tab {
  request(): PollRequest
  read(status: number, headers: http.IncomingHttpHeaders, body: Buffer): PollRead
}

/** How to publish; plain data, so the stream publisher can run in a process of its own. */
export interface PublishSpec {
  url: string
  headers: Record<string, string>
  /** Lines one request may carry (console: 100 a call; Nchan: one message a POST). */
  maxLines: number
  format: 'longship' | 'nchan'
}

export async function publish(spec: PublishSpec, agent: http.Agent, lines: string[]): Promise<void> {
  if (lines.length < 1 || lines.length > spec.maxLines) throw new Error(`publish: ${lines.length} lines, at most ${spec.maxLines}`)
  const body = spec.format === 'longship' ? JSON.stringify({ messages: lines }) : (lines[0] as string)
  const res = await send(spec.url, { method: 'POST', headers: spec.headers, body, agent })
  if (res.status < 200 || res.status > 202) throw new Error(`publish: ${spec.url} answered ${res.status}: ${res.body.slice(0, 200)}`)
}

export interface Target {
  readonly name: 'longship' | 'nchan'
  /** For the figures: what ran, e.g. "nginx 1.22.1 + Nchan 1.3.6, 2 workers". */
  readonly title: string
  readonly host: string
  readonly port: number
  /** Starts a fresh server; polls are held up to holdMs before an empty answer. */
  start(holdMs: number): Promise<void>
  stop(): Promise<void>
  tab(id: string): Tab
  publishSpec(): PublishSpec
  /** Long polls the server holds right now (its own count). */
  held(): Promise<number>
  /** The server's processes (nginx: master and workers). */
  pids(): number[]
}

// ---------------------------------------------------------------- the console

interface WireAnswer {
  boot: string
  events: Array<{ topic: string; seq: number; data: { body: string } }>
  cursors: Record<string, number>
  resets: string[]
  more: boolean
  superseded: boolean
}

class LongshipTab implements Tab {
  private cursor: number | null = null
  private boot: string | null = null

  constructor(
    private readonly client: string,
    private readonly cookie: string,
  ) {}

  request(): PollRequest {
    return {
      method: 'POST',
      path: '/poll',
      headers: { cookie: this.cookie, 'content-type': 'application/json' },
      body: JSON.stringify({ client: this.client, boot: this.boot, topics: { room: this.cursor } }),
    }
  }

  read(status: number, _headers: http.IncomingHttpHeaders, body: Buffer): PollRead {
    if (status !== 200) return { ok: false, lines: [], stale: 0, reset: false, superseded: false }
    const answer = JSON.parse(body.toString('utf8')) as WireAnswer
    const lines: string[] = []
    let stale = 0
    let last = this.cursor ?? -1
    for (const event of answer.events) {
      if (event.topic !== 'room') continue
      if (event.seq <= last) {
        stale++
        continue
      }
      last = event.seq
      lines.push(event.data.body)
    }
    this.boot = answer.boot
    this.cursor = answer.cursors.room ?? this.cursor
    return { ok: true, lines, stale, reset: answer.resets.length > 0, superseded: answer.superseded }
  }
}

const PASSWORD = 'bench password 1'

/** A cookie jar of one: keeps what Set-Cookie says. */
class Cookies {
  private readonly jar = new Map<string, string>()

  take(headers: http.IncomingHttpHeaders): void {
    for (const line of headers['set-cookie'] ?? []) {
      const [pair] = line.split(';')
      const eq = (pair ?? '').indexOf('=')
      if (eq > 0) this.jar.set((pair as string).slice(0, eq).trim(), (pair as string).slice(eq + 1).trim())
    }
  }

  header(): string {
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ')
  }
}

function csrfMeta(html: string, what: string): string {
  const token = /<meta name="csrf-token" content="([^"]*)"/.exec(html)?.[1]
  if (!token) throw new Error(`no CSRF token on ${what}`)
  return token
}

export class LongshipTarget implements Target {
  readonly name = 'longship' as const
  /** BENCH_WORKERS=2: `WORKERS=2 npm start`, one process per core sharing events through Redis (REDIS_URL, default the local one). */
  readonly workers = Number(process.env.BENCH_WORKERS ?? 1)
  readonly title =
    this.workers > 1 ? `Longship (WORKERS=${this.workers}: ${this.workers} Node ${process.version} worker processes + Redis backplane, SQLite)` : `Longship (one Node ${process.version} process, SQLite)`
  readonly host = '127.0.0.1'
  port = 0
  private child: ChildProcess | null = null
  private dataDir = ''
  private cookie = ''
  private csrf = ''
  private stderr = ''

  private get base(): string {
    return `http://${this.host}:${this.port}`
  }

  async start(holdMs: number): Promise<void> {
    this.dataDir = mkdtempSync(path.join(tmpdir(), 'longship-bench-poll-'))
    this.port = await freePort()
    this.stderr = ''
    // BENCH_SERVER_NODE_ARGS: e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to see where the console's time goes
    const extra = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean)
    // the console runs exactly as `npm start` runs it (its node flags included)
    const start = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start.split(/\s+/)
    if (start[0] !== 'node') throw new Error(`npm start is not a node command: ${start.join(' ')}`)
    const child = spawn(process.execPath, [...extra, ...start.slice(1)], {
      cwd: ROOT,
      env: {
        ...process.env,
        DATA_DIR: this.dataDir,
        PORT: String(this.port),
        HOST: this.host,
        LOG_LEVEL: 'warn',
        POLL_TIMEOUT_MS: String(holdMs),
        DATABASE_URL: '',
        ...(this.workers > 1 ? { WORKERS: String(this.workers), REDIS_URL: this.redisUrl, REDIS_PREFIX: this.redisPrefix() } : {}),
      },
      stdio: ['ignore', 'inherit', 'pipe'],
    })
    track(child)
    this.child = child
    child.stderr?.on('data', (c: Buffer) => {
      this.stderr += c.toString('utf8')
      process.stderr.write(c)
    })
    await this.waitReady()
    await this.signIn()
  }

  private async waitReady(): Promise<void> {
    const until = Date.now() + 60_000
    while (Date.now() < until) {
      if (this.child?.exitCode !== null) throw new Error(`the console exited (${this.child?.exitCode}): ${this.stderr.slice(-2000)}`)
      try {
        if ((await send(`${this.base}/healthz`, { timeoutMs: 2000 })).status === 200) return
      } catch {
        // not listening yet
      }
      await sleep(100)
    }
    throw new Error(`the console did not answer /healthz within 60 s: ${this.stderr.slice(-2000)}`)
  }

  /** Through the real first-run form, as the first person to open the console does. */
  private async signIn(): Promise<void> {
    const jar = new Cookies()
    const setup = await send(`${this.base}/setup`, { headers: { accept: 'text/html' } })
    if (setup.status !== 200) throw new Error(`GET /setup answered ${setup.status}`)
    jar.take(setup.headers)
    const form = new URLSearchParams({ _csrf: csrfMeta(setup.body, '/setup'), username: 'bench', display_name: 'Bench', password: PASSWORD, password_confirm: PASSWORD })
    const created = await send(`${this.base}/setup`, {
      method: 'POST',
      headers: { cookie: jar.header(), 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      body: form.toString(),
    })
    if (created.status !== 302) throw new Error(`POST /setup answered ${created.status}: ${created.body.slice(0, 300)}`)
    jar.take(created.headers)
    // the page a person lands on: its meta tag holds the token the ajax calls send
    const room = await send(`${this.base}/room`, { headers: { cookie: jar.header(), accept: 'text/html' } })
    if (room.status !== 200) throw new Error(`GET /room answered ${room.status} after sign-in`)
    jar.take(room.headers)
    this.csrf = csrfMeta(room.body, '/room')
    this.cookie = jar.header()
    if (!/longship\.sid=/.test(this.cookie)) throw new Error('no session cookie after /setup')
  }

  private readonly redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
  private redisPrefix(): string {
    return `longship-bench-${process.pid}-${this.port}`
  }

  async stop(): Promise<void> {
    if (this.child) await stopProcess(this.child, 'SIGTERM', 10_000)
    if (this.child && this.workers > 1) await dropRedisPrefix(this.redisUrl, this.redisPrefix())
    this.child = null
    if (this.dataDir) rmSync(this.dataDir, { recursive: true, force: true })
    this.dataDir = ''
  }

  tab(id: string): Tab {
    return new LongshipTab(id, this.cookie)
  }

  publishSpec(): PublishSpec {
    return {
      url: `${this.base}/api/room/messages`,
      headers: { cookie: this.cookie, 'x-csrf-token': this.csrf, 'content-type': 'application/json', accept: 'application/json' },
      maxLines: 100,
      format: 'longship',
    }
  }

  /** Polls held by every worker: each /metrics (a new connection each) reaches one, and says which. */
  async held(): Promise<number> {
    const byWorker = new Map<string, number>()
    for (let i = 0; i < 20 * this.workers && byWorker.size < this.workers; i++) {
      const res = await send(`${this.base}/metrics`, { headers: { cookie: this.cookie } })
      const waiting = /^longship_poll_waiting (\d+)$/m.exec(res.body)?.[1]
      const pid = /^longship_process_id (\d+)$/m.exec(res.body)?.[1] ?? 'one'
      if (res.status !== 200 || waiting === undefined) throw new Error(`/metrics answered ${res.status}: ${res.body.slice(0, 200)}`)
      byWorker.set(pid, Number(waiting))
    }
    if (byWorker.size < this.workers) throw new Error(`/metrics reached ${byWorker.size} of ${this.workers} workers`)
    let sum = 0
    for (const n of byWorker.values()) sum += n
    return sum
  }

  /** The console's processes: with WORKERS, the primary and its workers. */
  pids(): number[] {
    const pid = this.child?.pid
    return pid ? [pid, ...childrenOf(pid)] : []
  }
}

// ---------------------------------------------------------------- Nchan

/** The bodies of the parts of a multipart/mixed body (RFC 2046: CRLF--boundary before each part, --boundary-- at the end). */
export function multipartBodies(body: string, boundary: string): string[] {
  const delimiter = `\r\n--${boundary}`
  const out: string[] = []
  // the first delimiter may come without its CRLF, at the very start
  let at = body.startsWith(delimiter.slice(2)) ? delimiter.length - 2 : body.indexOf(delimiter) + delimiter.length
  if (at < delimiter.length - 2) return out
  while (!body.startsWith('--', at)) {
    const headersEnd = body.indexOf('\r\n\r\n', at)
    const next = body.indexOf(delimiter, at)
    if (headersEnd < 0 || next < 0 || headersEnd > next) break
    out.push(body.slice(headersEnd + 4, next))
    at = next + delimiter.length
  }
  return out
}

class NchanTab implements Tab {
  private lastModified: string | null = null
  private etag: string | null = null

  request(): PollRequest {
    const headers: http.OutgoingHttpHeaders = {}
    if (this.lastModified !== null) headers['if-modified-since'] = this.lastModified
    if (this.etag !== null) headers['if-none-match'] = this.etag
    return { method: 'GET', path: '/sub', headers }
  }

  read(status: number, headers: http.IncomingHttpHeaders, body: Buffer): PollRead {
    // 408: held for nchan_subscriber_timeout with nothing new; poll again with the same cursor
    if (status === 408 || status === 304) return { ok: true, lines: [], stale: 0, reset: false, superseded: false }
    if (status !== 200) return { ok: false, lines: [], stale: 0, reset: false, superseded: false }
    this.lastModified = headers['last-modified'] ?? this.lastModified
    this.etag = headers.etag ?? this.etag
    const text = body.toString('utf8')
    const boundary = /^multipart\/mixed;\s*boundary=("?)([^";]+)\1/i.exec(headers['content-type'] ?? '')?.[2]
    const lines = boundary ? multipartBodies(text, boundary) : [text]
    return { ok: true, lines, stale: 0, reset: false, superseded: false }
  }
}

export class NchanUnavailable extends Error {}

const NGINX = existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx'

function nchanModulePath(): string | undefined {
  const listed = spawnSync('dpkg', ['-L', 'libnginx-mod-nchan'], { encoding: 'utf8' })
  if (listed.status !== 0) return undefined
  return listed.stdout.split('\n').find((line) => line.endsWith('/ngx_nchan_module.so') && existsSync(line))
}

function nginxVersion(): string | undefined {
  const run = spawnSync(NGINX, ['-v'], { encoding: 'utf8' })
  return run.error || run.status !== 0 ? undefined : /nginx\/([\d.]+)/.exec(run.stderr)?.[1]
}

/** Debian's nginx and Nchan, installed with apt-get when missing and root. */
export function ensureNchan(): { module: string; nginx: string; nchan: string } {
  let module = nchanModulePath()
  let nginx = nginxVersion()
  if (!module || !nginx) {
    if (process.getuid?.() !== 0) {
      throw new NchanUnavailable('nginx with Nchan is not installed (as root: apt-get install -y nginx-light libnginx-mod-nchan)')
    }
    console.log('installing nginx-light and libnginx-mod-nchan (Debian packages)...')
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
    const install = () => spawnSync('apt-get', ['install', '-y', '-q', 'nginx-light', 'libnginx-mod-nchan'], { stdio: 'inherit', env })
    if (install().status !== 0) {
      spawnSync('apt-get', ['update', '-q'], { stdio: 'inherit', env })
      if (install().status !== 0) throw new NchanUnavailable('apt-get install nginx-light libnginx-mod-nchan failed')
    }
    module = nchanModulePath()
    nginx = nginxVersion()
    if (!module || !nginx) throw new NchanUnavailable('nginx or ngx_nchan_module.so still missing after apt-get install')
  }
  const status = spawnSync('dpkg-query', ['-W', '-f=${Version}', 'libnginx-mod-nchan'], { encoding: 'utf8' })
  const nchan = /(?:\d+:)?([\d.]+)/.exec(status.stdout)?.[1] ?? '?'
  return { module, nginx, nchan }
}

export class NchanTarget implements Target {
  readonly name = 'nchan' as const
  readonly title: string
  readonly host = '127.0.0.1'
  port = 0
  private child: ChildProcess | null = null
  private workers: number[] = []
  private prefix = ''

  constructor(
    private readonly install: { module: string; nginx: string; nchan: string },
    private readonly bufferLength: number,
  ) {
    this.title = `nginx ${install.nginx} + Nchan ${install.nchan} (2 worker processes, buffer ${bufferLength} messages)`
  }

  private get base(): string {
    return `http://${this.host}:${this.port}`
  }

  async start(holdMs: number): Promise<void> {
    this.prefix = mkdtempSync(path.join(tmpdir(), 'longship-bench-nchan-'))
    mkdirSync(path.join(this.prefix, 'temp'))
    this.port = await freePort()
    const values: Record<string, string> = {
      PREFIX: this.prefix,
      MODULE: this.install.module,
      PORT: String(this.port),
      BUFFER: String(this.bufferLength),
      HOLD_S: String(Math.max(1, Math.round(holdMs / 1000))),
    }
    const template = readFileSync(path.join(ROOT, 'bench/nchan/nginx.conf.template'), 'utf8')
    const conf = template.replace(/\{\{([A-Z_]+)\}\}/g, (_, key: string) => {
      const value = values[key]
      if (value === undefined) throw new Error(`nginx.conf.template: no value for {{${key}}}`)
      return value
    })
    const confPath = path.join(this.prefix, 'nginx.conf')
    writeFileSync(confPath, conf)
    const child = spawn(NGINX, ['-p', this.prefix, '-c', confPath, '-g', 'daemon off;'], { stdio: ['ignore', 'inherit', 'inherit'] })
    track(child)
    this.child = child
    const until = Date.now() + 20_000
    for (;;) {
      if (child.exitCode !== null) throw new Error(`nginx exited (${child.exitCode}): ${this.errorLog()}`)
      try {
        await send(`${this.base}/pub`, { timeoutMs: 2000 })
        break
      } catch {
        if (Date.now() > until) throw new Error(`nginx did not answer within 20 s: ${this.errorLog()}`)
        await sleep(100)
      }
    }
    for (let i = 0; i < 50 && (this.workers = childrenOf(child.pid as number)).length < 2; i++) await sleep(100)
    for (const pid of this.workers) started.add(pid)
  }

  private errorLog(): string {
    try {
      return readFileSync(path.join(this.prefix, 'error.log'), 'utf8').slice(-2000)
    } catch {
      return '(no error.log)'
    }
  }

  async stop(): Promise<void> {
    // TERM is nginx's fast shutdown: the master stops its workers and exits
    if (this.child) await stopProcess(this.child, 'SIGTERM', 10_000, this.workers)
    this.child = null
    this.workers = []
    if (this.prefix) rmSync(this.prefix, { recursive: true, force: true })
    this.prefix = ''
  }

  tab(): Tab {
    return new NchanTab()
  }

  publishSpec(): PublishSpec {
    return { url: `${this.base}/pub`, headers: { 'content-type': 'application/json', accept: 'text/json' }, maxLines: 1, format: 'nchan' }
  }

  async held(): Promise<number> {
    const res = await send(`${this.base}/pub`, { headers: { accept: 'text/json' } })
    if (res.status === 404) return 0 // no channel yet: nobody subscribed
    const info = JSON.parse(res.body) as { subscribers?: number }
    if (res.status !== 200 || typeof info.subscribers !== 'number') throw new Error(`GET /pub answered ${res.status}: ${res.body.slice(0, 200)}`)
    return info.subscribers
  }

  pids(): number[] {
    const master = this.child?.pid
    return master ? [master, ...childrenOf(master)] : []
  }
}
