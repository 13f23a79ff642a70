import type { Knex } from 'knex'

/**
 * The servers search on MySQL/MariaDB: one stored column with hostname,
 * address and tags lowercased, in a binary collation, so a search is one
 * byte-wise LIKE per row instead of three under utf8mb4_unicode_ci (about
 * half the database's CPU per search with 10,000 servers). The three
 * columns hold ASCII only (validated), so lowercasing is all the unicode_ci
 * comparison did for them. SQLite has its trigram index instead (the
 * migration before this one).
 */
export async function up(knex: Knex): Promise<void> {
  if (knex.client.config.client === 'better-sqlite3') return
  await knex.raw(
    "ALTER TABLE servers ADD COLUMN search_text VARCHAR(1024) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin GENERATED ALWAYS AS (LOWER(CONCAT_WS('\\n', hostname, address, tags))) STORED",
  )
}

export async function down(knex: Knex): Promise<void> {
  if (knex.client.config.client === 'better-sqlite3') return
  await knex.raw('ALTER TABLE servers DROP COLUMN search_text')
}
