import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createKnex } from '../../server/db/connection.ts'
import { cachedRead, tableChanged } from '../../server/db/table-cache.ts'

function memoryKnex(t: import('node:test').TestContext) {
  const knex = createKnex({ client: 'sqlite', filename: ':memory:' })
  t.after(() => knex.destroy())
  return knex
}

test('a cached read is reused until its table changes', async (t) => {
  const knex = memoryKnex(t)
  let loads = 0
  const load = async () => ++loads
  assert.equal(await cachedRead(knex, 'servers', 'total', load), 1)
  assert.equal(await cachedRead(knex, 'servers', 'total', load), 1)
  await knex.transaction(async (trx) => tableChanged(trx, 'servers'))
  assert.equal(await cachedRead(knex, 'servers', 'total', load), 2)
})

test('a cached read expires by itself, since another instance may write the table', async (t) => {
  const knex = memoryKnex(t)
  let loads = 0
  const load = async () => ++loads
  await cachedRead(knex, 'users', 'id:1', load, 0)
  assert.equal(await cachedRead(knex, 'users', 'id:1', load, 0), 2)
})

test('caches of two databases and two tables never mix', async (t) => {
  const a = memoryKnex(t)
  const b = memoryKnex(t)
  await cachedRead(a, 'servers', 'total', async () => 'a')
  assert.equal(await cachedRead(b, 'servers', 'total', async () => 'b'), 'b')
  await cachedRead(a, 'users', 'total', async () => 'users')
  tableChanged(a, 'users')
  assert.equal(await cachedRead(a, 'servers', 'total', async () => 'reloaded'), 'a')
})

test('reads that miss together share one load; a write during the load keeps its result out of the cache', async (t) => {
  const knex = memoryKnex(t)
  let loads = 0
  const load = async () => {
    loads++
    await new Promise((resolve) => setTimeout(resolve, 10))
    return loads
  }
  assert.deepEqual(await Promise.all([cachedRead(knex, 'users', 'id:1', load), cachedRead(knex, 'users', 'id:1', load)]), [1, 1])
  assert.equal(loads, 1)
  const during = cachedRead(knex, 'servers', 'total', load)
  tableChanged(knex, 'servers')
  assert.equal(await during, 2)
  assert.equal(await cachedRead(knex, 'servers', 'total', load), 3)
})
