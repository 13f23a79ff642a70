import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import { buildTestApp } from '../helper.ts'

/** Sends one request on the socket and resolves with the status line of its answer. */
function ask(socket: net.Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = ''
    const onData = (chunk: Buffer) => {
      text += chunk.toString('latin1')
      const head = text.indexOf('\r\n\r\n')
      const length = /content-length: (\d+)/i.exec(text)
      if (head >= 0 && length && text.length >= head + 4 + Number(length[1])) {
        cleanup()
        resolve(text.slice(0, text.indexOf('\r\n')))
      }
    }
    const onEnd = () => {
      cleanup()
      reject(new Error('the server closed the connection'))
    }
    const cleanup = () => {
      socket.off('data', onData)
      socket.off('end', onEnd)
      socket.off('error', onEnd)
    }
    socket.on('data', onData)
    socket.on('end', onEnd)
    socket.on('error', onEnd)
    socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
  })
}

// The app brings its own Node server (the long poll is served ahead of
// fastify), and fastify leaves such a server's timeouts to Node: a kept-alive
// connection was closed after 5 s without a request, so a proxy reusing it,
// or a re-poll sent while an overloaded event loop was still busy, got a reset.
test('a kept-alive connection stays open between requests as long as fastify would keep it', { timeout: 30_000 }, async (t) => {
  const app = await buildTestApp(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  assert.equal(app.server.keepAliveTimeout, 72_000)
  assert.equal(app.server.requestTimeout, 0)
  const socket = net.connect((app.server.address() as AddressInfo).port, '127.0.0.1')
  t.after(() => socket.destroy())
  await new Promise((resolve) => socket.once('connect', resolve))
  assert.equal(await ask(socket), 'HTTP/1.1 200 OK')
  // longer than Node's own 5 s default
  await new Promise((resolve) => setTimeout(resolve, 5_500))
  assert.equal(await ask(socket), 'HTTP/1.1 200 OK')
})
