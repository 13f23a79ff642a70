import type { Knex } from 'knex'

// Whose session it is, so a password change or a deleted user can end every
// other session of theirs. No foreign key: a session may outlive its user by
// a moment, and the store must never fail a request over it.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('sessions', (t) => {
    t.integer('user_id').unsigned().nullable()
    t.index(['user_id'])
  })
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('sessions', (t) => {
    t.dropIndex(['user_id'])
    t.dropColumn('user_id')
  })
}
