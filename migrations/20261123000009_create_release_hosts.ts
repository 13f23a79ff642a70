import type { Knex } from 'knex'

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('release_hosts', (t) => {
    t.increments('id').primary()
    t.integer('release_id').unsigned().notNullable().references('id').inTable('releases').onDelete('CASCADE')
    t.integer('server_id').unsigned().nullable().references('id').inTable('servers').onDelete('SET NULL')
    // kept so the history reads right after a server is renamed or deleted
    t.string('hostname', 253).notNullable()
    t.string('status', 16).notNullable().defaultTo('pending')
    t.string('step', 32).nullable()
    t.text('error').nullable()
    t.datetime('started_at', { precision: 3 }).nullable()
    t.datetime('finished_at', { precision: 3 }).nullable()
    t.index(['release_id'])
    t.index(['server_id'])
  })
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('release_hosts')
}
