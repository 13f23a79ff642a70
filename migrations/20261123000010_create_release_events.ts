import type { Knex } from 'knex'

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('release_events', (t) => {
    t.bigIncrements('id').primary()
    t.integer('release_id').unsigned().notNullable().references('id').inTable('releases').onDelete('CASCADE')
    // per-release order: the cursor the poll and the events API page by
    t.integer('seq').notNullable()
    t.string('kind', 16).notNullable() // log | step | chat | status
    t.string('host', 253).nullable()
    t.string('stream', 8).nullable() // stdout | stderr
    t.text('body').notNullable()
    t.integer('user_id').unsigned().nullable().references('id').inTable('users').onDelete('SET NULL')
    t.datetime('created_at', { precision: 3 }).notNullable()
    t.unique(['release_id', 'seq'])
  })
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('release_events')
}
