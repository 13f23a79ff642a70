import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { apiBody, idParam, pageJson } from '../web/crud.ts'
import { HttpError, notFound } from '../web/errors.ts'
import { parseListQuery } from '../web/list-query.ts'
import { ProjectLockedError, RELEASE_SORTS, RELEASE_STATUSES, type Release, type ReleaseHost } from './repository.ts'
import { eventsPage } from './routes.ts'
import { lockedMessage } from './service.ts'

const iso = (d: Date | null) => (d ? d.toISOString() : null)

export function releaseJson(release: Release, hosts?: ReleaseHost[]) {
  return {
    id: release.id,
    project_id: release.project_id,
    project: release.project_title,
    env: release.project_env,
    kind: release.kind,
    ref: release.ref,
    commit: release.commit,
    status: release.status,
    user: release.username,
    rollback_of: release.rollback_of,
    error: release.error,
    created_at: iso(release.created_at),
    started_at: iso(release.started_at),
    finished_at: iso(release.finished_at),
    ...(hosts
      ? {
          hosts: hosts.map((h) => ({ hostname: h.hostname, server_id: h.server_id, status: h.status, error: h.error, started_at: iso(h.started_at), finished_at: iso(h.finished_at) })),
        }
      : {}),
  }
}

/** A lock conflict as the API reports it: 409 with the running release. */
function conflict(err: unknown): never {
  if (err instanceof ProjectLockedError) throw new HttpError(409, lockedMessage(err), { running: { id: err.holder.release_id, user: err.holder.username } })
  throw err
}

/** /api/releases and /api/projects/:id/releases: what a CI job needs to start a release and follow it. */
const releaseApi: FastifyPluginAsync = async (app) => {
  const service = app.releases
  const repo = service.repo
  const deployer = { config: { role: 'deployer' as const } }

  async function releaseOr404(request: FastifyRequest): Promise<Release> {
    const release = await repo.findById(idParam(request, 'Release'))
    if (!release) throw notFound('Release')
    return release
  }

  app.get('/releases', async (request) => {
    const query = parseListQuery(request.query, RELEASE_SORTS, 'created_at', 'desc')
    const raw = request.query as Record<string, string | undefined>
    const projectId = /^\d{1,10}$/.test(raw.project ?? '') ? Number(raw.project) : undefined
    const status = (RELEASE_STATUSES as readonly string[]).includes(raw.status ?? '') ? raw.status : undefined
    return pageJson(await repo.list(query, { project_id: projectId, status }), (r) => releaseJson(r))
  })

  app.post('/projects/:id/releases', deployer, async (request, reply) => {
    const body = apiBody(request)
    const release = await service.start(request.user!, idParam(request, 'Project'), body.ref).catch(conflict)
    await request.audit('release.start', { type: 'release', id: release.id }, `${release.project_title} ${release.ref}`)
    return reply.code(201).header('location', `/api/releases/${release.id}`).send({ release: releaseJson(release) })
  })

  app.post('/projects/:id/rollback', deployer, async (request, reply) => {
    const body = apiBody(request)
    const target = Number(body.release_id)
    if (!Number.isSafeInteger(target) || target < 1) throw new HttpError(400, 'release_id must name a release to roll back to', { release_id: 'missing' })
    const release = await service.rollback(request.user!, idParam(request, 'Project'), target).catch(conflict)
    await request.audit('release.rollback', { type: 'release', id: release.id }, `${release.project_title} to #${target}`)
    return reply.code(201).header('location', `/api/releases/${release.id}`).send({ release: releaseJson(release) })
  })

  app.get('/releases/:id', async (request) => {
    const release = await releaseOr404(request)
    return { release: releaseJson(release, await repo.hosts(release.id)) }
  })

  app.get('/releases/:id/events', async (request) => eventsPage(repo, request, await releaseOr404(request)))

  app.post('/releases/:id/cancel', deployer, async (request) => {
    const release = await service.cancel(request.user!, (await releaseOr404(request)).id)
    await request.audit('release.cancel', { type: 'release', id: release.id }, release.project_title)
    return { release: releaseJson(release) }
  })

  app.post('/releases/:id/messages', async (request, reply) => {
    const release = await releaseOr404(request)
    const seq = await service.chat(request.user!, release.id, apiBody(request).body)
    return reply.code(201).send({ seq })
  })
}

export default releaseApi
