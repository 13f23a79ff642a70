/* The `npm run migrate` / `migrate:rollback` entry point. */
import { loadConfig, ConfigError } from '../config.ts'
import { createKnex } from './connection.ts'

const command = process.argv[2] ?? 'latest'

async function run(): Promise<void> {
  const knex = createKnex(loadConfig().database)
  try {
    if (command === 'latest') {
      const [, done] = (await knex.migrate.latest()) as [number, string[]]
      console.log(done.length ? `applied ${done.length}: ${done.join(', ')}` : 'already up to date')
    } else if (command === 'rollback') {
      const all = process.argv.includes('--all')
      const [, done] = (await knex.migrate.rollback(undefined, all)) as [number, string[]]
      console.log(done.length ? `rolled back ${done.length}: ${done.join(', ')}` : 'nothing to roll back')
    } else if (command === 'status') {
      const [done, pending] = (await knex.migrate.list()) as [Array<{ name: string }>, Array<{ file: string }>]
      console.log(`applied: ${done.length}, pending: ${pending.length}`)
    } else {
      throw new ConfigError(`unknown command ${command}: use latest, rollback [--all] or status`)
    }
  } finally {
    await knex.destroy()
  }
}

run().catch((err: Error) => {
  console.error(`migrate: ${err instanceof ConfigError ? err.message : err.message.split('\n')[0]}`)
  process.exit(1)
})
