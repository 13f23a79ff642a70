/**
 * The console half of bench/deploy.ts: `npm start`'s command on a database
 * of its own (seeded before it starts with an admin, an API token and one
 * key credential per loopback host), driven only through its HTTP API:
 * servers and projects created with POST /api/servers and /api/projects,
 * releases started with POST /api/projects/:id/releases and watched the way
 * the release page watches them, by long polling `release:<id>`.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { loadConfig } from '../server/config.ts'
import { createKnex } from '../server/db/connection.ts'
import { createCredentialsService } from '../server/credentials/service.ts'
import { createUsersRepository } from '../server/users/repository.ts'
import { hashPassword } from '../server/users/password.ts'
import { freePort, ROOT, send, sleep, track } from './poll-targets.ts'
import type { Cleanup, Host } from './deploy-hosts.ts'

/** Milliseconds since the epoch, with fractions: the clock the console stamps events with, finer. */
export const wallClock = () => performance.timeOrigin + performance.now()

/** The release endpoints are missing (the console predates the release engine). */
export class ReleaseApiMissing extends Error {}

export const TERMINAL = ['success', 'failed', 'cancelled', 'interrupted']

export interface ReleaseHostJson {
  hostname: string
  status: string
  step?: string | null
  error: string | null
  started_at: string | null
  finished_at: string | null
}

export interface ReleaseJson {
  id: number
  project_id: number
  kind: string
  ref: string
  commit: string | null
  status: string
  started_at: string | null
  finished_at: string | null
  error: string | null
  hosts: ReleaseHostJson[]
}

export interface EventJson {
  seq: number
  kind: 'log' | 'step' | 'status' | 'chat'
  host: string | null
  stream: string | null
  body: string
  at: string
}

/** What a viewer is told about each event as it arrives (the hub's data plus the seq). */
export interface LiveEvent {
  seq: number
  kind: string
  host: string | null
  stream: string | null
  body: string
  /** Wall clock (ms, with fractions) when the answer holding it arrived. */
  arrived: number
}

interface PollAnswer {
  boot: string
  events: Array<{ topic: string; seq: number; data: { kind: string; host: string | null; stream: string | null; body: string } }>
  cursors: Record<string, number>
  resets: string[]
  more: boolean
  superseded: boolean
}

/**
 * One release page: long polls `topic` from its first event, hands every
 * new event to `onEvent` in order, and counts what a page would get wrong:
 * events sent twice (seq at or below its cursor) and resets (a gap the
 * console could not fill).
 */
export class Viewer {
  private cursor = 0
  private boot: string | null = null
  private stopped = false
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  private req: http.ClientRequest | null = null
  duplicates = 0
  resets = 0
  answers = 0
  errors = 0
  readonly done: Promise<void>

  constructor(
    private readonly base: string,
    private readonly token: string,
    private readonly topic: string,
    readonly client: string,
    private readonly onEvent: (e: LiveEvent) => void,
  ) {
    this.done = this.loop()
  }

  stop(): void {
    this.stopped = true
    this.req?.destroy()
    this.agent.destroy()
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      let answer: PollAnswer
      try {
        answer = await this.poll()
      } catch (err) {
        if (this.stopped) return
        this.errors++
        if (this.errors > 20) throw new Error(`viewer ${this.client}: ${(err as Error).message}`)
        await sleep(200)
        continue
      }
      const arrived = wallClock()
      this.answers++
      this.boot = answer.boot
      if (answer.resets.includes(this.topic)) this.resets++
      for (const e of answer.events) {
        if (e.topic !== this.topic) continue
        if (e.seq <= this.cursor) {
          this.duplicates++
          continue
        }
        this.cursor = e.seq
        this.onEvent({ seq: e.seq, kind: e.data.kind, host: e.data.host, stream: e.data.stream, body: e.data.body, arrived })
      }
      this.cursor = Math.max(this.cursor, answer.cursors[this.topic] ?? 0)
    }
  }

  private poll(): Promise<PollAnswer> {
    const body = JSON.stringify({ client: this.client, boot: this.boot, topics: { [this.topic]: this.cursor } })
    return new Promise((resolve, reject) => {
      const req = http.request(
        `${this.base}/poll`,
        {
          method: 'POST',
          agent: this.agent,
          headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          const chunks: Buffer[] = []
          res.on('data', (c: Buffer) => chunks.push(c))
          res.on('error', reject)
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8')
            if (res.statusCode !== 200) return reject(new Error(`POST /poll answered ${res.statusCode}: ${text.slice(0, 200)}`))
            try {
              resolve(JSON.parse(text) as PollAnswer)
            } catch (err) {
              reject(err as Error)
            }
          })
        },
      )
      this.req = req
      req.on('error', reject)
      req.end(body)
    })
  }
}

