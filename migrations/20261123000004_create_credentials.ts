import type { Knex } from 'knex'

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('credentials', (t) => {
    t.increments('id').primary()
    t.string('name', 128).notNullable().unique()
    t.string('kind', 16).notNullable() // 'key' | 'password'
    // AES-256-GCM: base64(iv | tag | ciphertext); the plaintext never touches the database
    t.text('secret_encrypted').notNullable()
    t.string('fingerprint', 128).notNullable().defaultTo('')
    t.text('notes').nullable()
    t.datetime('created_at', { precision: 3 }).notNullable()
    t.datetime('updated_at', { precision: 3 }).notNullable()
  })
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('credentials')
}
