import { test } from 'node:test'
import assert from 'node:assert/strict'
import { QUERY_GRAMS, queryGrams, serverGrams } from '../../server/servers/search-grams.ts'

test('a server holds the distinct trigrams of each searched column, folded, never across columns', () => {
  const grams = serverGrams({ hostname: 'Web-1', address: 'web', tags: ',Café,' })
  assert.deepEqual(grams.sort(), [',ca', 'afe', 'caf', 'eb-', 'fe,', 'web', 'b-1'].sort())
  assert.ok(!grams.includes('-1w'), 'no gram spans hostname and address')
})

test('grams count code points, so characters outside the BMP are one character', () => {
  assert.deepEqual(serverGrams({ hostname: 'a😀b', address: '', tags: '' }), ['a😀b'])
  assert.deepEqual(queryGrams('😀b'), [], 'two characters: too short for a gram')
})

test('a query uses at most a few of its grams, spread from its start to its end', () => {
  assert.deepEqual(queryGrams('ab'), [])
  assert.deepEqual(queryGrams('ABC'), ['abc'])
  assert.deepEqual(queryGrams('aaaa'), ['aaa'], 'distinct')
  const grams = queryGrams('worker-139.fra1.example.com')
  assert.equal(grams.length, QUERY_GRAMS)
  assert.equal(grams[0], 'wor')
  assert.equal(grams[grams.length - 1], 'com')
  // folded like the index, so an accented or upper-case query finds the same servers
  assert.deepEqual(queryGrams('CAFÉ'), queryGrams('cafe'))
})
