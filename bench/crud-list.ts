/**
 * crud-list: how fast the servers list answers with 10,000 servers stored.
 *
 *   npm run bench:crud-list                                              # SQLite
 *   DATABASE_URL=mysql://root@127.0.0.1:3306/test npm run bench:crud-list  # MariaDB
 *
 * Builds the real app on a database of its own (a temp SQLite file, or a fresh
 * MariaDB database that is dropped afterwards), stores 10,000 servers, signs
 * in as an admin and fires wrk (or autocannon) at the first page of /servers,
 * at a search, and at searches for a new term each time, with the session
 * cookie, as a team of browsers would.
 * BENCH_CONNECTIONS and BENCH_DURATION (seconds) change the load for exploring;
 * BENCH_TOOL=wrk|autocannon picks the load generator (default: wrk when it is
 * installed, `apt-get install wrk`, else autocannon).
 */
import { execFile, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir, cpus, loadavg } from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { promisify } from 'node:util'
import type { AddressInfo } from 'node:net'
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks'
import knexFactory, { type Knex } from 'knex'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../server/app.ts'
import { loadConfig } from '../server/config.ts'
import { tagsToColumn } from '../server/servers/repository.ts'
import { rebuildServerGrams } from '../server/servers/search-grams.ts'
import { dropRedisPrefix, freePort } from './poll-targets.ts'
import { createUsersRepository } from '../server/users/repository.ts'
import { hashPassword } from '../server/users/password.ts'

const SERVERS = 10_000
// the published figures use the defaults; the knobs are for exploring (e.g. what concurrency meets the target)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50)
const DURATION_S = Number(process.env.BENCH_DURATION ?? 10)
const WARMUP_S = 2
// BENCH_WORKERS=2: the console as `WORKERS=2 npm start` runs it (one process per core, events through Redis)
const WORKERS = Number(process.env.BENCH_WORKERS ?? 1)
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const TARGET_P99_MS = 30
// BENCH_TARGETS=uncached (say) measures only some of first,search,uncached,healthz
const TARGETS = new Set((process.env.BENCH_TARGETS ?? 'first,search,uncached,healthz').split(',').map((t) => t.trim()))
const PASSWORD = 'bench password 1'

// autocannon ships no types; this is the part of its API used here
interface Histogram {
  average: number
  p50: number
  p99: number
  max: number
}
interface AutocannonResult {
  requests: Histogram & { total: number }
  latency: Histogram
  non2xx: number
  errors: number
  timeouts: number
}
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon
const run = promisify(execFile)

/** A database of the bench's own, as test/helper.ts makes one for each test. */
async function ownDatabase(dataDir: string): Promise<{ env: Record<string, string>; drop: () => Promise<void> }> {
  const url = process.env.DATABASE_URL
  if (!url || url.startsWith('sqlite:')) return { env: { DATA_DIR: dataDir }, drop: async () => undefined }
  const parsed = new URL(url)
  const name = `${parsed.pathname.slice(1)}_bench_${process.pid}`
  const admin = knexFactory({
    client: 'mysql2',
    connection: { host: parsed.hostname, port: Number(parsed.port || 3306), user: decodeURIComponent(parsed.username), password: decodeURIComponent(parsed.password) },
    pool: { min: 0, max: 1 },
  })
  await admin.raw('CREATE DATABASE ?? CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci', [name])
  parsed.pathname = '/' + name
  return {
    env: { DATA_DIR: dataDir, DATABASE_URL: parsed.toString() },
    drop: async () => {
      await admin.raw('DROP DATABASE IF EXISTS ??', [name])
      await admin.destroy()
    },
  }
}

/** 800 searches that each match one to a few servers, e.g. /servers?q=db-142, shuffled so no two neighbours share a prefix. */
function searchTerms(): Paths {
  const terms: string[] = []
  for (let n = 100; n < 200; n++) for (const role of ROLES) terms.push(`/servers?q=${role}-${n}`)
  // a fixed shuffle (the same every run)
  let seed = 7
  for (let i = terms.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31
    const j = seed % (i + 1)
    ;[terms[i], terms[j]] = [terms[j] as string, terms[i] as string]
  }
  return terms
}

const ROLES = ['web', 'api', 'db', 'cache', 'queue', 'worker', 'lb', 'search']
const SITES = ['fra1', 'ams3', 'nyc2', 'sgp1', 'lon1']
const ENVS = ['prod', 'prod', 'staging', 'test', 'dev']

