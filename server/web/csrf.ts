import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** false: the route changes nothing a forged request could abuse (the long poll). */
    csrf?: false
  }
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS'])

/** The token from a form field (urlencoded or multipart) or the ajax header. */
export function csrfTokenOf(request: FastifyRequest): string | undefined {
  const header = request.headers['x-csrf-token']
  if (typeof header === 'string' && header) return header
  const body = request.body as Record<string, unknown> | undefined
  const field = body && typeof body === 'object' ? body._csrf : undefined
  return typeof field === 'string' ? field : undefined
}

/**
 * Every state-changing request carries the session's CSRF token, in the
 * `_csrf` field of a form or the X-CSRF-Token header of an ajax call. Calls
 * authenticated by an API token carry no cookie, so there is nothing to forge.
 * Registered after `auth` so the hook knows how the caller signed in.
 */
export default fp(
  async (app) => {
    app.addHook('preHandler', (request, reply, done) => {
      if (SAFE.has(request.method) || request.authMethod === 'token' || request.routeOptions.config.csrf === false) return done()
      app.csrfProtection(request, reply, done)
    })
  },
  { name: 'csrf-guard', dependencies: ['@fastify/csrf-protection', 'auth'] },
)
