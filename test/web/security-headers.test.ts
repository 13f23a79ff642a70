import { test } from 'node:test'
import assert from 'node:assert/strict'
import { helmetHeaders } from '../../server/web/security-headers.ts'
import { buildTestApp, signIn } from '../helper.ts'

test('helmet headers are read once from its options, as helmet itself would set them', () => {
  const plain = helmetHeaders({ contentSecurityPolicy: { directives: { 'script-src': ["'self'"] } }, strictTransportSecurity: false })
  assert.match(plain['content-security-policy'] ?? '', /script-src 'self'/)
  assert.equal(plain['x-content-type-options'], 'nosniff')
  assert.equal(plain['strict-transport-security'], undefined)
  const secure = helmetHeaders({})
  assert.match(secure['strict-transport-security'] ?? '', /max-age=\d+/)
  assert.match(secure['content-security-policy'] ?? '', /upgrade-insecure-requests/)
  // a bad option fails at start, not on a request
  assert.throws(() => helmetHeaders({ contentSecurityPolicy: { directives: { 'script-src': ['self'] } } }), /"self" should be quoted/)
})

test('every answer carries the headers, an error page too, but the long poll does not', async (t) => {
  const app = await buildTestApp(t)
  const viewer = await signIn(app, 'viewer')
  for (const url of ['/servers', '/login', '/no-such-page', '/public/css/app.css']) {
    const res = await viewer.get(url)
    assert.match(String(res.headers['content-security-policy']), /frame-ancestors 'none'/, url)
    assert.equal(res.headers['x-frame-options'], 'SAMEORIGIN', url)
  }
  const poll = await viewer.json('POST', '/poll', { client: 'tab-headers-1', topics: {} })
  assert.equal(poll.statusCode, 200, poll.body)
  assert.equal(poll.headers['content-security-policy'], undefined)
})
