import { readdirSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { Knex } from 'knex'

const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../migrations')

interface MigrationModule {
  up(knex: Knex): Promise<void>
  down(knex: Knex): Promise<void>
}

/**
 * Knex's file loader decides between require() and import() by itself and
 * trips over TypeScript under tsx; a source that imports the files we list
 * works the same on every dialect and in every entry point.
 */
export const migrationSource: Knex.MigrationSource<string> = {
  async getMigrations() {
    return readdirSync(MIGRATIONS_DIR)
      .filter((name) => /^\d{14}_[a-z0-9_]+\.ts$/.test(name))
      .sort()
  },
  getMigrationName(name) {
    return name
  },
  async getMigration(name) {
    const mod = (await import(pathToFileURL(path.join(MIGRATIONS_DIR, name)).href)) as MigrationModule
    return { up: mod.up, down: mod.down }
  },
}
