import fp from 'fastify-plugin'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { wantsJson } from './request-kind.ts'

/** A mistake of the caller's with a message meant for them; thrown by routes. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly details?: unknown,
  ) {
    super(message)
  }
}

export function notFound(what: string): HttpError {
  return new HttpError(404, `${what} not found`)
}

const TITLES: Record<number, string> = {
  400: 'Bad request',
  401: 'Sign in needed',
  403: 'Not allowed',
  404: 'Not found',
  409: 'Conflict',
  413: 'Too large',
  415: 'Unsupported content type',
  429: 'Too many attempts',
  500: 'Something went wrong',
  503: 'Unavailable',
}

/** Turns library errors into messages a person can act on. */
function describe(error: FastifyError & { details?: unknown }): { status: number; message: string; details?: unknown } {
  const code = error.code ?? ''
  if (code.startsWith('FST_CSRF')) {
    return { status: 403, message: 'The form expired or did not come from this console (missing or invalid CSRF token). Reload the page and try again.' }
  }
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE' || code === 'FST_REQ_FILE_TOO_LARGE' || code === 'FST_FILES_LIMIT' || code === 'FST_PARTS_LIMIT' || code === 'FST_FIELDS_LIMIT') {
    return { status: 413, message: 'The request is too large.' }
  }
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return { status: 415, message: 'Unsupported content type.' }
  if (code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return { status: 400, message: 'The JSON body is empty.' }
  if (code === 'FST_ERR_CTP_INVALID_JSON_BODY') return { status: 400, message: 'The body is not valid JSON.' }
  if (error.validation) {
    return { status: 400, message: 'The request is not valid.', details: error.validation.map((v) => `${v.instancePath || 'body'} ${v.message}`) }
  }
  const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500
  if (status === 400 && error instanceof SyntaxError) return { status, message: 'The body is not valid JSON.' }
  if (status >= 500) return { status, message: 'Something went wrong on our side; it has been logged.' }
  return { status, message: error.message, details: error.details }
}

export async function sendError(request: FastifyRequest, reply: FastifyReply, status: number, message: string, details?: unknown) {
  reply.code(status)
  if (wantsJson(request) || !reply.render) {
    return reply.send(details === undefined ? { error: message } : { error: message, details })
  }
  return reply.render('errors/error', { status, title: TITLES[status] ?? 'Error', message })
}

/** The one error handler and the 404 page (fastify/demo app.ts). */
export default fp(
  async (app) => {
    app.setErrorHandler(async (error: FastifyError, request, reply) => {
      const { status, message, details } = describe(error)
      if (status >= 500) request.log.error({ err: error, url: request.url, method: request.method }, 'request failed')
      else request.log.info({ status, code: error.code, url: request.url }, message)
      try {
        return await sendError(request, reply, status, message, details)
      } catch (renderError) {
        // the error page itself failed (no session, broken template): plain text beats a loop
        request.log.error({ err: renderError }, 'error page failed')
        return reply.code(status).type('text/plain; charset=utf-8').send(message)
      }
    })

    app.setNotFoundHandler(async (request, reply) => {
      return sendError(request, reply, 404, `Nothing is at ${request.url.split('?')[0]}.`)
    })
  },
  { name: 'errors', dependencies: ['views'] },
)
