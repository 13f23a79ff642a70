import type { FastifyPluginAsync } from 'fastify'
import { createServersService } from './service.ts'
import { SERVER_SORTS, type Server } from './repository.ts'
import { parseListQuery } from '../web/list-query.ts'
import { apiBody, conflictOrInvalid, idParam, pageJson } from '../web/crud.ts'
import { notFound } from '../web/errors.ts'

const admin = { config: { role: 'admin' as const } }

/** The API's view of a server: everything but the pinned key itself. */
export function serverJson(server: Server) {
  return {
    id: server.id,
    hostname: server.hostname,
    address: server.address,
    port: server.port,
    username: server.username,
    credential_id: server.credential_id,
    env: server.env,
    tags: server.tags,
    notes: server.notes,
    host_key_fingerprint: server.host_key_fingerprint,
    created_at: server.created_at.toISOString(),
    updated_at: server.updated_at.toISOString(),
  }
}

/** /api/servers: the same validation and messages as the forms, errors as {error, details}. */
const serverApi: FastifyPluginAsync = async (app) => {
  const service = createServersService(app.knex, app.hub)

  app.get('/servers', async (request) => {
    const query = parseListQuery(request.query, SERVER_SORTS, 'hostname')
    const page = await service.repo.list(query)
    return pageJson(page, serverJson)
  })

  app.post('/servers', admin, async (request, reply) => {
    const result = await service.create(apiBody(request))
    if (!result.ok) throw conflictOrInvalid(result.errors)
    await request.audit('server.create', { type: 'server', id: result.server.id }, result.server.hostname)
    return reply.code(201).header('location', `/api/servers/${result.server.id}`).send(serverJson(result.server))
  })

  app.get('/servers/:id', async (request) => {
    const server = await service.repo.findById(idParam(request, 'Server'))
    if (!server) throw notFound('Server')
    return serverJson(server)
  })

  app.patch('/servers/:id', admin, async (request) => {
    const id = idParam(request, 'Server')
    const body = apiBody(request)
    if (!(await service.repo.findById(id))) throw notFound('Server')
    const result = await service.update(id, body, true)
    if (!result.ok) throw result.notFound ? notFound('Server') : conflictOrInvalid(result.errors)
    await request.audit('server.update', { type: 'server', id }, `${result.server.hostname}: ${Object.keys(body).join(', ')}`)
    return serverJson(result.server)
  })

  app.delete('/servers/:id', admin, async (request, reply) => {
    const id = idParam(request, 'Server')
    const server = await service.remove(id)
    if (!server) throw notFound('Server')
    await request.audit('server.delete', { type: 'server', id }, server.hostname)
    return reply.code(204).send()
  })
}

export default serverApi
