import type { Knex } from 'knex'

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('releases', (t) => {
    t.increments('id').primary()
    t.integer('project_id').unsigned().notNullable().references('id').inTable('projects').onDelete('CASCADE')
    t.string('kind', 16).notNullable().defaultTo('deploy') // deploy | rollback
    t.string('ref', 255).notNullable()
    t.string('commit', 64).nullable()
    // pending | running | success | failed | cancelled | interrupted
    t.string('status', 16).notNullable().defaultTo('pending')
    t.integer('user_id').unsigned().nullable().references('id').inTable('users').onDelete('SET NULL')
    t.integer('rollback_of').unsigned().nullable().references('id').inTable('releases').onDelete('SET NULL')
    t.string('artifact', 512).nullable()
    t.text('error').nullable()
    t.datetime('started_at', { precision: 3 }).nullable()
    t.datetime('finished_at', { precision: 3 }).nullable()
    t.datetime('created_at', { precision: 3 }).notNullable()
    t.index(['project_id', 'created_at'])
    t.index(['status'])
  })
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('releases')
}
