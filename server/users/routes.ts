import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { createUsersRepository, ROLES, USER_SORTS, type ApiToken, type User } from './repository.ts'
import { hashPassword, verifyPassword } from './password.ts'
import { readPassword, readUser } from './schema.ts'
import { isUniqueViolation } from '../db/connection.ts'
import { destroyUserSessions } from '../db/session-store.ts'
import { parseListQuery } from '../web/list-query.ts'
import { bodyOf, done, idParam } from '../web/crud.ts'
import { HttpError, notFound } from '../web/errors.ts'
import { FieldReader, type FieldErrors } from '../web/validate.ts'

const admin = { config: { role: 'admin' as const } }
const LAST_ADMIN = 'At least one admin must remain: make another user admin first.'
const taken = (username: string) => `A user named ${username} already exists`

interface ShowExtras {
  status?: number
  passwordErrors?: FieldErrors
  tokenValues?: Record<string, unknown>
  tokenErrors?: FieldErrors
  /** Shown once, on the 201 answer to the create form, and never stored anywhere readable. */
  newToken?: { token: string; record: ApiToken }
}

/** The signed-in user; the auth hook has refused every anonymous call before a handler runs. */
function me(request: FastifyRequest): User {
  return request.user as User
}

/** Admins manage every user; anyone else sees and manages only their own page. */
const userRoutes: FastifyPluginAsync = async (app) => {
  const users = createUsersRepository(app.knex)

  /** The user behind :id, if the caller may see them: their own page, or any page for an admin. */
  async function visibleUser(request: FastifyRequest): Promise<User> {
    const id = idParam(request, 'User')
    if (me(request).role !== 'admin' && me(request).id !== id) throw new HttpError(403, 'You can only see your own user page.')
    const user = await users.findById(id)
    if (!user) throw notFound('User')
    return user
  }

  /** Password and token creation belong to the person alone: not even an admin acts as them. */
  function ownOnly(request: FastifyRequest, id: number, what: string): void {
    if (me(request).id !== id) throw new HttpError(403, `Only the user themself can ${what}.`)
  }

  async function form(reply: FastifyReply, values: Record<string, unknown>, errors: FieldErrors, id: number | null, status = 200) {
    return reply.code(status).render('users/form', { title: id ? 'Edit user' : 'New user', id, values, errors, roles: ROLES })
  }

  async function show(request: FastifyRequest, reply: FastifyReply, target: User, extras: ShowExtras = {}) {
    const self = me(request).id === target.id
    // an admin may revoke anyone's token, so sees the list; creating one is the person's own act
    const tokens = self || me(request).role === 'admin' ? await users.listTokens(target.id) : []
    if (extras.newToken) reply.header('cache-control', 'no-store')
    return reply.code(extras.status ?? 200).render('users/show', {
      title: target.username,
      target,
      self,
      tokens,
      passwordErrors: extras.passwordErrors ?? {},
      tokenValues: extras.tokenValues ?? {},
      tokenErrors: extras.tokenErrors ?? {},
      newToken: extras.newToken ?? null,
    })
  }

  app.get('/account', async (request, reply) => reply.redirect(`/users/${me(request).id}`))

  app.get('/users', admin, async (request, reply) => {
    const query = parseListQuery(request.query, USER_SORTS, 'username')
    const page = await users.list(query)
    return reply.render('users/list', { title: 'Users', page, query })
  })

  app.get('/users/new', admin, async (_request, reply) => form(reply, { role: 'viewer' }, {}, null))

  app.post('/users', admin, async (request, reply) => {
    const body = bodyOf(request)
    const { value, errors } = readUser(body, 'create')
    if (!errors.username && (await users.usernameTaken(value.username))) errors.username = taken(value.username)
    if (Object.keys(errors).length) return form(reply, body, errors, null, 400)
    let created: User
    try {
      const password_hash = await hashPassword(value.password)
      created = await users.create({ username: value.username, display_name: value.display_name, role: value.role, password_hash })
    } catch (err) {
      // two admins creating the same name at once: the unique index decides
      if (isUniqueViolation(err)) return form(reply, body, { username: taken(value.username) }, null, 400)
      throw err
    }
    await request.audit('user.create', { type: 'user', id: created.id }, `${created.username} (${created.role})`)
    return done(request, reply, `/users/${created.id}`, `User ${created.username} created.`)
  })

  app.get('/users/:id', async (request, reply) => show(request, reply, await visibleUser(request)))

  app.get('/users/:id/edit', admin, async (request, reply) => {
    const user = await users.findById(idParam(request, 'User'))
    if (!user) throw notFound('User')
    return form(reply, { username: user.username, display_name: user.display_name, role: user.role }, {}, user.id)
  })

  app.post('/users/:id', admin, async (request, reply) => {
    const id = idParam(request, 'User')
    const before = await users.findById(id)
    if (!before) throw notFound('User')
    const body = bodyOf(request)
    const { value, errors } = readUser(body, 'edit')
    if (!errors.username && (await users.usernameTaken(value.username, id))) errors.username = taken(value.username)
    if (Object.keys(errors).length) return form(reply, body, errors, id, 400)
    // an admin setting someone's password here needs no current password: they may reset it anyway
    const password_hash = value.password ? await hashPassword(value.password) : undefined
    let outcome: { user: User | null } | { errors: FieldErrors }
    try {
      outcome = await app.knex.transaction(async (trx) => {
        if (value.role !== 'admin') {
          const admins = await users.lockAdminIds(trx)
          if (admins.includes(id) && admins.length <= 1) return { errors: { role: LAST_ADMIN } }
        }
        const changes = { username: value.username, display_name: value.display_name, role: value.role, ...(password_hash ? { password_hash } : {}) }
        return { user: await users.update(id, changes, trx) }
      })
    } catch (err) {
      if (isUniqueViolation(err)) outcome = { errors: { username: taken(value.username) } }
      else throw err
    }
    if ('errors' in outcome) return form(reply, body, outcome.errors, id, 400)
    const user = outcome.user
    if (!user) throw notFound('User')
    const changed = (['username', 'display_name', 'role'] as const).filter((k) => before[k] !== user[k]).map((k) => `${k} ${before[k]} → ${user[k]}`)
    await request.audit('user.update', { type: 'user', id }, `${user.username}: ${changed.join(', ') || 'no field changed'}`)
    if (password_hash) {
      await destroyUserSessions(app.knex, id, id === me(request).id ? request.session.sessionId : undefined)
      await request.audit('user.password', { type: 'user', id }, `${user.username}: set by an admin`)
    }
    return done(request, reply, `/users/${id}`, `User ${user.username} saved.`)
  })

  /** Why this caller may not delete the user, or null when they may. */
  async function deleteRefusal(request: FastifyRequest, target: User): Promise<string | null> {
    if (me(request).id !== target.id) return null
    const last = (await users.countAdmins()) <= 1 ? ' ' + LAST_ADMIN : ''
    return `You cannot delete yourself; another admin can.${last}`
  }

  app.get('/users/:id/delete', admin, async (request, reply) => {
    const user = await users.findById(idParam(request, 'User'))
    if (!user) throw notFound('User')
    const refusal = await deleteRefusal(request, user)
    if (refusal) throw new HttpError(409, refusal)
    return reply.render('partials/confirm-delete', {
      label: `user ${user.username}`,
      warning: 'Their API tokens stop working at once and their sessions are signed out. The audit log keeps their name.',
      action: `/users/${user.id}/delete`,
      cancel: `/users/${user.id}`,
    })
  })

  app.post('/users/:id/delete', admin, async (request, reply) => {
    const id = idParam(request, 'User')
    const user = await users.findById(id)
    if (!user) throw notFound('User')
    const refusal = await deleteRefusal(request, user)
    if (refusal) throw new HttpError(409, refusal)
    const removed = await app.knex.transaction(async (trx) => {
      const admins = await users.lockAdminIds(trx)
      if (admins.includes(id) && admins.length <= 1) throw new HttpError(409, LAST_ADMIN)
      // api_tokens go with the row (ON DELETE CASCADE); the user's sessions go here
      const gone = await users.remove(id, trx)
      if (gone) await destroyUserSessions(trx, id)
      return gone
    })
    if (!removed) throw notFound('User')
    await request.audit('user.delete', { type: 'user', id }, user.username)
    return done(request, reply, '/users', `User ${user.username} deleted.`, { id })
  })

  app.post('/users/:id/password', async (request, reply) => {
    const id = idParam(request, 'User')
    ownOnly(request, id, 'change their password here; an admin sets a new one on the edit page')
    const found = await users.findWithHash(id)
    if (!found) throw notFound('User')
    const { password_hash: storedHash, ...target } = found
    const reader = new FieldReader(bodyOf(request))
    const current = reader.raw('current_password')
    const password = readPassword(reader)
    if (typeof current !== 'string' || current === '') reader.fail('current_password', 'Current password is required')
    else if (current.length > 1024 || !(await verifyPassword(current, storedHash))) reader.fail('current_password', 'The current password is wrong')
    if (!reader.ok) return show(request, reply, target, { status: 400, passwordErrors: reader.errors })
    await users.update(id, { password_hash: await hashPassword(password) })
    await request.audit('user.password', { type: 'user', id }, `${target.username}: changed by themself`)
    // a new session id, so one captured before the change is worth nothing from here on
    await request.session.regenerate()
    request.session.userId = id
    // whoever else holds a session of this user (a stolen cookie, a forgotten browser) is signed out
    await destroyUserSessions(app.knex, id, request.session.sessionId)
    return done(request, reply, `/users/${id}`, 'Your password has been changed.')
  })

  app.post('/users/:id/tokens', async (request, reply) => {
    const id = idParam(request, 'User')
    ownOnly(request, id, 'create their API tokens')
    const target = await users.findById(id)
    if (!target) throw notFound('User')
    const body = bodyOf(request)
    const reader = new FieldReader(body)
    const name = reader.text('name', { label: 'Token name', required: true, max: 64 })
    if (reader.ok && (await users.listTokens(id)).some((t) => t.name.toLowerCase() === name.toLowerCase())) {
      reader.fail('name', `A token named ${name} already exists`)
    }
    if (!reader.ok) return show(request, reply, target, { status: 400, tokenValues: body, tokenErrors: reader.errors })
    const created = await users.createToken(id, name)
    await request.audit('token.create', { type: 'api_token', id: created.record.id }, `${target.username}: ${name} (${created.record.prefix}…)`)
    // rendered, not redirected: a flash would keep the secret in the session store
    return show(request, reply, target, { status: 201, newToken: created })
  })

  app.post('/users/:id/tokens/:tokenId/revoke', async (request, reply) => {
    const target = await visibleUser(request)
    const tokenId = idParam(request, 'API token', 'tokenId')
    const token = (await users.listTokens(target.id)).find((t) => t.id === tokenId)
    if (!token || !(await users.revokeToken(target.id, tokenId))) throw notFound('API token')
    await request.audit('token.revoke', { type: 'api_token', id: tokenId }, `${target.username}: ${token.name} (${token.prefix}…)`)
    return done(request, reply, `/users/${target.id}`, `Token ${token.name} revoked; it no longer works.`, { id: tokenId })
  })
}

export default userRoutes