/** Hostnames like web-12.fra1.example.com, one numbering per role, addresses per site. */
function fakeServer(i: number, now: Date): Record<string, unknown> {
  const role = ROLES[i % ROLES.length] as string
  const n = Math.floor(i / ROLES.length) + 1
  const site = SITES[n % SITES.length] as string
  const tags = [role, site, ...(i % 7 === 0 ? ['legacy'] : []), ...(i % 11 === 0 ? ['pci'] : [])]
  return {
    hostname: `${role}-${n}.${site}.example.com`,
    address: `10.${SITES.indexOf(site)}.${Math.floor(i / 250) % 256}.${(i % 250) + 1}`,
    port: i % 13 === 0 ? 2222 : 22,
    username: i % 3 === 0 ? 'deploy' : 'root',
    credential_id: null,
    env: ENVS[i % ENVS.length],
    tags: tagsToColumn(tags),
    notes: i % 5 === 0 ? `rack ${i % 40}, row ${i % 9}` : '',
    created_at: now,
    updated_at: now,
  }
}

async function seed(knex: Knex): Promise<void> {
  const now = new Date()
  const rows = Array.from({ length: SERVERS }, (_, i) => fakeServer(i, now))
  // 500 rows x 11 columns stays under SQLite's bound-parameter limit
  await knex.batchInsert('servers', rows, 500)
  // what the repository writes with each server on MySQL/MariaDB (SQLite's triggers fill its own index)
  await rebuildServerGrams(knex)
  await createUsersRepository(knex).create({ username: 'bench', display_name: 'Bench', role: 'admin', password_hash: await hashPassword(PASSWORD) })
}

/** Signs in through the real login form and returns the Cookie header a browser would send. */
async function sessionCookie(app: FastifyInstance): Promise<string> {
  const login = await app.inject({ method: 'GET', url: '/login' })
  const token = /<meta name="csrf-token" content="([^"]*)"/.exec(login.body)?.[1]
  if (!token) throw new Error('no CSRF token on /login')
  const cookie = login.cookies.map((c) => `${c.name}=${c.value}`).join('; ')
  const res = await app.inject({
    method: 'POST',
    url: '/login',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ _csrf: token, username: 'bench', password: PASSWORD, next: '/servers' }).toString(),
  })
  const session = res.cookies.find((c) => c.name === 'longship.sid')
  if (res.statusCode !== 302 || !session) throw new Error(`sign-in failed: ${res.statusCode} ${res.body.slice(0, 200)}`)
  return `longship.sid=${session.value}`
}

/** The page must really be the list (not a redirect to /login) before it is worth timing. */
async function checkPage(app: FastifyInstance, url: string, cookie: string): Promise<string> {
  const res = await app.inject({ method: 'GET', url, headers: { cookie } })
  const rows = (res.body.match(/<tr id="server-/g) ?? []).length
  const total = /([\d,]+) in all/.exec(res.body)?.[1] ?? '?'
  if (res.statusCode !== 200 || rows === 0) throw new Error(`${url} answered ${res.statusCode} with ${rows} rows`)
  return `${rows} rows shown, ${total} in all, ${Math.round(res.body.length / 1024)} KiB`
}

/** Starts `node server/main.ts` with WORKERS on a free port and waits until it answers. */
async function startCluster(dbEnv: Record<string, string>): Promise<{ base: string; stop: () => Promise<void> }> {
  const port = await freePort()
  const child = spawn(process.execPath, ['--min-semi-space-size=16', '--import', 'tsx', 'server/main.ts'], {
    env: { ...process.env, ...dbEnv, HOST: '127.0.0.1', PORT: String(port), WORKERS: String(WORKERS), REDIS_URL, REDIS_PREFIX: `longship-bench-${process.pid}`, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'inherit', 'inherit'],
  })
  const exited = new Promise((resolve) => child.on('exit', resolve))
  const base = `http://127.0.0.1:${port}`
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM')
    await exited
    await dropRedisPrefix(REDIS_URL, `longship-bench-${process.pid}`)
  }
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) break
    const up = await fetch(`${base}/healthz`).then((r) => r.ok, () => false)
    if (up) return { base, stop }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  await stop()
  throw new Error('the console did not start')
}

/** What one load run tells, whichever tool made it. */
interface Run {
  rps: number
  p50: number
  p99: number
  max: number
  non2xx: number
  errors: number
}

/** A list of paths requested in turn (one path: the same request every time). */
type Paths = string[]

