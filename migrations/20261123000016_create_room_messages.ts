import type { Knex } from 'knex'

// The team room's messages; the id is the room topic's sequence number, so a
// tab's cursor survives a console restart and gaps fill from here.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('room_messages', (t) => {
    t.bigIncrements('id').primary()
    t.integer('user_id').unsigned().nullable().references('id').inTable('users').onDelete('SET NULL')
    t.text('body').notNullable()
    t.datetime('created_at', { precision: 3 }).notNullable()
  })
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('room_messages')
}
