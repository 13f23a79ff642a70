import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import net, { type AddressInfo } from 'node:net'
import { ANSWER_HEADERS, canWriteOnce, writeOnce } from '../../server/realtime/one-write-answer.ts'

const KEEP_ALIVE_MS = 72_000

/** The same answer the ordinary way, as poll-endpoint.ts sends it when one write is not possible. */
function writeHeadAndEnd(res: http.ServerResponse, body: Buffer): void {
  res.writeHead(200, [...ANSWER_HEADERS, 'content-length', body.length])
  res.end(body)
}

interface Served {
  path: string
  once: boolean
  finished: boolean
  closed: boolean
}

/** A plain Node server: /once answers with writeOnce when it can, /plain with writeHead + end. */
async function server(t: TestContext): Promise<{ port: number; served: Served[] }> {
  const served: Served[] = []
  const srv = http.createServer((req, res) => {
    const body = Buffer.from(JSON.stringify({ path: req.url, é: 'ü' }))
    const entry: Served = { path: req.url ?? '', once: false, finished: false, closed: false }
    served.push(entry)
    res.on('finish', () => (entry.finished = true))
    res.on('close', () => (entry.closed = true))
    req.resume()
    req.on('end', () => {
      entry.once = req.url === '/once' && canWriteOnce(res)
      if (entry.once) writeOnce(res, body, KEEP_ALIVE_MS)
      else writeHeadAndEnd(res, body)
    })
  })
  srv.keepAliveTimeout = KEEP_ALIVE_MS
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  t.after(() => {
    srv.closeAllConnections()
    srv.close()
  })
  return { port: (srv.address() as AddressInfo).port, served }
}

interface RawResponse {
  status: string
  headers: Map<string, string>
  body: string
}

/** A raw connection: sends bytes, reads whole responses (content-length framed) one at a time. */
async function connect(t: TestContext, port: number) {
  const socket = net.connect(port, '127.0.0.1')
  t.after(() => socket.destroy())
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
  let buffered = Buffer.alloc(0)
  let ended = false
  let wake: () => void = () => undefined
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk])
    wake()
  })
  socket.on('end', () => {
    ended = true
    wake()
  })
  async function read(): Promise<RawResponse> {
    for (;;) {
      const headEnd = buffered.indexOf('\r\n\r\n')
      if (headEnd >= 0) {
        const [status = '', ...lines] = buffered.subarray(0, headEnd).toString('latin1').split('\r\n')
        const headers = new Map(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]))
        const length = Number(headers.get('content-length'))
        if (buffered.length >= headEnd + 4 + length) {
          const body = buffered.subarray(headEnd + 4, headEnd + 4 + length).toString('utf8')
          buffered = buffered.subarray(headEnd + 4 + length)
          return { status, headers, body }
        }
      }
      if (ended) throw new Error(`connection ended with ${buffered.length} bytes unread`)
      await new Promise<void>((resolve) => (wake = resolve))
    }
  }
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  /** What arrived beyond the responses read, after a moment for stray bytes to come. */
  async function unread(): Promise<string> {
    await new Promise((resolve) => setTimeout(resolve, 50))
    return buffered.toString('latin1')
  }
  return { send: (text: string) => socket.write(text), read, unread, closed, isEnded: () => ended }
}

const request = (path: string, extra = '', version = '1.1', method = 'POST') =>
  `${method} ${path} HTTP/${version}\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n${extra}\r\n{}`

test('a kept-alive poll is answered in one write with the headers writeHead + end sends, and the connection carries on', async (t) => {
  const { port, served } = await server(t)
  const conn = await connect(t, port)

  conn.send(request('/once'))
  const once = await conn.read()
  conn.send(request('/plain'))
  const plain = await conn.read()
  // Node's keep-alive bookkeeping after a one-write answer: the same socket takes more requests
  conn.send(request('/once'))
  const again = await conn.read()

  assert.deepEqual(
    served.map((s) => [s.path, s.once]),
    [
      ['/once', true],
      ['/plain', false],
      ['/once', true],
    ],
  )
  for (const answer of [once, plain, again]) assert.equal(answer.status, 'HTTP/1.1 200 OK')
  assert.equal(await conn.unread(), '', 'nothing written after the answers')
  assert.deepEqual(JSON.parse(once.body), { path: '/once', é: 'ü' })
  assert.equal(Number(once.headers.get('content-length')), Buffer.byteLength(once.body))
  // the same headers, name for name and value for value, as Node writes for writeHead + end
  assert.deepEqual([...once.headers.keys()].sort(), [...plain.headers.keys()].sort())
  for (const name of ['content-type', 'cache-control', 'x-content-type-options', 'connection', 'keep-alive']) {
    assert.equal(once.headers.get(name), plain.headers.get(name), name)
  }
  assert.equal(once.headers.get('connection'), 'keep-alive')
  assert.equal(once.headers.get('keep-alive'), 'timeout=72')
  assert.ok(Math.abs(Date.parse(once.headers.get('date') ?? '') - Date.now()) < 5_000, 'a current Date header')
  // the response went through Node's ordinary ending: 'finish' and 'close' fired
  await new Promise((resolve) => setImmediate(resolve))
  assert.ok(served.every((s) => s.finished && s.closed))
  assert.equal(conn.isEnded(), false, 'the server kept the connection open')
})

test('a connection that is to close, an HTTP/1.0 client and HEAD get writeHead + end, and the close happens', async (t) => {
  const { port, served } = await server(t)

  const closing = await connect(t, port)
  closing.send(request('/once', 'Connection: close\r\n'))
  const closed = await closing.read()
  assert.equal(closed.headers.get('connection'), 'close')
  await closing.closed

  const old = await connect(t, port)
  old.send(request('/once', '', '1.0'))
  assert.deepEqual(JSON.parse((await old.read()).body), { path: '/once', é: 'ü' })
  await old.closed

  const head = await connect(t, port)
  head.send(request('/once', '', '1.1', 'HEAD'))
  // a HEAD answer has no body to frame a read by: wait for the server to finish it
  while (!served[2]?.finished) await new Promise((resolve) => setTimeout(resolve, 10))

  assert.deepEqual(
    served.map((s) => s.once),
    [false, false, false],
  )
})

test('pipelined polls on one connection are answered in order', async (t) => {
  const { port, served } = await server(t)
  const conn = await connect(t, port)
  conn.send(request('/once') + request('/plain') + request('/once'))
  const paths = [(await conn.read()).body, (await conn.read()).body, (await conn.read()).body].map((b) => (JSON.parse(b) as { path: string }).path)
  assert.deepEqual(paths, ['/once', '/plain', '/once'])
  assert.equal(await conn.unread(), '')
  assert.equal(served.length, 3)
})

test('a response with no socket of its own (app.inject, a pipelined answer waiting its turn) is not one to write raw', () => {
  const req = new http.IncomingMessage(new net.Socket())
  req.method = 'POST'
  const res = new http.ServerResponse(req)
  assert.equal(canWriteOnce(res), false)
})
