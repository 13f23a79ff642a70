import type { FastifyPluginAsync } from 'fastify'
import { prometheusText } from './prometheus.ts'
import type { createPollEndpoint } from './poll-endpoint.ts'

/**
 * POST /poll as a fastify route, for `app.inject` (real traffic takes the
 * raw handler in app.ts), and /metrics.
 */
const realtimeRoutes: FastifyPluginAsync<{ endpoint: ReturnType<typeof createPollEndpoint> }> = async (app, opts) => {
  // polls are the bulk of all requests: two log lines each would cost more than the answer
  app.post('/poll', { config: { csrf: false, securityHeaders: false }, logLevel: 'warn' }, async (request, reply) => {
    reply.hijack()
    opts.endpoint.serve(request.user!, request.body, reply.raw)
  })

  // for Prometheus (an admin's API token as Bearer) and for a look by hand
  app.get('/metrics', { config: { role: 'admin' } }, async (_request, reply) => {
    return reply.header('cache-control', 'no-store').type('text/plain; version=0.0.4; charset=utf-8').send(prometheusText(app.hub))
  })
}

export default realtimeRoutes
