import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createKnex } from '../../server/db/connection.ts'
import { TABLE_CACHE_TTL_MS, tableChanged } from '../../server/db/table-cache.ts'
import { MAX_PAGES, cachedPage } from '../../server/web/page-cache.ts'

function memoryKnex(t: import('node:test').TestContext) {
  const knex = createKnex({ client: 'sqlite', filename: ':memory:' })
  t.after(() => knex.destroy())
  return knex
}

/** A render that says how many times it ran. */
function counter() {
  let renders = 0
  return async () => `<p>render ${++renders}</p>`
}

test('a fragment is reused until any of its tables changes', async (t) => {
  const knex = memoryKnex(t)
  const render = counter()
  const tables = ['servers', 'credentials']
  assert.equal(await cachedPage(knex, tables, 'k', render), '<p>render 1</p>')
  assert.equal(await cachedPage(knex, tables, 'k', render), '<p>render 1</p>')
  tableChanged(knex, 'credentials')
  assert.equal(await cachedPage(knex, tables, 'k', render), '<p>render 2</p>')
  await knex.transaction(async (trx) => tableChanged(trx, 'servers'))
  assert.equal(await cachedPage(knex, tables, 'k', render), '<p>render 3</p>')
  // a table it was not read from changes nothing
  tableChanged(knex, 'users')
  assert.equal(await cachedPage(knex, tables, 'k', render), '<p>render 3</p>')
})

test('a write that lands while the fragment renders makes that render stale at once', async (t) => {
  const knex = memoryKnex(t)
  const first = await cachedPage(knex, ['servers'], 'k', async () => {
    // the rows were read before this write
    tableChanged(knex, 'servers')
    return 'old rows'
  })
  assert.equal(first, 'old rows')
  assert.equal(await cachedPage(knex, ['servers'], 'k', async () => 'new rows'), 'new rows')
})

test('a fragment expires by itself, since another instance may write the table', async (t) => {
  const knex = memoryKnex(t)
  t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 })
  const render = counter()
  await cachedPage(knex, ['servers'], 'k', render)
  t.mock.timers.tick(TABLE_CACHE_TTL_MS - 1)
  assert.equal(await cachedPage(knex, ['servers'], 'k', render), '<p>render 1</p>')
  t.mock.timers.tick(1)
  assert.equal(await cachedPage(knex, ['servers'], 'k', render), '<p>render 2</p>')
})

test('keys, databases and failed renders never mix', async (t) => {
  const a = memoryKnex(t)
  const b = memoryKnex(t)
  await cachedPage(a, ['servers'], 'admin', async () => 'with actions')
  assert.equal(await cachedPage(a, ['servers'], 'reader', async () => 'without actions'), 'without actions')
  assert.equal(await cachedPage(b, ['servers'], 'admin', async () => 'other database'), 'other database')
  await assert.rejects(cachedPage(a, ['servers'], 'broken', async () => Promise.reject(new Error('boom'))), /boom/)
  assert.equal(await cachedPage(a, ['servers'], 'broken', async () => 'rendered'), 'rendered')
})

test('at most MAX_PAGES fragments are kept, the least recently used goes first', async (t) => {
  const knex = memoryKnex(t)
  for (let i = 0; i < MAX_PAGES; i++) await cachedPage(knex, ['servers'], `page ${i}`, async () => `first ${i}`)
  // page 0 is used again, so page 1 is now the oldest
  assert.equal(await cachedPage(knex, ['servers'], 'page 0', async () => 'again'), 'first 0')
  await cachedPage(knex, ['servers'], 'one more', async () => 'one more')
  assert.equal(await cachedPage(knex, ['servers'], 'page 0', async () => 'again'), 'first 0')
  assert.equal(await cachedPage(knex, ['servers'], 'page 1', async () => 'evicted'), 'evicted')
  assert.equal(await cachedPage(knex, ['servers'], 'page 2', async () => 'evicted'), 'evicted')
})

test('requests that miss together share one render; one that comes after a write does not join it', async (t) => {
  const knex = memoryKnex(t)
  let renders = 0
  let release: () => void = () => undefined
  const slow = () =>
    new Promise<string>((resolve) => {
      renders++
      const n = renders
      release = () => resolve(`render ${n}`)
    })
  const first = cachedPage(knex, ['servers'], 'k', slow)
  const second = cachedPage(knex, ['servers'], 'k', slow)
  assert.equal(renders, 1)
  tableChanged(knex, 'servers')
  const third = cachedPage(knex, ['servers'], 'k', async () => 'after the write')
  release()
  assert.deepEqual(await Promise.all([first, second, third]), ['render 1', 'render 1', 'after the write'])
})
