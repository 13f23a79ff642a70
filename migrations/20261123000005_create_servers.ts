import type { Knex } from 'knex'

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('servers', (t) => {
    t.increments('id').primary()
    t.string('hostname', 253).notNullable().unique()
    t.string('address', 255).notNullable()
    t.integer('port').notNullable().defaultTo(22)
    t.string('username', 64).notNullable().defaultTo('root')
    t.integer('credential_id').unsigned().nullable().references('id').inTable('credentials').onDelete('SET NULL')
    t.string('env', 32).notNullable().defaultTo('test')
    t.string('tags', 512).notNullable().defaultTo('')
    t.text('notes').nullable()
    // pinned on first SSH connection; a different key later fails the host
    t.text('host_key').nullable()
    t.string('host_key_fingerprint', 128).nullable()
    t.datetime('created_at', { precision: 3 }).notNullable()
    t.datetime('updated_at', { precision: 3 }).notNullable()
    t.index(['address'])
    t.index(['env'])
    t.index(['credential_id'])
  })
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('servers')
}
