import type { FastifyRequest } from 'fastify'

/** API callers, the poll and ajax get JSON; a person's browser gets a page. */
export function wantsJson(request: FastifyRequest): boolean {
  const url = request.url
  if (url.startsWith('/api/') || url === '/api' || url.startsWith('/poll') || url.startsWith('/healthz')) return true
  const accept = request.headers.accept ?? ''
  return accept.includes('application/json') && !accept.includes('text/html')
}
