import type { Knex } from 'knex'

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('audit_log', (t) => {
    t.bigIncrements('id').primary()
    t.integer('user_id').unsigned().nullable().references('id').inTable('users').onDelete('SET NULL')
    // kept as text so the log still names who it was after the user is deleted
    t.string('username', 64).nullable()
    t.string('address', 64).notNullable()
    t.string('action', 64).notNullable()
    t.string('target_type', 32).nullable()
    t.string('target_id', 64).nullable()
    t.string('detail', 1024).notNullable().defaultTo('')
    t.datetime('created_at', { precision: 3 }).notNullable()
    t.index(['created_at'])
    t.index(['user_id'])
    t.index(['action'])
  })
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('audit_log')
}