/** autocannon runs one path: it cannot give each connection its own path from a worker thread. */
async function autocannonLoad(base: string, paths: Paths, cookie: string, duration: number): Promise<Run> {
  if (paths.length !== 1) throw new Error('autocannon measures one path at a time here; install wrk for the uncached searches')
  // one worker thread: the load generator's own parsing stays off the
  // event loop of the server it measures (both still share the 2 cores)
  const r = await autocannon({ url: base + paths[0], connections: CONNECTIONS, duration, workers: 1, headers: { cookie, accept: 'text/html' } })
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, max: r.latency.max, non2xx: r.non2xx, errors: r.errors + r.timeouts }
}

/**
 * wrk is C: it needs a fraction of autocannon's CPU for the same load, and on
 * a 2-core machine whatever the generator takes the server does not get.
 * Its Lua hooks pick each request's path and print the figures as JSON.
 */
function wrkScript(dir: string, paths: Paths, cookie: string): string {
  const file = path.join(dir, 'crud-list.lua')
  const lua = (v: string) => JSON.stringify(v)
  writeFileSync(
    file,
    [
      `local paths = { ${paths.map(lua).join(', ')} }`,
      'local n = 0',
      `wrk.headers["Cookie"] = ${lua(cookie)}`,
      'wrk.headers["Accept"] = "text/html"',
      'request = function()',
      '  n = n + 1',
      '  return wrk.format("GET", paths[(n % #paths) + 1])',
      'end',
      'done = function(summary, latency, requests)',
      `  io.write(string.format('WRK {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,"status":%d,"errors":%d}\\n',`,
      '    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max, summary.errors.status,',
      '    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))',
      'end',
    ].join('\n'),
  )
  return file
}

async function wrkLoad(base: string, paths: Paths, cookie: string, duration: number, dir: string): Promise<Run> {
  // one thread, as autocannon runs one worker: the server keeps the other core
  const { stdout } = await run('wrk', ['-t1', `-c${CONNECTIONS}`, `-d${duration}s`, '--timeout', '10s', '-s', wrkScript(dir, paths, cookie), base])
  const line = stdout.split('\n').find((l) => l.startsWith('WRK '))
  if (!line) throw new Error(`wrk printed no figures:\n${stdout}`)
  const w = JSON.parse(line.slice(4)) as { requests: number; duration_us: number; p50_us: number; p99_us: number; max_us: number; status: number; errors: number }
  const ms = (us: number) => Math.round(us / 100) / 10
  return { rps: w.requests / (w.duration_us / 1e6), p50: ms(w.p50_us), p99: ms(w.p99_us), max: ms(w.max_us), non2xx: w.status, errors: w.errors }
}

async function pickTool(): Promise<'wrk' | 'autocannon'> {
  const asked = process.env.BENCH_TOOL
  if (asked === 'wrk' || asked === 'autocannon') return asked
  if (asked) throw new Error(`BENCH_TOOL must be wrk or autocannon, not ${asked}`)
  try {
    await run('wrk', ['--version'])
    return 'wrk'
  } catch (err) {
    // wrk --version exits 1 after printing its version
    if ((err as { stdout?: string }).stdout?.includes('wrk')) return 'wrk'
    return 'autocannon'
  }
}

interface Figures extends Run {
  name: string
  url: string
}

/**
 * What the server's process went through meanwhile (one process only: it
 * runs in this one): the event loop's longest waits and garbage
 * collection's pauses, to tell a slow tail of the server's own from one of
 * the machine's (the generator sharing its cores).
 */
function watchServer(): () => string {
  const delay = monitorEventLoopDelay({ resolution: 10 })
  const pauses: number[] = []
  const gc = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) pauses.push(entry.duration)
  })
  delay.enable()
  gc.observe({ entryTypes: ['gc'] })
  return () => {
    delay.disable()
    gc.disconnect()
    const ms = (ns: number) => (ns / 1e6).toFixed(1)
    const total = pauses.reduce((a, b) => a + b, 0)
    return `event loop delay p99 ${ms(delay.percentile(99))} ms, max ${ms(delay.max)} ms; GC ${pauses.length} pauses, ${total.toFixed(0)} ms in all, longest ${Math.max(0, ...pauses).toFixed(1)} ms`
  }
}

async function measure(tool: 'wrk' | 'autocannon', dir: string, base: string, name: string, paths: Paths, cookie: string): Promise<Figures> {
  const load = (duration: number) => (tool === 'wrk' ? wrkLoad(base, paths, cookie, duration, dir) : autocannonLoad(base, paths, cookie, duration))
  await load(WARMUP_S)
  const url = paths.length === 1 ? (paths[0] as string) : `${paths[0]} … (${paths.length} terms in turn)`
  const watched = WORKERS > 1 ? null : watchServer()
  const run = await load(DURATION_S)
  if (watched) console.log(`  server while measuring ${url}: ${watched()}`)
  return { name, url, ...run }
}

