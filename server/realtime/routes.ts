import type { FastifyPluginAsync } from 'fastify'
import { HubError, readPollRequest, type PollAnswer } from './hub.ts'
import { HttpError } from '../web/errors.ts'
import { prometheusText } from './prometheus.ts'

/** The wire form of an answer: events are serialized once at publish time and spliced in here. */
export function answerJson(answer: PollAnswer): string {
  const events = answer.events.map((e) => e.json).join(',')
  const rest = JSON.stringify({ cursors: answer.cursors, resets: answer.resets, more: answer.more, superseded: answer.superseded })
  return `{"boot":${JSON.stringify(answer.boot)},"events":[${events}],${rest.slice(1)}`
}

function parseBody(body: unknown): unknown {
  if (typeof body !== 'string') return body
  // old IE's XDomainRequest can only send text/plain
  try {
    return JSON.parse(body)
  } catch {
    throw new HttpError(400, 'The poll body is not valid JSON.')
  }
}

/** POST /poll: every topic a tab watches in one long poll. */
const realtimeRoutes: FastifyPluginAsync = async (app) => {
  // polls are the bulk of all requests: two log lines each would cost more than the answer
  app.post('/poll', { config: { csrf: false }, logLevel: 'warn' }, async (request, reply) => {
    let handle
    try {
      handle = app.hub.poll(request.user!, readPollRequest(parseBody(request.body)))
    } catch (err) {
      throw err instanceof HubError ? new HttpError(err.statusCode, err.message) : err
    }
    // a tab that closed or lost its connection frees its waiter at once
    reply.raw.on('close', () => {
      if (!reply.raw.writableFinished) handle.cancel()
    })
    let answer: PollAnswer
    try {
      answer = await handle.answer
    } catch (err) {
      throw err instanceof HubError ? new HttpError(err.statusCode, err.message) : err
    }
    const body = answerJson(answer)
    // written straight to the socket: after a fan-out thousands of answers go at
    // once, and the page headers (CSP and the like) mean nothing to a JSON answer
    reply.hijack()
    if (reply.raw.destroyed) return reply
    reply.raw.writeHead(200, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    })
    reply.raw.end(body)
    return reply
  })

  // for Prometheus (an admin's API token as Bearer) and for a look by hand
  app.get('/metrics', { config: { role: 'admin' } }, async (_request, reply) => {
    return reply.header('cache-control', 'no-store').type('text/plain; version=0.0.4; charset=utf-8').send(prometheusText(app.hub))
  })
}

export default realtimeRoutes
