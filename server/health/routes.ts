import type { FastifyPluginAsync } from 'fastify'

/** GET /healthz: 200 when the database answers, 503 when it does not. */
const healthRoutes: FastifyPluginAsync = async (app) => {
  app.get('/healthz', { config: { access: 'public', identify: false } }, async (request, reply) => {
    const started = Date.now()
    try {
      await app.knex.raw('select 1')
      return { status: 'ok', database: { status: 'ok', client: app.knex.client.config.client, ms: Date.now() - started } }
    } catch (err) {
      request.log.error({ err }, 'health check: database unreachable')
      return reply.code(503).send({ status: 'error', database: { status: 'unreachable', error: (err as Error).message } })
    }
  })
}

export default healthRoutes
