import fp from 'fastify-plugin'
import type { Config } from '../config.ts'
import type { AssetConfig } from './config.ts'
import { createAssetsService, type AssetsService } from './service.ts'
import { COLLECT_TOPIC, createSshCollector, type SshCollector } from './ssh-collect.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** The CMDB: storing collections from any mode, and the console's own SSH collection runs. */
    assets: { service: AssetsService; ssh: SshCollector; config: AssetConfig }
  }
}

/**
 * One assets service and SSH collector per app. Collection runs are
 * in-memory jobs: on close, open connections are dropped and the runs
 * awaited, so nothing writes to a closed database.
 */
export default fp(
  async (app, opts: { config: Config }) => {
    const assetConfig = opts.config.assets
    const service = createAssetsService(app.knex, app.hub)
    const ssh = createSshCollector({
      knex: app.knex,
      hub: app.hub,
      service,
      secretKey: opts.config.secretKey,
      connectTimeoutMs: opts.config.connectTimeoutMs,
      config: assetConfig,
      onError: (err, message) => app.log.error({ err }, message),
    })
    // every signed-in user may see the assets pages, so every one may watch a run's progress
    app.hub.registerKind({ name: COLLECT_TOPIC, authorize: () => true })
    app.decorate('assets', { service, ssh, config: assetConfig })
    app.addHook('preClose', async () => ssh.stop())
  },
  { name: 'assets', dependencies: ['hub', 'db'] },
)
