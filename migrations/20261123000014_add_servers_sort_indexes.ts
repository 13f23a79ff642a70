import type { Knex } from 'knex'

// Every sortable column of the servers list, with id as the tie-break the
// list orders by, so MySQL/MariaDB reads 50 index entries in order instead of
// sorting the whole table for each page (hostname is unique and needs none).
const SORTS = ['address', 'env', 'port', 'username', 'created_at', 'updated_at']

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('servers', (t) => {
    for (const column of SORTS) t.index([column, 'id'], `servers_${column}_id_sort`)
  })
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('servers', (t) => {
    for (const column of SORTS) t.dropIndex([column, 'id'], `servers_${column}_id_sort`)
  })
}
