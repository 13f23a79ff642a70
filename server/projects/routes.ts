import type { FastifyPluginAsync, FastifyReply } from 'fastify'
import { createProjectsService } from './service.ts'
import { HOOKS, PROJECT_SORTS, ROLLOUTS } from './repository.ts'
import { HOOK_LABELS } from './schema.ts'
import { createServersRepository } from '../servers/repository.ts'
import { createReleasesRepository, RELEASE_SORTS } from '../releases/repository.ts'
import { ENVIRONMENTS } from '../web/environments.ts'
import { parseListQuery } from '../web/list-query.ts'
import { bodyOf, done, idParam } from '../web/crud.ts'
import { notFound } from '../web/errors.ts'
import type { FieldErrors } from '../web/validate.ts'

const admin = { config: { role: 'admin' as const } }

const RECENT_RELEASES = 10

const NEW_PROJECT = { env: 'test', keep_releases: 5, rollout: 'parallel', batch_size: 10, stop_on_failure: true, server_ids: [] }

/** A ticked checkbox posts "on"; re-rendered values may also hold the stored boolean. */
function isChecked(value: unknown): boolean {
  return value === true || value === 'on' || value === 'true' || value === '1'
}

/** One checkbox posts a string, several an array; the form wants the ids as strings to compare. */
function selectedIds(value: unknown): string[] {
  const list = Array.isArray(value) ? value : value === undefined || value === null || value === '' ? [] : [value]
  return list.map(String)
}

/** The project pages: list, show, and the admin's create / edit / delete forms. */
const projectRoutes: FastifyPluginAsync = async (app) => {
  const service = createProjectsService(app.knex, app.hub)
  const servers = createServersRepository(app.knex)
  const releasesRepo = createReleasesRepository(app.knex)

  async function form(reply: FastifyReply, values: Record<string, unknown>, errors: FieldErrors, id: number | null, status = 200) {
    return reply.code(status).render('projects/form', {
      title: id ? `Edit ${values.title ?? ''}` : 'New project',
      id,
      values,
      errors,
      environments: ENVIRONMENTS,
      rollouts: ROLLOUTS,
      hooks: HOOKS.map((hook) => ({ name: `hook_${hook}`, label: HOOK_LABELS[hook] })),
      servers: await servers.options(),
      selected: selectedIds(values.server_ids),
      stopOnFailure: isChecked(values.stop_on_failure),
    })
  }

  app.get('/projects', async (request, reply) => {
    const query = parseListQuery(request.query, PROJECT_SORTS, 'title')
    // the cursor before the rows: a change published meanwhile is then sent again, not skipped
    const liveCursor = app.hub.head('projects')
    const page = await service.repo.list(query)
    return reply.render('projects/list', { title: 'Projects', page, query, liveCursor })
  })

  // the live list fetches a changed row as this user would see it
  app.get('/projects/:id/row', async (request, reply) => {
    const project = await service.repo.findById(idParam(request, 'Project'))
    if (!project) throw notFound('Project')
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(await reply.viewAsync('projects/row', { p: project, user: request.user }))
  })

  app.get('/projects/new', admin, async (_request, reply) => form(reply, NEW_PROJECT, {}, null))

  app.post('/projects', admin, async (request, reply) => {
    const body = bodyOf(request)
    const result = await service.create(body, { form: true })
    if (!result.ok) return form(reply, body, result.errors, null, 400)
    const { project } = result
    await request.audit('project.create', { type: 'project', id: project.id }, `${project.title} (${project.server_ids.length} servers)`)
    return done(request, reply, `/projects/${project.id}`, `Project ${project.title} created.`)
  })

  app.get('/projects/:id', async (request, reply) => {
    const project = await service.repo.findById(idParam(request, 'Project'))
    if (!project) throw notFound('Project')
    const hooks = HOOKS.map((hook) => ({ label: HOOK_LABELS[hook], script: project[`hook_${hook}`] }))
    const releases = await releasesRepo.list(parseListQuery({}, RELEASE_SORTS, 'created_at', 'desc'), { project_id: project.id })
    return reply.render('projects/show', { title: project.title, project, hooks, releases: releases.items.slice(0, RECENT_RELEASES), releaseTotal: releases.total, running: await releasesRepo.lockHolder(project.id) })
  })

  app.get('/projects/:id/edit', admin, async (request, reply) => {
    const project = await service.repo.findById(idParam(request, 'Project'))
    if (!project) throw notFound('Project')
    return form(reply, { ...project }, {}, project.id)
  })

  app.post('/projects/:id', admin, async (request, reply) => {
    const id = idParam(request, 'Project')
    const body = bodyOf(request)
    if (!(await service.repo.findById(id))) throw notFound('Project')
    const result = await service.update(id, body, { form: true, partial: false })
    if (!result.ok) {
      if (result.notFound) throw notFound('Project')
      return form(reply, body, result.errors, id, 400)
    }
    await request.audit('project.update', { type: 'project', id }, result.project.title)
    return done(request, reply, `/projects/${id}`, `Project ${result.project.title} saved.`)
  })

  app.get('/projects/:id/delete', admin, async (request, reply) => {
    const project = await service.repo.findById(idParam(request, 'Project'))
    if (!project) throw notFound('Project')
    return reply.render('partials/confirm-delete', {
      label: `project ${project.title}`,
      warning: 'Its release history goes with it. The servers stay, and nothing already deployed on them is touched.',
      action: `/projects/${project.id}/delete`,
      cancel: `/projects/${project.id}`,
    })
  })

  app.post('/projects/:id/delete', admin, async (request, reply) => {
    const id = idParam(request, 'Project')
    const project = await service.remove(id)
    if (!project) throw notFound('Project')
    await request.audit('project.delete', { type: 'project', id }, project.title)
    return done(request, reply, '/projects', `Project ${project.title} deleted.`, { id })
  })
}

export default projectRoutes
