import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { createProjectsService } from './service.ts'
import { HOOKS, PROJECT_SORTS, type Project } from './repository.ts'
import { parseListQuery } from '../web/list-query.ts'
import { apiBody, conflictOrInvalid, idParam, invalid, pageJson } from '../web/crud.ts'
import { notFound } from '../web/errors.ts'
import type { FieldErrors } from '../web/validate.ts'

const admin = { config: { role: 'admin' as const } }

/** The API's view of a project: hooks nested, servers both as ids and as names. */
export function projectJson(project: Project) {
  return {
    id: project.id,
    title: project.title,
    repo_url: project.repo_url,
    env: project.env,
    deploy_path: project.deploy_path,
    server_ids: project.server_ids,
    servers: project.servers.map((s) => ({ id: s.id, hostname: s.hostname })),
    keep_releases: project.keep_releases,
    rollout: project.rollout,
    batch_size: project.batch_size,
    stop_on_failure: project.stop_on_failure,
    hooks: Object.fromEntries(HOOKS.map((hook) => [hook, project[`hook_${hook}`]])),
    created_at: project.created_at.toISOString(),
    updated_at: project.updated_at.toISOString(),
  }
}

/**
 * The API spells hooks as `hooks: {before_download, ...}`; the service reads
 * the form's flat `hook_before_download` names. Flat names sent to the API
 * are dropped so there is one way to set a hook.
 */
function toServiceInput(request: FastifyRequest): Record<string, unknown> {
  const body = apiBody(request)
  const input: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(body)) if (key !== 'hooks' && !key.startsWith('hook_')) input[key] = value
  if (!('hooks' in body)) return input
  const hooks = body.hooks
  if (!hooks || typeof hooks !== 'object' || Array.isArray(hooks)) {
    throw invalid({ hooks: `Hooks must be an object with any of: ${HOOKS.join(', ')}` })
  }
  const unknown = Object.keys(hooks).filter((key) => !(HOOKS as readonly string[]).includes(key))
  if (unknown.length) throw invalid({ hooks: `Unknown hook ${unknown.join(', ')}; hooks are ${HOOKS.join(', ')}` })
  for (const [key, value] of Object.entries(hooks)) input[`hook_${key}`] = value
  return input
}

/** Field errors under the API's names: hook_before_download becomes hooks.before_download. */
function apiErrors(errors: FieldErrors): FieldErrors {
  return Object.fromEntries(Object.entries(errors).map(([key, message]) => [key.startsWith('hook_') ? `hooks.${key.slice(5)}` : key, message]))
}

/** /api/projects: the same validation and messages as the forms, errors as {error, details}. */
const projectApi: FastifyPluginAsync = async (app) => {
  const service = createProjectsService(app.knex, app.hub)

  app.get('/projects', async (request) => {
    const query = parseListQuery(request.query, PROJECT_SORTS, 'title')
    const page = await service.repo.list(query)
    return pageJson(page, projectJson)
  })

  app.post('/projects', admin, async (request, reply) => {
    const result = await service.create(toServiceInput(request), { form: false })
    if (!result.ok) throw conflictOrInvalid(apiErrors(result.errors))
    const { project } = result
    await request.audit('project.create', { type: 'project', id: project.id }, `${project.title} (${project.server_ids.length} servers)`)
    return reply.code(201).header('location', `/api/projects/${project.id}`).send(projectJson(project))
  })

  app.get('/projects/:id', async (request) => {
    const project = await service.repo.findById(idParam(request, 'Project'))
    if (!project) throw notFound('Project')
    return projectJson(project)
  })

  app.patch('/projects/:id', admin, async (request) => {
    const id = idParam(request, 'Project')
    if (!(await service.repo.findById(id))) throw notFound('Project')
    const body = apiBody(request)
    const result = await service.update(id, toServiceInput(request), { form: false, partial: true })
    if (!result.ok) throw result.notFound ? notFound('Project') : conflictOrInvalid(apiErrors(result.errors))
    await request.audit('project.update', { type: 'project', id }, `${result.project.title}: ${Object.keys(body).join(', ')}`)
    return projectJson(result.project)
  })

  app.delete('/projects/:id', admin, async (request, reply) => {
    const id = idParam(request, 'Project')
    const project = await service.remove(id)
    if (!project) throw notFound('Project')
    await request.audit('project.delete', { type: 'project', id }, project.title)
    return reply.code(204).send()
  })
}

export default projectApi
