import fp from 'fastify-plugin'
import type { Config } from '../config.ts'
import { createAnsibleCollector, type AnsibleCollector } from './ansible-collect.ts'
import type { CollectorOptions } from './collect-runs.ts'
import type { AssetConfig } from './config.ts'
import { createAssetsService, type AssetsService } from './service.ts'
import { COLLECT_TOPIC, createSshCollector, type SshCollector } from './ssh-collect.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** The CMDB: storing collections from any mode, and the console's own SSH collection runs. */
    assets: { service: AssetsService; ssh: SshCollector; ansible: AnsibleCollector; config: AssetConfig }
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
    const relay = app.relay
    const collectorOptions: CollectorOptions = {
      knex: app.knex,
      hub: app.hub,
      service,
      secretKey: opts.config.secretKey,
      connectTimeoutMs: opts.config.connectTimeoutMs,
      config: assetConfig,
      onError: (err, message) => app.log.error({ err }, message),
      // runs of every instance show on the same live page: their numbers must not meet
      runIds: relay ? () => relay.counter('collect-runs') : undefined,
    }
    const ssh = createSshCollector(collectorOptions)
    const ansible = createAnsibleCollector(collectorOptions)
    // every signed-in user may see the assets pages, so every one may watch a run's progress
    app.hub.registerKind({ name: COLLECT_TOPIC, authorize: () => true })
    app.decorate('assets', { service, ssh, ansible, config: assetConfig })
    // the schedule: one run at a time; a run still going when the next is due is left to finish
    let scheduled: number | null = null
    const timer =
      assetConfig.everyMs > 0
        ? setInterval(() => {
            if (scheduled !== null && ssh.find(scheduled)?.finishedAt === null) return
            ssh.start(null, 'schedule').then(
              (run) => (scheduled = run.id),
              (err) => app.log.error({ err }, 'the scheduled asset collection did not start'),
            )
          }, assetConfig.everyMs)
        : null
    timer?.unref()
    app.addHook('preClose', async () => {
      if (timer) clearInterval(timer)
      await Promise.all([ssh.stop(), ansible.stop()])
    })
  },
  { name: 'assets', dependencies: ['hub', 'db'] },
)
