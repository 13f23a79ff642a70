import type { FastifyPluginAsync } from 'fastify'
import { createAuditRepository } from './repository.ts'
import { parseListQuery } from '../web/list-query.ts'

/** Target types that have a page of their own, so the log links to them. */
const LINKED_TYPES: Record<string, string> = { server: '/servers', project: '/projects', credential: '/credentials', user: '/users' }

/** A filter value from the query string: one trimmed line, or '' for "any". */
function filterValue(raw: unknown): string {
  const value = Array.isArray(raw) ? raw[0] : raw
  return typeof value === 'string' ? value.trim().slice(0, 64) : ''
}

/** The audit log page: who did what to what, newest first; admins only. */
const auditRoutes: FastifyPluginAsync = async (app) => {
  const repo = createAuditRepository(app.knex)

  app.get('/audit', { config: { role: 'admin' } }, async (request, reply) => {
    const raw = (request.query ?? {}) as Record<string, unknown>
    // always newest first: a log read backwards in time is the only useful order
    const query = { ...parseListQuery(raw, ['created_at'] as const, 'created_at', 'desc'), dir: 'desc' as const }
    const filter = { user: filterValue(raw.user), action: filterValue(raw.action) }
    const [page, actions] = await Promise.all([repo.list(query, { username: filter.user, action: filter.action }), repo.actions()])
    const entries = page.items.map((entry) => {
      const base = entry.target_type ? LINKED_TYPES[entry.target_type] : undefined
      const href = base && entry.target_id && /^\d+$/.test(entry.target_id) ? `${base}/${entry.target_id}` : null
      return { ...entry, href }
    })
    return reply.render('audit/list', { title: 'Audit log', page, entries, filter, actions })
  })
}

export default auditRoutes
