import type { Knex } from 'knex'

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('asset_changes', (t) => {
    t.bigIncrements('id').primary()
    t.integer('asset_id').unsigned().notNullable().references('id').inTable('assets').onDelete('CASCADE')
    t.string('field', 128).notNullable()
    t.text('old_value').nullable()
    t.text('new_value').nullable()
    t.string('source', 16).notNullable()
    t.datetime('created_at', { precision: 3 }).notNullable()
    t.index(['asset_id', 'created_at'])
  })
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('asset_changes')
}
