import type { Knex } from 'knex'
import type { Hub } from '../realtime/hub.ts'
import { createServersRepository, type SshServer } from '../servers/repository.ts'
import type { AssetConfig } from './config.ts'
import type { AssetsService } from './service.ts'

export const COLLECT_TOPIC = 'asset-collect'

/** What a collection mode (SSH, Ansible) needs from the app: the same for both. */
export interface CollectorOptions {
  knex: Knex
  hub?: Hub
  service: AssetsService
  secretKey: Buffer
  connectTimeoutMs: number
  config: AssetConfig
  onError?: (err: unknown, message: string) => void
  /** With several instances (the Redis relay): run numbers from one shared counter, so two instances' runs never share one. */
  runIds?: (() => Promise<number>) | undefined
}

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

export interface RunBookOptions {
  knex: Knex
  hub?: Hub
  /** The first run's number: SSH and Ansible runs share the page's topic, so their numbers must not meet. */
  firstId: number
  /** "an asset collection run", "an Ansible collection run": for the error log. */
  what: string
  onError?: (err: unknown, message: string) => void
  runIds?: (() => Promise<number>) | undefined
}

/**
 * The bookkeeping every collection mode shares: numbering runs, keeping the
 * last few for the page, publishing progress on the page's topic, running
 * the mode's work in the background and closing the run however it ends.
 */
export function createRunBook(opts: RunBookOptions) {
  const servers = createServersRepository(opts.knex)
  const runs: CollectRun[] = []
  const running = new Map<number, Promise<void>>()
  let nextId = opts.firstId

  function publish(run: CollectRun, host: HostProgress | null): void {
    // a copy: the host's progress object goes on changing after this event
    const event: CollectEvent = { run: run.id, host: host && { ...host }, done: run.done, failed: run.failed, total: run.total, finished: run.finishedAt !== null }
    opts.hub?.publish(COLLECT_TOPIC, event)
  }

  return {
    publish,

    /** Starts `execute` on these servers (all when ids is null) and returns the run at once; the work goes on in the background. */
    async start(ids: number[] | null, startedBy: string, execute: (run: CollectRun, list: SshServer[]) => Promise<void>): Promise<CollectRun> {
      const all = ids ?? ((await opts.knex('servers').select('id')) as Array<{ id: number }>).map((r) => Number(r.id))
      const list = await servers.forSsh(all)
      const run: CollectRun = {
        id: opts.runIds ? await opts.runIds() : nextId++,
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
        .catch((err) => opts.onError?.(err, `${opts.what} failed`))
        .finally(() => {
          run.finishedAt = new Date()
          publish(run, null)
          running.delete(run.id)
        })
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

    /** Waits for every run in progress (on close, once the mode has stopped its work). */
    async drain(): Promise<void> {
      await Promise.allSettled([...running.values()])
    },
  }
}
