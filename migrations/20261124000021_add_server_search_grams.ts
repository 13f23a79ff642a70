import type { Knex } from 'knex'
import { GRAMS_TABLE, rebuildServerGrams, usesGrams } from '../server/servers/search-grams.ts'

/**
 * The servers search's substring index on MySQL/MariaDB (see
 * server/servers/search-grams.ts): one row per distinct trigram of a
 * server's hostname, address and tags, deleted with the server. The gram is
 * compared byte for byte (varbinary: no collation, no padding rules); both
 * sides are folded to lower case without accents before they are stored or
 * looked up. SQLite has FTS5 instead (the previous migration).
 */
export async function up(knex: Knex): Promise<void> {
  if (!usesGrams(knex)) return
  await knex.schema.createTable(GRAMS_TABLE, (t) => {
    // three code points of utf8mb4
    t.specificType('gram', 'varbinary(12)').notNullable()
    t.integer('server_id').unsigned().notNullable().references('id').inTable('servers').onDelete('CASCADE')
    t.primary(['gram', 'server_id'])
    t.index(['server_id'])
  })
  // servers stored before this migration
  await rebuildServerGrams(knex)
}

export async function down(knex: Knex): Promise<void> {
  if (!usesGrams(knex)) return
  await knex.schema.dropTableIfExists(GRAMS_TABLE)
}
