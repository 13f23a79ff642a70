import type { Knex } from 'knex'

/**
 * What storing collections needs beyond the assets table: the tokens agents
 * enroll with (a kind of their own, so a leaked agent token can post a
 * report and nothing else), the collection errors page (refused names,
 * suspected clones, failed collectors and hosts), and a few facts copied to
 * columns so the list can sort and identity can match without parsing every
 * asset's JSON.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('enrollment_tokens', (t) => {
    t.increments('id').primary()
    t.string('name', 64).notNullable()
    // sha256 of the token: it is shown once and never stored
    t.string('token_hash', 64).notNullable().unique()
    t.string('prefix', 16).notNullable()
    t.integer('created_by').unsigned().nullable().references('id').inTable('users').onDelete('SET NULL')
    t.datetime('last_used_at', { precision: 3 }).nullable()
    t.datetime('created_at', { precision: 3 }).notNullable()
  })
  await knex.schema.createTable('asset_errors', (t) => {
    t.bigIncrements('id').primary()
    // null for a report that matched no asset (a refused new host) or a host that could not be reached before it had one
    t.integer('asset_id').unsigned().nullable().references('id').inTable('assets').onDelete('CASCADE')
    t.string('hostname', 253).notNullable()
    // refused | rename-refused | clone | collector | host
    t.string('kind', 32).notNullable()
    t.string('collector', 32).nullable()
    t.text('message').notNullable()
    t.text('stack').nullable()
    t.string('source', 16).notNullable()
    t.datetime('created_at', { precision: 3 }).notNullable()
    t.index(['created_at'])
    t.index(['asset_id', 'created_at'])
  })
  await knex.schema.alterTable('assets', (t) => {
    t.string('os_name', 128).nullable()
    t.bigInteger('memory_bytes').nullable()
    t.bigInteger('disk_bytes').nullable()
    // comma-joined: the list shows them and identity compares MACs
    t.string('ips', 1024).nullable()
    t.string('macs', 1024).nullable()
    t.index(['collected_at'])
  })
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('assets', (t) => {
    t.dropIndex(['collected_at'])
    t.dropColumn('macs')
    t.dropColumn('ips')
    t.dropColumn('disk_bytes')
    t.dropColumn('memory_bytes')
    t.dropColumn('os_name')
  })
  await knex.schema.dropTable('asset_errors')
  await knex.schema.dropTable('enrollment_tokens')
}
