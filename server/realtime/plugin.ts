import fp from 'fastify-plugin'
import { Hub, type HubOptions } from './hub.ts'
import { registerLiveLists } from './live-lists.ts'
import { connectRedisRelay, type RedisRelay } from './redis-relay.ts'
import { onTableChanged, tableChangedElsewhere } from '../db/table-cache.ts'
import { ConfigError } from '../config.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** The long-poll hub: features publish to topics and register the kinds of topic they own. */
    hub: Hub
    /** The backplane to the other instances (REDIS_URL), null for a console on its own. */
    relay: RedisRelay | null
  }
}

export interface HubPluginOptions extends Partial<HubOptions> {
  /** REDIS_URL and REDIS_PREFIX: share events with the other instances through Redis. */
  redis?: { url: string; prefix: string } | null
}

/** One hub per app, its sweep timer started with the app and every waiting poll answered on close. */
export default fp(
  async (app, opts: HubPluginOptions) => {
    const { redis, ...hubOptions } = opts
    const hub = new Hub(hubOptions)
    registerLiveLists(hub)
    app.decorate('hub', hub)
    app.decorate('relay', null)
    if (redis) {
      const relay = await connectRedisRelay(hub, { ...redis, onError: (err, message) => app.log.error({ err }, message) }).catch((err: Error) => {
        throw new ConfigError(`REDIS_URL: cannot use Redis at ${new URL(redis.url).host}: ${err.message}`)
      })
      app.relay = relay
      // the other instances' caches of a table written here (page-cache.ts, table-cache.ts) go stale at once
      onTableChanged(app.knex, (table) => relay.broadcast('table', table))
      relay.handle('table', (table) => tableChangedElsewhere(app.knex, table))
      app.addHook('onClose', async () => {
        onTableChanged(app.knex, null)
        await relay.close()
      })
    }
    app.addHook('onReady', async () => hub.start())
    // before the server closes its sockets, so no poll is left hanging until the timeout
    app.addHook('preClose', async () => hub.stop())
  },
  { name: 'hub', dependencies: ['db'] },
)
