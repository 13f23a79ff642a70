import type { Knex } from 'knex'
import { isSqlite } from '../server/db/connection.ts'

/**
 * A substring index for the servers search on SQLite: an FTS5 table with the
 * trigram tokenizer over hostname, address and tags, kept in step with
 * `servers` by triggers. A search for "web-197" then reads the few rows that
 * contain it instead of running LIKE '%web-197%' over every row, which on
 * SQLite also blocks the event loop for the whole scan (better-sqlite3 is
 * synchronous): about 1.2 ms against 0.02 ms with 10,000 servers.
 *
 * It is external-content (the text stays in `servers`), so the triggers must
 * hand the index the exact old values when a row changes; the update trigger
 * fires only when one of the three columns is written, so asset collection
 * touching other columns costs the index nothing. A later migration that
 * makes knex rebuild `servers` on SQLite (some `alter()`s copy the table and
 * drop the old one) drops these triggers with it and must recreate them and
 * run the 'rebuild' below.
 *
 * MySQL/MariaDB keep LIKE: it runs in the database's own threads, off
 * Node's event loop, and MariaDB has no substring (ngram) full-text index.
 */
export async function up(knex: Knex): Promise<void> {
  if (!isSqlite(knex)) return
  await knex.raw(
    "CREATE VIRTUAL TABLE servers_search USING fts5(hostname, address, tags, content='servers', content_rowid='id', tokenize='trigram')",
  )
  await knex.raw(`CREATE TRIGGER servers_search_insert AFTER INSERT ON servers BEGIN
    INSERT INTO servers_search(rowid, hostname, address, tags) VALUES (new.id, new.hostname, new.address, new.tags);
  END`)
  await knex.raw(`CREATE TRIGGER servers_search_delete AFTER DELETE ON servers BEGIN
    INSERT INTO servers_search(servers_search, rowid, hostname, address, tags) VALUES ('delete', old.id, old.hostname, old.address, old.tags);
  END`)
  await knex.raw(`CREATE TRIGGER servers_search_update AFTER UPDATE OF id, hostname, address, tags ON servers BEGIN
    INSERT INTO servers_search(servers_search, rowid, hostname, address, tags) VALUES ('delete', old.id, old.hostname, old.address, old.tags);
    INSERT INTO servers_search(rowid, hostname, address, tags) VALUES (new.id, new.hostname, new.address, new.tags);
  END`)
  // servers stored before this migration
  await knex.raw("INSERT INTO servers_search(servers_search) VALUES ('rebuild')")
}

export async function down(knex: Knex): Promise<void> {
  if (!isSqlite(knex)) return
  for (const trigger of ['servers_search_insert', 'servers_search_delete', 'servers_search_update']) await knex.raw(`DROP TRIGGER IF EXISTS ${trigger}`)
  await knex.raw('DROP TABLE IF EXISTS servers_search')
}
