import type { Knex } from 'knex'

/**
 * One release per project at a time, held in the database so that it also
 * holds across several console instances: the primary key on project_id is
 * the lock. `owner` names the console instance running it and `heartbeat_at`
 * is renewed while it runs, so a lock whose owner died is recognised as stale
 * instead of blocking the project forever (Walle's and Spug's common
 * complaint).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('release_locks', (t) => {
    t.integer('project_id').unsigned().notNullable().primary().references('id').inTable('projects').onDelete('CASCADE')
    t.integer('release_id').unsigned().notNullable().references('id').inTable('releases').onDelete('CASCADE')
    t.string('owner', 64).notNullable()
    t.datetime('acquired_at', { precision: 3 }).notNullable()
    t.datetime('heartbeat_at', { precision: 3 }).notNullable()
    t.unique(['release_id'])
  })
  await knex.schema.alterTable('releases', (t) => {
    // a cancel asked on any instance; the owner notices it on its next heartbeat
    t.datetime('cancel_requested_at', { precision: 3 }).nullable()
    t.integer('cancelled_by').unsigned().nullable().references('id').inTable('users').onDelete('SET NULL')
  })
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('releases', (t) => {
    t.dropForeign(['cancelled_by'])
    t.dropColumn('cancelled_by')
    t.dropColumn('cancel_requested_at')
  })
  await knex.schema.dropTable('release_locks')
}
