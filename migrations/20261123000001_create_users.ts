import type { Knex } from 'knex'

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('users', (t) => {
    t.increments('id').primary()
    t.string('username', 64).notNullable().unique()
    t.string('display_name', 128).notNullable().defaultTo('')
    t.string('role', 16).notNullable().defaultTo('viewer')
    t.string('password_hash', 255).notNullable()
    t.datetime('last_login_at', { precision: 3 }).nullable()
    t.datetime('created_at', { precision: 3 }).notNullable()
    t.datetime('updated_at', { precision: 3 }).notNullable()
    t.index(['role'])
  })
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('users')
}
