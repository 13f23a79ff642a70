import type { Knex } from 'knex'

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('assets', (t) => {
    t.increments('id').primary()
    t.integer('server_id').unsigned().nullable().unique().references('id').inTable('servers').onDelete('CASCADE')
    t.string('hostname', 253).notNullable().unique()
    t.string('agent_id', 64).nullable().unique()
    t.string('machine_id_hash', 64).nullable()
    t.string('product_uuid', 64).nullable()
    t.string('serial', 128).nullable()
    t.text('facts').notNullable() // JSON of the last collection
    t.string('mode', 16).nullable() // agent | ssh | ansible
    t.datetime('collected_at', { precision: 3 }).nullable()
    t.datetime('created_at', { precision: 3 }).notNullable()
    t.datetime('updated_at', { precision: 3 }).notNullable()
  })
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('assets')
}
