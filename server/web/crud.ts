import type { FastifyReply, FastifyRequest } from 'fastify'
import { HttpError } from './errors.ts'
import type { Page } from './list-query.ts'
import { wantsJson } from './request-kind.ts'

/** The parsed body as a plain object whatever the content type (forms, JSON, multipart). */
export function bodyOf(request: FastifyRequest): Record<string, unknown> {
  const body = request.body
  return body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {}
}

/** `:id` (or another id parameter) as a positive integer; anything else is a 404 like any unknown id. */
export function idParam(request: FastifyRequest, what: string, param = 'id'): number {
  const raw = (request.params as Record<string, string>)[param] ?? ''
  if (!/^\d{1,10}$/.test(raw) || Number(raw) < 1 || Number(raw) > 2_147_483_647) throw new HttpError(404, `${what} not found`)
  return Number(raw)
}

/** An ajax call from our own scripts asks for JSON; a plain form gets a redirect. */
export function isAjax(request: FastifyRequest): boolean {
  return request.headers['x-requested-with'] === 'XMLHttpRequest' || wantsJson(request)
}

/** After a successful form action: flash, then 302 (POST-redirect-GET); ajax gets JSON. */
export function done(request: FastifyRequest, reply: FastifyReply, location: string, message: string, json: Record<string, unknown> = {}) {
  if (isAjax(request)) return reply.send({ ok: true, message, ...json })
  request.flash('success', message)
  return reply.redirect(location)
}

/** API body: must be a JSON object. */
export function apiBody(request: FastifyRequest): Record<string, unknown> {
  const body = request.body
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new HttpError(400, 'The body must be a JSON object')
  return body as Record<string, unknown>
}

/** Validation failure in the API: every message at once in `details`. */
export function invalid(errors: Record<string, string>): HttpError {
  return new HttpError(400, 'Validation failed: ' + Object.values(errors).join('; '), errors)
}

/** A duplicate name is a conflict (409); anything else is a bad request (400). */
export function conflictOrInvalid(errors: Record<string, string>): HttpError {
  const messages = Object.values(errors)
  if (messages.length === 1 && messages[0]?.includes('already exists')) return new HttpError(409, messages[0], errors)
  return invalid(errors)
}

/** A list page as every list endpoint of the API answers it. */
export function pageJson<T, J>(page: Page<T>, toJson: (item: T) => J) {
  return { items: page.items.map(toJson), total: page.total, page: page.page, pages: page.pages, per_page: page.perPage }
}
