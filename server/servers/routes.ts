import type { FastifyPluginAsync, FastifyReply } from 'fastify'
import { createServersService } from './service.ts'
import { SERVER_SORTS } from './repository.ts'
import { createCredentialsRepository } from '../credentials/repository.ts'
import { ENVIRONMENTS } from '../web/environments.ts'
import { parseListQuery } from '../web/list-query.ts'
import { cachedPage } from '../web/page-cache.ts'
import { bodyOf, done, idParam, isAjax } from '../web/crud.ts'
import { testConnection } from './connection-test.ts'
import { createAssetsRepository } from '../assets/repository.ts'
import { notFound } from '../web/errors.ts'
import type { FieldErrors } from '../web/validate.ts'

const admin = { config: { role: 'admin' as const } }
const deployer = { config: { role: 'deployer' as const } }

/** The server pages: list, show, and the admin's create / edit / delete forms. */
const serverRoutes: FastifyPluginAsync<{ secretKey: Buffer; connectTimeoutMs: number }> = async (app, opts) => {
  const service = createServersService(app.knex, app.hub)
  const credentials = createCredentialsRepository(app.knex)
  const assets = createAssetsRepository(app.knex)

  async function form(reply: FastifyReply, values: Record<string, unknown>, errors: FieldErrors, id: number | null, status = 200) {
    return reply.code(status).render('servers/form', {
      title: id ? `Edit ${values.hostname ?? ''}` : 'New server',
      id,
      values,
      errors,
      environments: ENVIRONMENTS,
      credentials: await credentials.options(),
    })
  }

  app.get('/servers', async (request, reply) => {
    const query = parseListQuery(request.query, SERVER_SORTS, 'hostname')
    // rows show the admin's actions, so the role is part of the key
    const role = request.user?.role === 'admin' ? 'admin' : 'reader'
    const key = `servers:${role}:${query.sort}:${query.dir}:${query.page}:${query.q}`
    const listHtml = await cachedPage(app.knex, ['servers', 'credentials'], key, async () => {
      // the cursor before the rows: a change published meanwhile is then sent again, not skipped
      const liveCursor = app.hub.head('servers')
      const page = await service.repo.list(query)
      return reply.viewAsync('servers/list-body', { page, query, liveCursor, user: request.user })
    })
    return reply.render('servers/list', { title: 'Servers', listHtml })
  })

  // the live list fetches a changed row as this user would see it
  app.get('/servers/:id/row', async (request, reply) => {
    const server = await service.repo.findById(idParam(request, 'Server'))
    if (!server) throw notFound('Server')
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(await reply.viewAsync('servers/row', { s: server, user: request.user }))
  })

  app.get('/servers/new', admin, async (_request, reply) => form(reply, { port: 22, username: 'root', env: 'test' }, {}, null))

  app.post('/servers', admin, async (request, reply) => {
    const body = bodyOf(request)
    const result = await service.create(body)
    if (!result.ok) return form(reply, body, result.errors, null, 400)
    await request.audit('server.create', { type: 'server', id: result.server.id }, result.server.hostname)
    return done(request, reply, `/servers/${result.server.id}`, `Server ${result.server.hostname} created.`)
  })

  app.get('/servers/:id', async (request, reply) => {
    const server = await service.repo.findById(idParam(request, 'Server'))
    if (!server) throw notFound('Server')
    const projects = await service.repo.projectsUsing(server.id)
    const asset = await assets.findByServerId(server.id)
    return reply.render('servers/show', { title: server.hostname, server, projects, asset })
  })

  // connect, run `uname -a`, pin the host key when none is pinned yet
  app.post('/servers/:id/test', deployer, async (request, reply) => {
    const id = idParam(request, 'Server')
    const result = await testConnection(app.knex, opts.secretKey, service.repo, id, opts.connectTimeoutMs)
    if (!result) throw notFound('Server')
    await request.audit('server.test', { type: 'server', id }, result.ok ? 'connected' : result.error)
    if (isAjax(request)) return reply.code(result.ok ? 200 : 502).send(result)
    if (result.ok) {
      request.flash('success', `Connected in ${result.ms} ms: ${result.output} (host key ${result.fingerprint}${result.pinnedNow ? ', pinned now' : ''})`)
    } else {
      request.flash('error', `Connection failed: ${result.error}`)
    }
    return reply.redirect(`/servers/${id}`)
  })

  // the server was reinstalled: forget its key so the next connection pins the new one
  app.post('/servers/:id/host-key/delete', admin, async (request, reply) => {
    const id = idParam(request, 'Server')
    if (!(await service.repo.clearHostKey(id))) throw notFound('Server')
    await request.audit('server.host_key_clear', { type: 'server', id }, 'host key forgotten')
    return done(request, reply, `/servers/${id}`, 'Host key forgotten; the next connection pins the key the server shows.')
  })

  app.get('/servers/:id/edit', admin, async (request, reply) => {
    const server = await service.repo.findById(idParam(request, 'Server'))
    if (!server) throw notFound('Server')
    return form(reply, { ...server, tags: server.tags.join(', ') }, {}, server.id)
  })

  app.post('/servers/:id', admin, async (request, reply) => {
    const id = idParam(request, 'Server')
    const body = bodyOf(request)
    if (!(await service.repo.findById(id))) throw notFound('Server')
    const result = await service.update(id, body, false)
    if (!result.ok) {
      if (result.notFound) throw notFound('Server')
      return form(reply, body, result.errors, id, 400)
    }
    await request.audit('server.update', { type: 'server', id }, result.server.hostname)
    return done(request, reply, `/servers/${id}`, `Server ${result.server.hostname} saved.`)
  })

  app.get('/servers/:id/delete', admin, async (request, reply) => {
    const server = await service.repo.findById(idParam(request, 'Server'))
    if (!server) throw notFound('Server')
    return reply.render('partials/confirm-delete', {
      label: `server ${server.hostname}`,
      warning: 'Its collected assets go with it; projects that use it will no longer deploy to it.',
      action: `/servers/${server.id}/delete`,
      cancel: `/servers/${server.id}`,
    })
  })

  app.post('/servers/:id/delete', admin, async (request, reply) => {
    const id = idParam(request, 'Server')
    const server = await service.remove(id)
    if (!server) throw notFound('Server')
    await request.audit('server.delete', { type: 'server', id }, server.hostname)
    return done(request, reply, '/servers', `Server ${server.hostname} deleted.`, { id })
  })
}

export default serverRoutes
