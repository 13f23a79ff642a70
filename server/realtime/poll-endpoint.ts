import type { IncomingMessage, OutgoingHttpHeader, ServerResponse } from 'node:http'
import type { FastifyBaseLogger } from 'fastify'
import { HubError, readPollRequest, type Hub, type PollAnswer } from './hub.ts'
import { encodeAnswer } from './wire.ts'
import { ANSWER_HEADERS, canWriteOnce, writeOnce } from './one-write-answer.ts'
import type { User } from '../users/repository.ts'
import { rawHeader } from '../web/raw-auth.ts'

/** Who is polling, from the raw request (session cookie or API token); null: nobody signed in. */
export type RawAuthenticate = (request: IncomingMessage) => Promise<User | null>

/**
 * Every answer's headers as the flat list writeHead takes, content-length
 * last. writeHead turns the list into the head's text before it returns, so
 * one list serves every answer: no headers object per answer.
 */
const HEADERS: OutgoingHttpHeader[] = [...ANSWER_HEADERS, 'content-length', 0]
const CONTENT_LENGTH = HEADERS.length - 1

function send(res: ServerResponse, status: number, body: Buffer, keepAliveTimeoutMs = 0): void {
  if (res.destroyed || res.headersSent) return
  // the usual answer, and every answer of a fan-out: one write of bytes made once
  if (status === 200 && keepAliveTimeoutMs > 0 && canWriteOnce(res)) return writeOnce(res, body, keepAliveTimeoutMs)
  HEADERS[CONTENT_LENGTH] = body.length
  res.writeHead(status, HEADERS)
  res.end(body)
}

function fail(res: ServerResponse, status: number, message: string): void {
  send(res, status, Buffer.from(JSON.stringify({ error: message })))
}

const ignore = () => undefined

/** JSON, or the same text sent as text/plain (old IE's XDomainRequest can send nothing else). */
function parse(body: unknown): unknown {
  if (typeof body !== 'string') return body
  try {
    return JSON.parse(body)
  } catch {
    throw new HubError(400, 'The poll body is not valid JSON.')
  }
}

/**
 * POST /poll, the request every open tab repeats. Real traffic is served
 * here straight from Node's http server, ahead of fastify's plugins (page
 * headers, the session object, a logger per request): after a fan-out
 * thousands of tabs answer and re-poll at once, and at 10,000 held polls
 * each request object's size is the console's memory. `app.inject` (the
 * tests) reaches the same `serve` through an ordinary fastify route.
 */
export function createPollEndpoint(
  hub: Hub,
  opts: {
    bodyLimit: number
    authenticate: RawAuthenticate
    log: FastifyBaseLogger
    /** The HTTP server's keep-alive timeout, for the Keep-Alive header of one-write answers (0: always writeHead + end). */
    keepAliveTimeoutMs?: number
  },
) {
  const keepAliveTimeoutMs = opts.keepAliveTimeoutMs ?? 0
  function serve(user: User, body: unknown, res: ServerResponse): void {
    let cancel: () => void
    try {
      cancel = hub.pollWith(user, readPollRequest(parse(body)), (err, answer) => {
        if (!err) return send(res, 200, (answer as PollAnswer).encoded ?? encodeAnswer(answer as PollAnswer), keepAliveTimeoutMs)
        if (err instanceof HubError) return fail(res, err.statusCode, err.message)
        opts.log.error({ err }, 'poll failed')
        fail(res, 500, 'Something went wrong on our side; it has been logged.')
      })
    } catch (err) {
      if (err instanceof HubError) return fail(res, err.statusCode, err.message)
      throw err
    }
    // answered already (the hub had something queued): nothing to cancel
    if (res.writableEnded) return
    // a tab that closed or lost its connection frees its waiter at once
    // ('close' comes once, so `on` rather than `once` and its wrapper per poll)
    res.on('close', () => {
      if (!res.writableFinished) cancel()
    })
  }

  /** The Node handler for real traffic: body with a size limit, who is asking, then `serve`. */
  function handle(req: IncomingMessage, res: ServerResponse): void {
    const declared = Number(rawHeader(req, 'content-length') ?? 0)
    if (declared > opts.bodyLimit) {
      res.setHeader('connection', 'close')
      return fail(res, 413, 'The request is too large.')
    }
    let chunks: Buffer[] | null = []
    let size = 0
    const onData = (chunk: Buffer) => {
      if (!chunks) return
      size += chunk.length
      if (size > opts.bodyLimit) {
        chunks = null
        res.setHeader('connection', 'close')
        fail(res, 413, 'The request is too large.')
        req.destroy()
      } else chunks.push(chunk)
    }
    req.on('data', onData)
    req.on('error', ignore) // a tab that went away mid-body: nothing to answer
    // `once`, not `on`: removed when it fires, it does not keep this closure
    // and its scope alive for as long as the poll is held
    req.once('end', () => {
      if (!chunks) return
      // a poll's body nearly always comes in one chunk: no copy into a new buffer for it
      const text = (chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)).toString('utf8')
      // the request lives as long as the poll waits: let go of its socket buffers now
      chunks = null
      req.removeListener('data', onData)
      opts.authenticate(req).then(
        (user) => {
          if (!user) return fail(res, 401, 'Sign in or send an API token (Authorization: Bearer ...)')
          if (!text) return fail(res, 400, 'The poll body is empty.')
          return serve(user, text, res)
        },
        (err: unknown) => {
          opts.log.error({ err }, 'poll sign-in check failed')
          fail(res, 503, 'The console cannot check who you are right now (database unavailable).')
        },
      )
    })
  }

  return { serve, handle }
}

/** Whether a raw request is a poll that `handle` should take. */
export function isPoll(req: IncomingMessage): boolean {
  return req.method === 'POST' && (req.url === '/poll' || req.url?.startsWith('/poll?') === true)
}
