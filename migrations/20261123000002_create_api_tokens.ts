import type { Knex } from 'knex'

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('api_tokens', (t) => {
    t.increments('id').primary()
    t.integer('user_id').unsigned().notNullable().references('id').inTable('users').onDelete('CASCADE')
    t.string('name', 64).notNullable()
    // sha256 of the token: the token itself is shown once and never stored
    t.string('token_hash', 64).notNullable().unique()
    t.string('prefix', 16).notNullable()
    t.datetime('last_used_at', { precision: 3 }).nullable()
    t.datetime('created_at', { precision: 3 }).notNullable()
    t.index(['user_id'])
  })
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('api_tokens')
}
