import cluster from 'node:cluster'
import { buildApp } from './app.ts'
import { ConfigError, loadConfig, type Config } from './config.ts'
import { describeDbError } from './db/plugin.ts'
import { createKnex } from './db/connection.ts'

/** Process start: config, build, listen, and a graceful close on signals. */
async function serve(config: Config, worker: number | null): Promise<void> {
  if (worker !== null) {
    // each worker holds its own release locks: a worker restarting must not
    // take its siblings' running releases for its own dead ones
    config.instanceId = `${config.instanceId.slice(0, 28)}-w${worker}`
    // scheduled collections run once, not once per worker
    if (worker !== 1) config.assets = { ...config.assets, everyMs: 0 }
  }
  // the primary migrated already: workers starting together must not race at it
  const app = await buildApp(config, { migrate: worker === null })
  let closing = false
  const close = (why: string) => {
    if (closing) {
      // Ctrl-C reaches a worker twice (from the terminal and from the primary): the primary decides
      if (worker === null) process.exit(1)
      return
    }
    closing = true
    app.log.info({ why }, 'closing')
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    )
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => close(signal))
  // a worker whose primary is gone (killed outright) must not live on as an orphan holding the port
  if (worker !== null) process.on('disconnect', () => close('the primary process is gone'))
  try {
    await app.listen({ port: config.port, host: config.host })
  } catch (err) {
    await app.close()
    const e = err as NodeJS.ErrnoException
    throw new ConfigError(e.code === 'EADDRINUSE' ? `PORT=${config.port}: the port is already in use on ${config.host}` : `HOST/PORT: ${e.message}`)
  }
  const shown = config.host === '0.0.0.0' ? 'localhost' : config.host
  if (worker === null || worker === 1) {
    const processes = worker === null ? '' : `, ${config.workers} worker processes`
    app.log.info(`Longship is at http://${shown}:${config.port}/ (database: ${config.database.client}${processes})`)
  }
}

/**
 * WORKERS > 1: this process migrates the database, then starts that many
 * workers that share the port (node:cluster hands each new connection to the
 * next worker) and share live events through Redis. A worker that dies is
 * started again; a signal stops them all.
 */
async function supervise(config: Config): Promise<void> {
  const knex = createKnex(config.database)
  try {
    await knex.migrate.latest()
  } catch (err) {
    throw new ConfigError(describeDbError(config, err))
  } finally {
    await knex.destroy()
  }
  let stopping = false
  const start = (n: number) => cluster.fork({ LONGSHIP_WORKER: String(n) }).on('exit', (code, signal) => {
    if (stopping) return
    // a worker that cannot start (a setting, the port) stops them all, with its own message printed
    if (code === 1 && Date.now() - started < 30_000) {
      stopping = true
      for (const w of Object.values(cluster.workers ?? {})) w?.kill('SIGTERM')
      process.exitCode = 1
      return
    }
    console.error(`longship: worker ${n} exited (${signal ?? `code ${code}`}); starting it again`)
    setTimeout(() => start(n), 1_000)
  })
  const started = Date.now()
  for (let n = 1; n <= config.workers; n++) start(n)
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) process.exit(1)
      stopping = true
      for (const w of Object.values(cluster.workers ?? {})) w?.kill(signal)
    })
  }
}

async function main(): Promise<void> {
  const config = loadConfig()
  if (cluster.isWorker) return serve(config, Number(process.env.LONGSHIP_WORKER))
  if (config.workers > 1) return supervise(config)
  return serve(config, null)
}

main().catch((err: Error) => {
  // one clear line for a setting that cannot work; a stack only for a real bug
  if (err instanceof ConfigError) console.error(`longship: ${err.message}`)
  else console.error(err)
  process.exit(1)
})
