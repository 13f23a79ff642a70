import type { Knex } from 'knex'
import { loadSecret } from '../credentials/service.ts'
import type { Hub } from '../realtime/hub.ts'
import { createServersRepository, type SshServer } from '../servers/repository.ts'
import { connect, type SshConnection } from '../ssh/runner.ts'
import { collectAll } from './collectors/index.ts'
import type { AssetConfig } from './config.ts'
import type { AssetsService } from './service.ts'
import { createSshTarget } from './targets/ssh.ts'

export const COLLECT_TOPIC = 'asset-collect'

export type HostStatus = 'queued' | 'running' | 'created' | 'updated' | 'unchanged' | 'refused' | 'failed'

export interface HostProgress {
  serverId: number
  hostname: string
  status: HostStatus
  message: string | null
  assetId: number | null
  ms: number | null
}

export interface CollectRun {
  id: number
  startedBy: string
  startedAt: Date
  finishedAt: Date | null
  total: number
  done: number
  failed: number
  /** The most hosts collected at once, so the pool's bound can be seen (and tested). */
  maxActive: number
  hosts: HostProgress[]
}

/** What the page hears about a run: one host's new state and the run's counts. */
export interface CollectEvent {
  run: number
  host: HostProgress | null
  done: number
  failed: number
  total: number
  finished: boolean
}

/** Runs kept for the page to show after they end (the newest first). */
const KEPT_RUNS = 5

class HostTimeout extends Error {}

interface Options {
  knex: Knex
  hub?: Hub
  service: AssetsService
  secretKey: Buffer
  connectTimeoutMs: number
  config: AssetConfig
  onError?: (err: unknown, message: string) => void
}

/**
 * The console's SSH mode: collect from many servers with a bounded pool,
 * each host bounded in time, its credential and pinned host key used (a
 * key seen for the first time is pinned, as a release pins it), and every
 * host's result published live and stored as an agent's report would be.
 * One host failing is that host's error row; the others carry on.
 */
