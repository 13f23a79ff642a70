import fp from 'fastify-plugin'
import { Hub, type HubOptions } from './hub.ts'
import { registerLiveLists } from './live-lists.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** The long-poll hub: features publish to topics and register the kinds of topic they own. */
    hub: Hub
  }
}

/** One hub per app, its sweep timer started with the app and every waiting poll answered on close. */
export default fp(
  async (app, opts: Partial<HubOptions>) => {
    const hub = new Hub(opts)
    registerLiveLists(hub)
    app.decorate('hub', hub)
    app.addHook('onReady', async () => hub.start())
    // before the server closes its sockets, so no poll is left hanging until the timeout
    app.addHook('preClose', async () => hub.stop())
  },
  { name: 'hub' },
)
