import type { Knex } from 'knex'

/**
 * release_events.stream holds "stdout" / "stderr" / "info" for log lines and
 * the step's name for step events ("before_deploy" is 13 characters): 8 was
 * too narrow, and MySQL in strict mode refuses the whole batch of a longer
 * value (SQLite never checks lengths, which is how it went unnoticed).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('release_events', (t) => {
    t.string('stream', 32).nullable().alter()
  })
}

export async function down(knex: Knex): Promise<void> {
  await knex('release_events').whereRaw('length(stream) > 8').update({ stream: knex.raw('substr(stream, 1, 8)') })
  await knex.schema.alterTable('release_events', (t) => {
    t.string('stream', 8).nullable().alter()
  })
}
