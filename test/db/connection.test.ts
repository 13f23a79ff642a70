import { test } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import { createKnex, PREPARED_STATEMENTS } from '../../server/db/connection.ts'
import { tempDir } from '../helper.ts'

// SQLite whatever DATABASE_URL says: statement reuse is a better-sqlite3 matter
function sqlite(t: import('node:test').TestContext) {
  const knex = createKnex({ client: 'sqlite', filename: path.join(tempDir(t, 'conn'), 'db.sqlite') })
  t.after(() => knex.destroy())
  return knex
}

test('SQLite prepares each SQL text once and reuses the statement, most recently used kept', async (t) => {
  const knex = sqlite(t)
  const conn = (await knex.client.acquireConnection()) as { prepare(sql: string): unknown }
  const first = conn.prepare('select 1 as n')
  assert.equal(conn.prepare('select 1 as n'), first)
  assert.notEqual(conn.prepare('select 2 as n'), first)
  for (let i = 0; i < PREPARED_STATEMENTS - 2; i++) conn.prepare(`select ${i + 10} as n`)
  assert.equal(conn.prepare('select 1 as n'), first, 'used again before it was the oldest')
  for (let i = 0; i < PREPARED_STATEMENTS; i++) conn.prepare(`select ${i + 1000} as n`)
  assert.notEqual(conn.prepare('select 1 as n'), first, 'evicted once PREPARED_STATEMENTS others came after it')
  await knex.client.releaseConnection(conn)
})

test('a reused statement gives current answers across writes, errors and schema changes', async (t) => {
  const knex = sqlite(t)
  await knex.schema.createTable('items', (tb) => {
    tb.increments('id')
    tb.string('name').notNullable().unique()
  })
  const names = async () => (await knex('items').select('name').orderBy('id')).map((r: { name: string }) => r.name)
  await knex('items').insert({ name: 'a' })
  assert.deepEqual(await names(), ['a'])
  await knex('items').insert({ name: 'b' })
  assert.deepEqual(await names(), ['a', 'b'])
  await assert.rejects(knex('items').insert({ name: 'a' }), /UNIQUE/)
  await knex('items').insert({ name: 'c' })
  assert.deepEqual(await names(), ['a', 'b', 'c'], 'a statement that failed runs again')

  await knex.schema.alterTable('items', (tb) => tb.string('colour').defaultTo('red'))
  assert.deepEqual(await knex('items').select('*').where({ name: 'a' }), [{ id: 1, name: 'a', colour: 'red' }])
  await knex.schema.dropTable('items')
  await assert.rejects(names(), /no such table/)
  await knex.schema.createTable('items', (tb) => {
    tb.increments('id')
    tb.string('name')
  })
  await knex('items').insert({ name: 'z' })
  assert.deepEqual(await names(), ['z'], 'a table dropped and made again')

  const inside = async (trx: typeof knex) => (await trx('items').select('name').orderBy('id')).map((r: { name: string }) => r.name)
  await knex.transaction(async (trx) => {
    await trx('items').insert({ name: 'kept' })
    assert.deepEqual(await inside(trx), ['z', 'kept'])
  })
  await assert.rejects(
    knex.transaction(async (trx) => {
      await trx('items').insert({ name: 'undone' })
      assert.deepEqual(await inside(trx), ['z', 'kept', 'undone'])
      throw new Error('roll back')
    }),
    /roll back/,
  )
  assert.deepEqual(await names(), ['z', 'kept'])
})
