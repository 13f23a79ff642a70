import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { createUsersRepository } from './repository.ts'
import { hashPassword, verifyPassword } from './password.ts'
import { readUser } from './schema.ts'
import { bodyOf } from '../web/crud.ts'

/** Only same-site relative paths: a ?next= must not send a person elsewhere. */
function safeNext(value: unknown): string {
  return typeof value === 'string' && /^\/(?![/\\])/.test(value) ? value : '/'
}

// a hash to verify against when the username is unknown, so that timing does
// not tell which usernames exist
const DUMMY_HASH = hashPassword('not a real password')

const authRoutes: FastifyPluginAsync<{ loginMaxFailures: number }> = async (app, opts) => {
  const users = createUsersRepository(app.knex)
  // failures only: a person who types the password right is never slowed down
  const countFailure = app.createRateLimit({ max: opts.loginMaxFailures, timeWindow: 60_000, keyGenerator: (r) => `login:${r.ip}` })

  /** Seconds this address must still wait, read from the limit's store (with REDIS_URL, shared by every instance). */
  async function blockedFor(request: FastifyRequest): Promise<number> {
    const limit = await countFailure(request, { increment: false })
    // isAllowed is true only for an allow-listed address, which this limit has none of
    return !limit.isAllowed && limit.remaining === 0 ? Math.max(1, Math.ceil(limit.ttl / 1000)) : 0
  }

  app.get('/setup', async (_request, reply) => reply.render('auth/setup', { values: { role: 'admin' }, errors: {} }))

  app.post('/setup', async (request, reply) => {
    const input = { ...bodyOf(request), role: 'admin' }
    const { value, errors } = readUser(input, 'create')
    if (Object.keys(errors).length) return reply.code(400).render('auth/setup', { values: input, errors })
    // a second browser may have finished setup meanwhile: the transaction makes "no users yet" hold
    const created = await app.knex.transaction(async (trx) => {
      if ((await users.count(trx)) > 0) return null
      return users.create({ username: value.username, display_name: value.display_name, role: 'admin', password_hash: await hashPassword(value.password) }, trx)
    })
    if (!created) return reply.redirect('/login')
    await request.session.regenerate()
    request.session.userId = created.id
    request.user = created
    await users.touchLogin(created.id)
    await request.audit('setup', { type: 'user', id: created.id }, `first admin ${created.username}`)
    request.flash('success', `Welcome, ${created.username}: you are the first admin.`)
    return reply.redirect('/')
  })

  app.get('/login', { config: { access: 'public' } }, async (request, reply) => {
    if (request.user) return reply.redirect(safeNext((request.query as Record<string, unknown>).next))
    return reply.render('auth/login', { values: {}, next: safeNext((request.query as Record<string, unknown>).next), error: null })
  })

  app.post('/login', { config: { access: 'public' } }, async (request, reply) => {
    const body = bodyOf(request)
    const next = safeNext(body.next)
    const wait = await blockedFor(request)
    if (wait > 0) {
      await request.audit('login.blocked', { type: 'user' }, `rate-limited, ${wait}s left`)
      reply.header('retry-after', String(wait))
      return reply.code(429).render('auth/login', { values: body, next, error: `Too many failed sign-ins from your address. Try again in ${wait} seconds.` })
    }
    const username = typeof body.username === 'string' ? body.username.trim().slice(0, 64) : ''
    const password = typeof body.password === 'string' ? body.password.slice(0, 1024) : ''
    const user = username ? await users.findByUsernameWithHash(username) : null
    const good = user ? await verifyPassword(password, user.password_hash) : (await verifyPassword(password, await DUMMY_HASH), false)
    if (!user || !good) {
      await countFailure(request)
      await request.audit('login.failed', { type: 'user' }, `username ${JSON.stringify(username)}`)
      return reply.code(401).render('auth/login', { values: { username }, next, error: 'Wrong username or password.' })
    }
    await request.session.regenerate()
    request.session.userId = user.id
    request.user = user
    await users.touchLogin(user.id)
    await request.audit('login', { type: 'user', id: user.id })
    return reply.redirect(next)
  })

  app.post('/logout', { config: { access: 'public' } }, async (request, reply) => {
    if (request.user) await request.audit('logout', { type: 'user', id: request.user.id })
    await request.session.destroy()
    return reply.redirect('/login')
  })
}

export default authRoutes
