import { buildApp } from './app.ts'
import { ConfigError, loadConfig } from './config.ts'

/** Process start: config, build, listen, and a graceful close on signals. */
async function main(): Promise<void> {
  const config = loadConfig()
  const app = await buildApp(config)
  let closing = false
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (closing) process.exit(1)
      closing = true
      app.log.info({ signal }, 'closing')
      app.close().then(
        () => process.exit(0),
        () => process.exit(1),
      )
    })
  }
  try {
    await app.listen({ port: config.port, host: config.host })
  } catch (err) {
    await app.close()
    const e = err as NodeJS.ErrnoException
    throw new ConfigError(e.code === 'EADDRINUSE' ? `PORT=${config.port}: the port is already in use on ${config.host}` : `HOST/PORT: ${e.message}`)
  }
  const shown = config.host === '0.0.0.0' ? 'localhost' : config.host
  app.log.info(`Longship is at http://${shown}:${config.port}/ (database: ${config.database.client})`)
}

main().catch((err: Error) => {
  // one clear line for a setting that cannot work; a stack only for a real bug
  if (err instanceof ConfigError) console.error(`longship: ${err.message}`)
  else console.error(err)
  process.exit(1)
})
