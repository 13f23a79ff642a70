import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { createUsersRepository, type Role, type User } from '../users/repository.ts'
import { wantsJson } from './request-kind.ts'

declare module 'fastify' {
  interface Session {
    userId?: number
    /** The hour the session was last extended (see keepAlive). */
    activeHour?: number
  }
  interface FastifyRequest {
    user: User | null
    /** How the caller proved who it is: API tokens skip CSRF, sessions never do. */
    authMethod: 'session' | 'token' | null
  }
  interface FastifyContextConfig {
    /** 'public': no sign-in needed (login, setup, health, static). Default: signed in. */
    access?: 'public'
    /** The least role the route needs; default viewer. */
    role?: Role
    /** false: do not even look up the caller (health checks must not need the database twice). */
    identify?: false
  }
}

const RANK: Record<Role, number> = { viewer: 1, deployer: 2, admin: 3 }

export function hasRole(user: User | null, role: Role): boolean {
  return !!user && RANK[user.role] >= RANK[role]
}

function refuse(request: FastifyRequest, reply: FastifyReply, status: 401 | 403, message: string) {
  if (wantsJson(request)) return reply.code(status).send({ error: message })
  return reply.code(status).render('errors/error', { status, title: status === 401 ? 'Sign in needed' : 'Not allowed', message })
}

/**
 * Sessions last SESSION_MAX_AGE_HOURS from their last use. Saving the session
 * on every request (fastify-session's `rolling`) would be a database write per
 * page view; once an hour per session is as good for expiry and far cheaper.
 */
function keepAlive(request: FastifyRequest): void {
  const hour = Math.floor(Date.now() / 3_600_000)
  if (request.session.activeHour === hour) return
  request.session.activeHour = hour
  request.session.touch()
}

/**
 * Who is calling: a Bearer API token or the session's user. While the
 * console has no user at all, every page leads to /setup.
 */
export default fp(
  async (app) => {
    const users = createUsersRepository(app.knex)
    // once a user exists the console never goes back to first-run (the last
    // admin cannot be deleted), so the count is only asked until then
    let hasUsers = false

    app.decorateRequest('user', null)
    app.decorateRequest('authMethod', null)

    app.addHook('preHandler', async (request, reply) => {
      const config = request.routeOptions.config
      if (config.identify === false) return
      const auth = request.headers.authorization
      if (auth && /^Bearer\s+/i.test(auth)) {
        request.user = await users.findByToken(auth.replace(/^Bearer\s+/i, '').trim())
        if (!request.user) return reply.code(401).send({ error: 'The API token is not valid (revoked or mistyped)' })
        request.authMethod = 'token'
      } else if (request.session?.userId) {
        request.user = await users.findSignedIn(request.session.userId)
        if (request.user) {
          request.authMethod = 'session'
          keepAlive(request)
        } else delete request.session.userId
      }

      const isSetup = request.url === '/setup' || request.url.startsWith('/setup?')
      // public pages never lead to /setup, so they need not ask whether users exist
      if (config.access === 'public') return
      if (!hasUsers) hasUsers = (await users.count()) > 0
      if (!hasUsers && !isSetup) {
        if (wantsJson(request)) return reply.code(503).send({ error: 'No user exists yet: open /setup in a browser to create the first admin' })
        return reply.redirect('/setup')
      }
      if (hasUsers && isSetup) return reply.redirect(request.user ? '/' : '/login')
      if (isSetup) return

      if (!request.user) {
        if (wantsJson(request)) return reply.code(401).send({ error: 'Sign in or send an API token (Authorization: Bearer ...)' })
        const next = request.method === 'GET' ? `?next=${encodeURIComponent(request.url)}` : ''
        return reply.redirect(`/login${next}`)
      }
      const role = config.role ?? 'viewer'
      if (!hasRole(request.user, role)) {
        return refuse(request, reply, 403, `This needs the ${role} role; you are signed in as ${request.user.username} (${request.user.role}).`)
      }
    })
  },
  { name: 'auth', dependencies: ['db', '@fastify/session', 'views'] },
)
