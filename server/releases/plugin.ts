import fp from 'fastify-plugin'
import type { Config } from '../config.ts'
import { createReleaseService, type ReleaseService } from './service.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** Releases: start, cancel, roll back, and the runs in progress on this instance. */
    releases: ReleaseService
  }
}

/**
 * One release service per app. On ready, releases a dead console left
 * running are marked interrupted and their locks freed; on close, the runs
 * of this instance are stopped (commands killed) and marked interrupted.
 */
export default fp(
  async (app, opts: { config: Config }) => {
    const service = createReleaseService({
      knex: app.knex,
      hub: app.hub,
      config: opts.config,
      onError: (err, message) => app.log.error({ err }, message),
    })
    app.decorate('releases', service)
    app.addHook('onReady', async () => {
      // a database away at this moment must not keep the console from starting (/healthz says what is wrong);
      // the service tries again on its next heartbeat
      try {
        const count = await service.recover()
        if (count) app.log.warn({ count }, 'releases left running by a stopped console were marked interrupted')
      } catch (err) {
        app.log.error({ err }, 'could not check for releases left running; trying again shortly')
      }
    })
    app.addHook('preClose', async () => service.stop())
  },
  { name: 'releases', dependencies: ['hub'] },
)
