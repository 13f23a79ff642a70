import { Readable } from 'node:stream'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { createProjectsRepository, type Project } from '../projects/repository.ts'
import { hasRole } from '../web/auth.ts'
import { bodyOf, idParam, isAjax } from '../web/crud.ts'
import { HttpError, notFound } from '../web/errors.ts'
import { parseListQuery } from '../web/list-query.ts'
import { eventJson, releaseTopic } from './event-log.ts'
import { FINISHED, ProjectLockedError, RELEASE_SORTS, RELEASE_STATUSES, type Release, type ReleaseEvent, type ReleasesRepository } from './repository.ts'
import { lockedMessage } from './service.ts'
import { buildDiagram } from './steps.ts'

/** Lines the release page renders at first; earlier ones load on demand. */
export const TAIL_WINDOW = 500
const LOG_PAGE = 5_000

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err))

/** "1 min 5 s" from two dates, for the history and the header. */
export function duration(release: Pick<Release, 'started_at' | 'finished_at'>, now = new Date()): string {
  if (!release.started_at) return ''
  const ms = (release.finished_at ?? now).getTime() - release.started_at.getTime()
  const s = Math.max(0, Math.round(ms / 1000))
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`
}

/** One stored event as a line of the downloaded log. */
function textLine(e: ReleaseEvent): string {
  const where = e.host ? `[${e.host}] ` : ''
  if (e.kind === 'chat') return `${e.at.toISOString()} ${where}chat ${e.author ?? 'deleted user'}: ${e.body}\n`
  if (e.kind === 'step') return `${e.at.toISOString()} ${where}step ${e.stream} ${e.body}\n`
  if (e.kind === 'status') return `${e.at.toISOString()} status ${e.body}\n`
  return `${e.at.toISOString()} ${where}${e.stream === 'stderr' ? 'ERR ' : e.stream === 'stdout' ? 'OUT ' : '--- '}${e.body}\n`
}

/** A page of a release's stored stream: `after` (forwards) or `before` (backwards, for "load earlier"), optionally one host. */
export async function eventsPage(repo: ReleasesRepository, request: FastifyRequest, release: Release) {
  const raw = request.query as Record<string, string | undefined>
  const whole = (name: string, max: number) => {
    const value = raw[name]
    if (value === undefined || value === '') return null
    if (!/^\d{1,12}$/.test(value) || Number(value) > max) throw new HttpError(400, `${name} must be a whole number from 0 to ${max}`, { [name]: 'not a whole number' })
    return Number(value)
  }
  const limit = whole('limit', 5_000) ?? 1_000
  if (limit < 1) throw new HttpError(400, 'limit must be at least 1', { limit: 'too small' })
  const before = whole('before', Number.MAX_SAFE_INTEGER)
  const after = whole('after', Number.MAX_SAFE_INTEGER)
  const host = typeof raw.host === 'string' && raw.host ? raw.host.slice(0, 253) : undefined
  // the head first: a line written while the events are read then lies after it, never in a hole before it
  const head = await repo.head(release.id)
  const events = before !== null ? await repo.eventsBefore(release.id, before, limit, host) : await repo.eventsAfter(release.id, after ?? 0, null, limit, undefined, host)
  return { events: events.map(eventJson), head, status: release.status }
}

/** The release pages: history, the release form, the shared release page, cancel, chat and rollback. */
const releaseRoutes: FastifyPluginAsync = async (app) => {
  const service = app.releases
  const repo = service.repo
  const projects = createProjectsRepository(app.knex)
  const deployer = { config: { role: 'deployer' as const } }

  async function projectOr404(request: FastifyRequest): Promise<Project> {
    const project = await projects.findById(idParam(request, 'Project'))
    if (!project) throw notFound('Project')
    return project
  }

  async function releaseOr404(request: FastifyRequest): Promise<Release> {
    const release = await repo.findById(idParam(request, 'Release'))
    if (!release) throw notFound('Release')
    return release
  }

  app.get('/releases', async (request, reply) => {
    const query = parseListQuery(request.query, RELEASE_SORTS, 'created_at', 'desc')
    const raw = request.query as Record<string, string | undefined>
    const projectId = /^\d{1,10}$/.test(raw.project ?? '') ? Number(raw.project) : undefined
    const status = (RELEASE_STATUSES as readonly string[]).includes(raw.status ?? '') ? raw.status : undefined
    const kind = raw.kind === 'deploy' || raw.kind === 'rollback' ? raw.kind : undefined
    const page = await repo.list(query, { project_id: projectId, status, kind })
    const project = projectId ? await projects.findById(projectId) : null
    return reply.render('releases/list', { title: 'Releases', page, query, filter: { project: projectId, status, kind }, project, statuses: RELEASE_STATUSES, duration })
  })

  async function releaseForm(reply: FastifyReply, project: Project, values: { ref?: string }, error: string | null, status = 200, syncError: string | null = null) {
    let refs = { branches: [], tags: [], commits: [] } as Awaited<ReturnType<typeof service.mirrors.listRefs>>
    let problem = syncError
    try {
      refs = await service.mirrors.listRefs(project.repo_url)
      // the first visit has no mirror yet: fetch once so there is something to pick from
      if (!problem && !refs.branches.length && !refs.tags.length) {
        await service.mirrors.sync(project.repo_url)
        refs = await service.mirrors.listRefs(project.repo_url)
      }
    } catch (err) {
      problem = messageOf(err)
    }
    const holder = await repo.lockHolder(project.id)
    const kept = await repo.successful(project.id, project.keep_releases)
    return reply.code(status).render('releases/new', { title: `Deploy ${project.title}`, project, refs, values, error, problem, holder, kept })
  }

  app.get('/projects/:id/releases/new', deployer, async (request, reply) => releaseForm(reply, await projectOr404(request), {}, null))

  // the form's "refresh": fetch the repository now and list what it holds
  app.post('/projects/:id/refs', deployer, async (request, reply) => {
    const project = await projectOr404(request)
    try {
      await service.mirrors.sync(project.repo_url)
    } catch (err) {
      return releaseForm(reply, project, {}, null, 502, messageOf(err))
    }
    request.flash('success', 'Fetched the repository')
    return reply.redirect(`/projects/${project.id}/releases/new`)
  })

  /**
   * Runs a start (deploy or rollback) from the form: the new release's page
   * on success; a refused start (bad input 400, a running release 409)
   * re-renders the form with the message, or answers JSON to ajax.
   */
  async function started(request: FastifyRequest, reply: FastifyReply, project: Project, values: { ref?: string }, start: () => Promise<Release>) {
    try {
      const release = await start()
      if (isAjax(request)) return reply.code(201).send({ ok: true, release: { id: release.id }, location: `/releases/${release.id}` })
      return reply.redirect(`/releases/${release.id}`)
    } catch (err) {
      const status = err instanceof ProjectLockedError ? 409 : err instanceof HttpError && err.statusCode === 400 ? 400 : 0
      if (!status) throw err
      const message = err instanceof ProjectLockedError ? lockedMessage(err) : (err as Error).message
      if (isAjax(request)) throw new HttpError(status, message)
      return releaseForm(reply, project, values, message, status)
    }
  }

  app.post('/projects/:id/releases', deployer, async (request, reply) => {
    const project = await projectOr404(request)
    const body = bodyOf(request)
    const ref = typeof body.ref === 'string' ? body.ref : ''
    return started(request, reply, project, { ref }, async () => {
      const release = await service.start(request.user!, project.id, ref)
      await request.audit('release.start', { type: 'release', id: release.id }, `${project.title} ${release.ref}`)
      return release
    })
  })

  app.post('/projects/:id/rollback', deployer, async (request, reply) => {
    const project = await projectOr404(request)
    const targetId = Number(bodyOf(request).release_id)
    return started(request, reply, project, {}, async () => {
      if (!Number.isSafeInteger(targetId) || targetId < 1) throw new HttpError(400, 'Pick a release to roll back to')
      const release = await service.rollback(request.user!, project.id, targetId)
      await request.audit('release.rollback', { type: 'release', id: release.id }, `${project.title} to #${targetId}`)
      return release
    })
  })

  app.get('/releases/:id', async (request, reply) => {
    const release = await releaseOr404(request)
    const raw = request.query as Record<string, string | undefined>
    const hostFilter = typeof raw.host === 'string' && raw.host.length <= 253 ? raw.host : ''
    // The page's cursor is read before the page's events, and the tail stops at it:
    // a line stored meanwhile comes with the first poll instead of falling
    // between a tail read too early and a cursor read too late. Steps and host
    // states read after it may be newer; the poll then repeats them, harmlessly.
    const head = await repo.head(release.id)
    const [hosts, steps, tail] = await Promise.all([
      repo.hosts(release.id),
      repo.stepEvents(release.id),
      repo.eventsBefore(release.id, head + 1, TAIL_WINDOW, hostFilter || undefined),
    ])
    const lines = tail.filter((e) => e.kind !== 'step')
    const first = tail[0]?.seq ?? head + 1
    const target = release.rollback_of ? await repo.findById(release.rollback_of) : null
    return reply.render('releases/show', {
      title: `Release #${release.id}`,
      release,
      hosts,
      target,
      diagram: buildDiagram(release.kind, hosts, steps),
      lines,
      hostFilter,
      earlier: first > 1,
      firstSeq: first,
      cursor: head,
      topic: releaseTopic(release.id),
      finished: FINISHED.has(release.status),
      canAct: hasRole(request.user, 'deployer'),
      duration: duration(release),
      scripts: ['/public/js/release.js'],
    })
  })

  app.get('/releases/:id/log.txt', async (request, reply) => {
    const release = await releaseOr404(request)
    async function* lines() {
      let after = 0
      for (;;) {
        const page = await repo.eventsAfter(release.id, after, null, LOG_PAGE)
        if (!page.length) return
        yield page.map(textLine).join('')
        after = (page[page.length - 1] as ReleaseEvent).seq
      }
    }
    return reply
      .type('text/plain; charset=utf-8')
      .header('content-disposition', `attachment; filename="release-${release.id}.log"`)
      .header('cache-control', 'no-store')
      .send(Readable.from(lines()))
  })

  app.post('/releases/:id/cancel', deployer, async (request, reply) => {
    const release = await releaseOr404(request)
    try {
      await service.cancel(request.user!, release.id)
      await request.audit('release.cancel', { type: 'release', id: release.id }, release.project_title)
    } catch (err) {
      if (!(err instanceof HttpError) || err.statusCode !== 409 || isAjax(request)) throw err
      request.flash('info', err.message)
      return reply.redirect(`/releases/${release.id}`)
    }
    if (isAjax(request)) return reply.send({ ok: true })
    request.flash('success', `Cancel sent to release #${release.id}`)
    return reply.redirect(`/releases/${release.id}`)
  })

  app.post('/releases/:id/messages', async (request, reply) => {
    const release = await releaseOr404(request)
    try {
      const seq = await service.chat(request.user!, release.id, bodyOf(request).body)
      if (isAjax(request)) return reply.code(201).send({ ok: true, seq })
      return reply.redirect(`/releases/${release.id}#e${seq}`)
    } catch (err) {
      if (!(err instanceof HttpError) || err.statusCode !== 400 || isAjax(request)) throw err
      request.flash('error', err.message)
      return reply.redirect(`/releases/${release.id}#chat`)
    }
  })

  // the page's "load earlier lines" and the API share one shape
  app.get('/releases/:id/events', async (request) => eventsPage(repo, request, await releaseOr404(request)))

}

export default releaseRoutes
