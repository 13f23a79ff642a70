import type { Knex } from 'knex'

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('project_servers', (t) => {
    t.integer('project_id').unsigned().notNullable().references('id').inTable('projects').onDelete('CASCADE')
    t.integer('server_id').unsigned().notNullable().references('id').inTable('servers').onDelete('CASCADE')
    t.primary(['project_id', 'server_id'])
    t.index(['server_id'])
  })
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('project_servers')
}
