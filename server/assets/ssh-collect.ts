import { loadSecret } from '../credentials/service.ts'
import { createServersRepository, type SshServer } from '../servers/repository.ts'
import { connect, type SshConnection } from '../ssh/runner.ts'
import { collectAll } from './collectors/index.ts'
import { createSshTarget } from './targets/ssh.ts'
import { createRunBook, type CollectorOptions, type CollectRun, type HostProgress, type HostStatus } from './collect-runs.ts'

export { COLLECT_TOPIC, type CollectEvent, type CollectRun, type HostProgress, type HostStatus } from './collect-runs.ts'

class HostTimeout extends Error {}

type Options = CollectorOptions

/**
 * The console's SSH mode: collect from many servers with a bounded pool,
 * each host bounded in time, its credential and pinned host key used (a
 * key seen for the first time is pinned, as a release pins it), and every
 * host's result published live and stored as an agent's report would be.
 * One host failing is that host's error row; the others carry on.
 */
export function createSshCollector(opts: Options) {
  const servers = createServersRepository(opts.knex)
  const book = createRunBook({ knex: opts.knex, hub: opts.hub, firstId: 1, what: 'an asset collection run', onError: opts.onError, runIds: opts.runIds })
  const { publish } = book
  const open = new Set<SshConnection>()
  let stopping = false

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
  }

  return {
    /** Starts collecting these servers (all when ids is null) and returns the run at once; the work goes on in the background. */
    start: (ids: number[] | null, startedBy: string): Promise<CollectRun> => book.start(ids, startedBy, execute),
    settled: book.settled,
    find: book.find,
    latest: book.latest,

    /** On close: no new host starts, open connections are closed, and the runs are awaited. */
    async stop(): Promise<void> {
      stopping = true
      for (const conn of open) conn.close()
      await book.drain()
    },
  }
}

export type SshCollector = ReturnType<typeof createSshCollector>
