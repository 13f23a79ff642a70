import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomId } from '../../server/web/random-id.ts'

test('random ids are base64url of the asked length and never repeat, across pool refills', () => {
  const seen = new Set<string>()
  // 12 bytes an id: 1,000 ids use the 4 KB pool about three times over
  for (let i = 0; i < 1000; i++) {
    const id = randomId(12)
    assert.match(id, /^[A-Za-z0-9_-]{16}$/)
    seen.add(id)
  }
  assert.equal(seen.size, 1000)
  assert.match(randomId(5000), /^[A-Za-z0-9_-]{6667}$/)
})