export class ConsoleSide {
  base = ''
  private token = ''

  /** For pages as well as the API (the console takes a Bearer token for both). */
  get apiToken(): string {
    return this.token
  }
  private child: ChildProcess | null = null
  private stderr = ''
  private readonly serverIds: number[] = []

  constructor(
    private readonly cleanup: Cleanup,
    private readonly dir: string,
  ) {}

  /** Seeds the database, starts the console and registers one server per host through the API. */
  async start(hosts: Host[]): Promise<void> {
    const dataDir = path.join(this.dir, 'data')
    const secretKey = randomBytes(32).toString('hex')
    const env = { ...process.env, DATA_DIR: dataDir, SECRET_KEY: secretKey, DATABASE_URL: '' }
    const config = loadConfig(env)
    const knex = createKnex(config.database)
    const credentialIds: number[] = []
    try {
      await knex.migrate.latest()
      const users = createUsersRepository(knex)
      const user = await users.create({ username: 'bench', display_name: 'Bench', role: 'admin', password_hash: await hashPassword(randomBytes(12).toString('hex')) })
      this.token = (await users.createToken(user.id, 'bench:deploy')).token
      // credentials have no API: the same service the form uses, on the same database and key
      const credentials = createCredentialsService(knex, config.secretKey)
      for (const [i, host] of hosts.entries()) {
        const saved = await credentials.create({ name: `bench host ${i + 1}`, kind: 'key', private_key: host.privateKey, notes: '' })
        if (!saved.ok) throw new Error(`credential for host ${i + 1}: ${JSON.stringify(saved.errors)}`)
        credentialIds.push(saved.credential.id)
      }
    } finally {
      await knex.destroy()
    }

    const port = await freePort()
    this.base = `http://127.0.0.1:${port}`
    // exactly `npm start`'s command, its node flags included
    const start = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start.split(/\s+/)
    if (start[0] !== 'node') throw new Error(`npm start is not a node command: ${start.join(' ')}`)
    const child = spawn(process.execPath, start.slice(1), {
      cwd: ROOT,
      env: { ...env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'inherit', 'pipe'],
    })
    track(child)
    this.child = child
    this.cleanup.after(() => this.stop())
    child.stderr?.on('data', (c: Buffer) => {
      this.stderr = (this.stderr + c.toString('utf8')).slice(-20_000)
      process.stderr.write(c)
    })
    await this.waitReady()

    for (const [i, host] of hosts.entries()) {
      const server = await this.api<{ id: number }>('POST', '/api/servers', {
        hostname: `host-${String(i + 1).padStart(2, '0')}.bench.test`,
        address: '127.0.0.1',
        port: host.port,
        username: host.username,
        credential_id: credentialIds[i],
        env: 'test',
      })
      this.serverIds.push(server.id)
    }
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

  async stop(): Promise<void> {
    const child = this.child
    this.child = null
    if (!child || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.kill('SIGTERM')
    if ((await Promise.race([exited.then(() => 'ok'), sleep(10_000).then(() => 'late')])) === 'late') {
      child.kill('SIGKILL')
      await exited
    }
  }

  pid(): number | undefined {
    return this.child?.pid
  }

  /** A JSON API call with the bench's token; throws with the answer unless 2xx. */
  async api<T>(method: string, url: string, body?: unknown): Promise<T> {
    const res = await send(`${this.base}${url}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    if (res.status === 404 && /Nothing is at/.test(res.body) && /releases/.test(url)) throw new ReleaseApiMissing(`the release API is not there yet (${method} ${url} answered 404)`)
    if (res.status < 200 || res.status > 299) throw new Error(`${method} ${url} answered ${res.status}: ${res.body.slice(0, 500)}`)
    return (res.body ? JSON.parse(res.body) : null) as T
  }

  /** A project on the first `servers` hosts (all by default); returns its id. */
  async createProject(input: { title: string; repoUrl: string; servers?: number; hooks?: Record<string, string> }): Promise<number> {
    const ids = input.servers === undefined ? this.serverIds : this.serverIds.slice(0, input.servers)
    const project = await this.api<{ id: number }>('POST', '/api/projects', {
      title: input.title,
      repo_url: input.repoUrl,
      env: 'test',
      deploy_path: '~/app',
      server_ids: ids,
      // no pruning in any round (the Ansible playbook prunes nothing either)
      keep_releases: 50,
      rollout: 'parallel',
      batch_size: ids.length,
      stop_on_failure: true,
      hooks: input.hooks ?? {},
    })
    return project.id
  }

  /**
   * Starts a release and watches it with `viewers` pages from its first event
   * until it ends. `onEvent(viewer index, event)` sees every event each page
   * gets. With `sampleHeadMs`, the events API's head (the newest stored seq)
   * is read that often meanwhile. Resolves with the release as the API has it
   * at the end and the times, on the bench's wall clock (the console's clock:
   * same machine): the POST, the first page (or API check) learning it ended.
   */
  async release(
    projectId: number,
    opts: { viewers: number; onEvent?: (viewer: number, e: LiveEvent) => void; timeoutMs?: number; sampleHeadMs?: number },
  ): Promise<{ release: ReleaseJson; posted: number; endedMs: number; finishedMs: number; viewers: Viewer[]; heads: Array<{ at: number; head: number }> }> {
    const posted = wallClock()
    const release = await this.startRelease(projectId)
    const topic = `release:${release.id}`
    let ended: number | null = null
    let checking = false
    const check = async () => {
      if (checking || ended !== null) return
      checking = true
      try {
        const at = wallClock()
        const now = await this.getRelease(release.id)
        if (TERMINAL.includes(now.status) && ended === null) ended = at
      } finally {
        checking = false
      }
    }
    const viewers: Viewer[] = []
    for (let i = 0; i < opts.viewers; i++) {
      viewers.push(
        new Viewer(this.base, this.token, topic, `bench-${release.id}-${i}-${randomBytes(4).toString('hex')}`, (e) => {
          opts.onEvent?.(i, e)
          if (e.kind === 'status' && TERMINAL.includes(e.body) && ended === null) ended = e.arrived
        }),
      )
    }
    const heads: Array<{ at: number; head: number }> = []
    let sampling = opts.sampleHeadMs !== undefined
    const sampler = (async () => {
      while (sampling) {
        // after= beyond any seq: no events, only the head; timed on arrival (an upper bound: the console may answer late)
        const page = await this.api<{ head: number }>('GET', `/api/releases/${release.id}/events?after=999999999999&limit=1`)
        heads.push({ at: wallClock(), head: page.head })
        await sleep(opts.sampleHeadMs as number)
      }
    })()
    const until = Date.now() + (opts.timeoutMs ?? 600_000)
    let lastCheck = 0
    try {
      // a page learns the end from the status event; the API is asked now and then in case that is missed
      while (ended === null) {
        const failed = viewers.find((v) => v.errors > 20)
        if (failed) await failed.done
        if (Date.now() > until) throw new Error(`release ${release.id} did not end within ${(opts.timeoutMs ?? 600_000) / 1000} s`)
        if (Date.now() - lastCheck > 2000) {
          lastCheck = Date.now()
          await check()
        }
        await sleep(5)
      }
    } catch (err) {
      for (const v of viewers) v.stop()
      throw err
    } finally {
      sampling = false
      await sampler.catch(() => undefined)
    }
    const final = await this.getRelease(release.id)
    return { release: final, posted, endedMs: (ended as number) - posted, finishedMs: Date.parse(final.finished_at ?? '') - posted, viewers, heads }
  }

  /** POST /api/projects/:id/releases for the branch main. */
  async startRelease(projectId: number): Promise<ReleaseJson> {
    return (await this.api<{ release: ReleaseJson }>('POST', `/api/projects/${projectId}/releases`, { ref: 'main' })).release
  }

  async getRelease(id: number): Promise<ReleaseJson> {
    return (await this.api<{ release: ReleaseJson }>('GET', `/api/releases/${id}`)).release
  }

  /** Every stored event of a release, through the events API, page by page. */
  async events(id: number): Promise<{ events: EventJson[]; head: number }> {
    const events: EventJson[] = []
    let after = 0
    let head = 0
    for (;;) {
      const page = await this.api<{ events: EventJson[]; head: number }>('GET', `/api/releases/${id}/events?after=${after}&limit=5000`)
      head = page.head
      if (!page.events.length) break
      events.push(...page.events)
      after = (page.events.at(-1) as EventJson).seq
      if (after >= head) break
    }
    return { events, head }
  }
}