export function createSshCollector(opts: Options) {
  const servers = createServersRepository(opts.knex)
  const runs: CollectRun[] = []
  const running = new Map<number, Promise<void>>()
  const open = new Set<SshConnection>()
  let nextId = 1
  let stopping = false

  function publish(run: CollectRun, host: HostProgress | null): void {
    // a copy: the host's progress object goes on changing after this event
    const event: CollectEvent = { run: run.id, host: host && { ...host }, done: run.done, failed: run.failed, total: run.total, finished: run.finishedAt !== null }
    opts.hub?.publish(COLLECT_TOPIC, event)
  }

  async function collectHost(server: SshServer, progress: HostProgress): Promise<void> {
    const { service, config } = opts
    let conn: SshConnection | null = null
    let timedOut = false
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        timedOut = true
        // closing the connection ends whatever command is running on it
        conn?.close()
        reject(new HostTimeout(`${server.hostname}: no answer within ${config.timeoutMs / 1000} s (COLLECT_TIMEOUT_S)`))
      }, config.timeoutMs)
    })
    const work = (async () => {
      if (server.credential_id === null) throw new Error(`${server.hostname} has no credential: pick one on its edit page`)
      const secret = await loadSecret(opts.knex, opts.secretKey, server.credential_id)
      if (!secret) throw new Error(`${server.hostname}: its credential no longer exists`)
      const readyTimeoutMs = Math.min(opts.connectTimeoutMs, config.timeoutMs)
      conn = await connect({ host: server.address, port: server.port, username: server.username, hostKey: server.host_key }, secret, { readyTimeoutMs })
      open.add(conn)
      if (timedOut) return null
      if (conn.hostKeyIsNew) await servers.pinHostKey(server.id, conn.hostKey.openssh, conn.hostKey.fingerprint)
      const collection = await collectAll(createSshTarget(conn), config.collectors)
      if (timedOut) return null
      return service.store({ mode: 'ssh', hostname: server.hostname, previousHostname: null, agentId: null, serverId: server.id, ...collection })
    })()
    // the race's loser must not surface later as an unhandled rejection
    work.catch(() => {})
    try {
      const outcome = await Promise.race([work, deadline])
      if (!outcome) return
      progress.assetId = outcome.assetId
      if (outcome.kind === 'refused') {
        progress.status = 'refused'
        progress.message = outcome.error
      } else {
        progress.status = outcome.kind
        progress.message = outcome.warning ?? (outcome.changes.length ? outcome.changes.map((c) => c.summary).join('; ').slice(0, 500) : null)
      }
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err)
      progress.status = 'failed'
      progress.message = message
      const asset = await service.repo.findByServerId(server.id)
      await service.hostFailed('ssh', server.hostname, asset?.id ?? null, message, err instanceof HostTimeout ? null : ((err as Error).stack ?? null))
    } finally {
      clearTimeout(timer)
      const c = conn as SshConnection | null
      if (c) {
        c.close()
        open.delete(c)
      }
    }
  }

  async function execute(run: CollectRun, list: SshServer[]): Promise<void> {
    const queue = [...list]
    let active = 0
    const worker = async () => {
      for (let server = queue.shift(); server && !stopping; server = queue.shift()) {
        const progress = run.hosts.find((h) => h.serverId === server?.id) as HostProgress
        progress.status = 'running'
        active++
        run.maxActive = Math.max(run.maxActive, active)
        publish(run, progress)
        const started = Date.now()
        try {
          await collectHost(server, progress)
        } catch (err) {
          // storing the failure itself failed (the database is gone): the run goes on, the log has it
          progress.status = 'failed'
          progress.message = err instanceof Error ? err.message : String(err)
          opts.onError?.(err, `collecting ${server.hostname} failed`)
        }
        active--
        progress.ms = Date.now() - started
        run.done++
        // collectHost set the final status (TypeScript still sees the 'running' assigned above)
        const status = progress.status as HostStatus
        if (status === 'failed' || status === 'refused') run.failed++
        publish(run, progress)
      }
    }
    await Promise.all(Array.from({ length: Math.min(opts.config.concurrency, list.length) }, worker))
    run.finishedAt = new Date()
    publish(run, null)
  }

  return {
    /** Starts collecting these servers (all when ids is null) and returns the run at once; the work goes on in the background. */
    async start(ids: number[] | null, startedBy: string): Promise<CollectRun> {
      const all = ids ?? ((await opts.knex('servers').select('id')) as Array<{ id: number }>).map((r) => Number(r.id))
      const list = await servers.forSsh(all)
      const run: CollectRun = {
        id: nextId++,
        startedBy,
        startedAt: new Date(),
        finishedAt: null,
        total: list.length,
        done: 0,
        failed: 0,
        maxActive: 0,
        hosts: list.map((s) => ({ serverId: s.id, hostname: s.hostname, status: 'queued', message: null, assetId: null, ms: null })),
      }
      runs.unshift(run)
      runs.splice(KEPT_RUNS)
      publish(run, null)
      const job = execute(run, list)
        .catch((err) => opts.onError?.(err, 'an asset collection run failed'))
        .finally(() => running.delete(run.id))
      running.set(run.id, job)
      return run
    },

    /** Resolves when the run has ended (at once for an unknown or finished run). */
    async settled(id: number): Promise<void> {
      await running.get(id)
    },

    find(id: number): CollectRun | null {
      return runs.find((r) => r.id === id) ?? null
    },

    latest(): CollectRun | null {
      return runs[0] ?? null
    },

    /** On close: no new host starts, open connections are closed, and the runs are awaited. */
    async stop(): Promise<void> {
      stopping = true
      for (const conn of open) conn.close()
      await Promise.allSettled([...running.values()])
    },
  }
}

export type SshCollector = ReturnType<typeof createSshCollector>
