import type { Knex } from 'knex'

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('projects', (t) => {
    t.increments('id').primary()
    t.string('title', 128).notNullable().unique()
    t.string('repo_url', 1024).notNullable()
    t.string('env', 32).notNullable().defaultTo('test')
    t.string('deploy_path', 512).notNullable()
    t.integer('keep_releases').notNullable().defaultTo(5)
    t.string('rollout', 16).notNullable().defaultTo('parallel') // parallel | serial | batch
    // the cap on hosts at once for parallel, the wave size for batch
    t.integer('batch_size').notNullable().defaultTo(10)
    t.boolean('stop_on_failure').notNullable().defaultTo(true)
    t.text('hook_before_download').nullable()
    t.text('hook_after_download').nullable()
    t.text('hook_before_deploy').nullable()
    t.text('hook_after_deploy').nullable()
    t.datetime('created_at', { precision: 3 }).notNullable()
    t.datetime('updated_at', { precision: 3 }).notNullable()
    t.index(['env'])
  })
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('projects')
}