function table(dialect: string, results: Figures[]): string {
  const lines = [
    `| database | request | req/s | p50 ms | p99 ms | max ms | non-2xx | p99 < ${TARGET_P99_MS} ms |`,
    '|---|---|---:|---:|---:|---:|---:|---|',
    ...results.map((r) => `| ${dialect} | ${r.name} \`${r.url}\` | ${r.rps.toFixed(0)} | ${r.p50} | ${r.p99} | ${r.max} | ${r.non2xx + r.errors} | ${r.url === '/healthz' ? '(reference)' : r.p99 < TARGET_P99_MS ? 'yes' : '**no**'} |`),
  ]
  return lines.join('\n')
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'longship-bench-'))
  const db = await ownDatabase(dataDir)
  const app = await buildApp(loadConfig({ ...process.env, LOG_LEVEL: 'silent', ...db.env }), { logger: false })
  let stopCluster: (() => Promise<void>) | null = null
  try {
    const dialect = db.env.DATABASE_URL ? 'MariaDB' : 'SQLite'
    // other work on the machine skews every figure: the load average says how much there was
    console.log(`crud-list: ${dialect}, ${cpus().length} cores, node ${process.version}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
    const started = Date.now()
    await seed(app.knex)
    console.log(`seeded ${SERVERS} servers in ${Date.now() - started} ms`)
    const cookie = await sessionCookie(app)
    const tool = await pickTool()
    // the same page again is what a team watching one list asks; the page
    // cache (server/web/page-cache.ts) answers it without SQL or rendering
    const targets: Array<{ name: string; paths: Paths }> = []
    if (TARGETS.has('first')) targets.push({ name: 'first page', paths: ['/servers'] })
    if (TARGETS.has('search')) targets.push({ name: 'search', paths: ['/servers?q=web-12'] })
    // a new term every request misses the page cache: the query and the render every time
    if (TARGETS.has('uncached') && tool === 'wrk') targets.push({ name: 'search, a new term each request (no cache hit)', paths: searchTerms() })
    else if (TARGETS.has('uncached')) console.log('the uncached search needs wrk (autocannon cannot give each connection its own path from a worker thread)')
    for (const t of targets) console.log(`${t.paths[0]}: ${await checkPage(app, t.paths[0] as string, cookie)}`)

    let base: string
    if (WORKERS > 1) {
      // npm start's command with WORKERS on the same database and DATA_DIR (the session cookie stays valid)
      await app.close()
      const cluster = await startCluster(db.env)
      stopCluster = cluster.stop
      base = cluster.base
    } else {
      await app.listen({ host: '127.0.0.1', port: 0 })
      base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
    }
    console.log(`server: ${WORKERS > 1 ? `${WORKERS} worker processes (WORKERS=${WORKERS}, Redis backplane)` : 'one process'}`)
    console.log(`load generator: ${tool}, one thread, ${CONNECTIONS} connections`)
    const results: Figures[] = []
    // the floor on this machine: a JSON answer with one `select 1`, no page, no
    // list; no page can beat it, so it tells how far the target is reachable
    const reference = TARGETS.has('healthz') ? [{ name: 'reference, no list', paths: ['/healthz'] }] : []
    for (const t of [...targets, ...reference]) {
      const f = await measure(tool, dataDir, base, t.name, t.paths, cookie)
      results.push(f)
      console.log(`${f.url}: ${f.rps.toFixed(0)} req/s, p50 ${f.p50} ms, p99 ${f.p99} ms, max ${f.max} ms, non-2xx ${f.non2xx}, errors ${f.errors}`)
    }
    console.log(`\n${CONNECTIONS} connections, ${DURATION_S} s each after a ${WARMUP_S} s warm-up:\n`)
    console.log(table(dialect, results))
    const missed = results.filter((r) => r.url !== '/healthz' && r.p99 >= TARGET_P99_MS)
    console.log(`load average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
    console.log(missed.length ? `\ntarget missed: p99 must stay under ${TARGET_P99_MS} ms (${missed.map((r) => `${r.url} ${r.p99} ms`).join(', ')})` : `\ntarget met: p99 under ${TARGET_P99_MS} ms`)
  } finally {
    await stopCluster?.()
    await app.close()
    await db.drop()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

await main()
