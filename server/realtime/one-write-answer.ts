import type { ServerResponse } from 'node:http'
import { Socket } from 'node:net'

/**
 * A poll's 200 answer as one socket write of bytes made once per distinct
 * answer (and second, for the Date header).
 *
 * Why: a fan-out answers thousands of held polls in one loop, all with the
 * same body. Through `writeHead` + `end`, every one of them has its headers
 * validated and its head built as a string of its own, then goes out as a
 * two-buffer writev, and V8 collects the leftovers while the loop runs. Built
 * once and written whole, the flush of 10,000 answers took 100–130 ms
 * instead of 150–180 ms, with 15 % less CPU per round (docs/PERFORMANCE.md,
 * "one write per answer").
 *
 * How: the bytes go straight to the socket, then the ServerResponse is ended
 * as one whose head has already gone out, so Node's server does its usual
 * bookkeeping (finish and close events, the keep-alive timer, the next
 * request on the connection). That needs two fields Node's http module keeps
 * for itself, `_header` and `_headerSent`; `canWriteOnce` checks they are
 * there with the values a fresh response has, and anything unusual (no
 * socket yet because a pipelined answer waits its turn, a connection that
 * is to close, an HTTP/1.0 client, a Node whose fields differ) takes the
 * ordinary `writeHead` + `end` path instead. test/realtime/one-write-answer.test.ts
 * checks both paths against real sockets.
 */

/** The fields of a ServerResponse this relies on: null / false / true on a fresh kept-alive one in Node 20 (checked, not assumed). */
interface Internals {
  _header: string | null
  _headerSent: boolean
  shouldKeepAlive: boolean
}

/** The Date header's value, made once a second (as Node's own cache does). */
let dateSecond = -1
let dateValue = ''
function httpDate(now: number): string {
  const second = Math.floor(now / 1000)
  if (second !== dateSecond) {
    dateSecond = second
    dateValue = new Date(second * 1000).toUTCString()
  }
  return dateValue
}

/** The whole response per body, for the second it was made in. */
const made = new WeakMap<Buffer, { date: string; keepAliveTimeoutMs: number; bytes: Buffer }>()

/**
 * The headers of every poll answer but content-length, as the flat list
 * `writeHead` takes: poll-endpoint.ts sends these on the `writeHead` path,
 * and the one-write head below is made from the same list.
 */
export const ANSWER_HEADERS: readonly string[] = ['content-type', 'application/json; charset=utf-8', 'cache-control', 'no-store', 'x-content-type-options', 'nosniff']

let headerLines = ''
for (let i = 0; i < ANSWER_HEADERS.length; i += 2) headerLines += `${ANSWER_HEADERS[i]}: ${ANSWER_HEADERS[i + 1]}\r\n`

/** The head of a one-write answer: what Node writes for `writeHead(200, [...ANSWER_HEADERS, 'content-length', n])`. */
function answerHead(bodyLength: number, date: string, keepAliveTimeoutMs: number): string {
  return (
    'HTTP/1.1 200 OK\r\n' +
    headerLines +
    `content-length: ${bodyLength}\r\n` +
    `Date: ${date}\r\n` +
    'Connection: keep-alive\r\n' +
    (keepAliveTimeoutMs > 0 ? `Keep-Alive: timeout=${Math.floor(keepAliveTimeoutMs / 1000)}\r\n` : '') +
    '\r\n'
  )
}

/** Whether `res` can be answered with one raw write (see above); otherwise use writeHead + end. */
export function canWriteOnce(res: ServerResponse): boolean {
  const internals = res as ServerResponse & Internals
  const socket = res.socket
  return (
    internals._header === null &&
    internals._headerSent === false &&
    internals.shouldKeepAlive === true &&
    // a pipelined request's answer gets its socket only when the one before
    // it is done; app.inject's responses have a stand-in that is no socket
    socket instanceof Socket &&
    !socket.destroyed &&
    socket.writable &&
    res.req?.method !== 'HEAD'
  )
}

/**
 * Writes a 200 JSON answer as one buffer and ends `res`. Only after
 * `canWriteOnce(res)` said yes.
 */
export function writeOnce(res: ServerResponse, body: Buffer, keepAliveTimeoutMs: number): void {
  const date = httpDate(Date.now())
  let response = made.get(body)
  if (!response || response.date !== date || response.keepAliveTimeoutMs !== keepAliveTimeoutMs) {
    const head = Buffer.from(answerHead(body.length, date, keepAliveTimeoutMs), 'latin1')
    response = { date, keepAliveTimeoutMs, bytes: Buffer.concat([head, body]) }
    made.set(body, response)
  }
  ;(res.socket as Socket).write(response.bytes)
  const internals = res as ServerResponse & Internals
  // the head is out: `end` now only finishes the response (its 'finish' on
  // the next tick, then Node's keep-alive handling) and writes nothing more
  internals._header = 'written by writeOnce'
  internals._headerSent = true
  res.end()
}
