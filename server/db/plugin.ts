import fp from 'fastify-plugin'
import type { Knex } from 'knex'
import { createKnex } from './connection.ts'
import { ConfigError, type Config } from '../config.ts'

declare module 'fastify' {
  interface FastifyInstance {
    knex: Knex
  }
}

/** Describes a connection failure as one line a person can act on. */
export function describeDbError(config: Config, err: unknown): string {
  const e = err as { code?: string; message?: string }
  const where = config.database.client === 'sqlite' ? config.database.filename : new URL(config.database.url as string).host
  const message = e.message ?? String(err)
  const reason = e.code && !message.includes(e.code) ? `${e.code} ${message}` : message
  return `DATABASE_URL: cannot use the ${config.database.client} database at ${where}: ${reason}`.replace(/\s+/g, ' ').trim()
}

export default fp(
  async (app, opts: { config: Config; migrate: boolean }) => {
    const knex = createKnex(opts.config.database)
    try {
      await knex.raw('select 1')
      if (opts.migrate) await knex.migrate.latest()
    } catch (err) {
      await knex.destroy()
      throw new ConfigError(describeDbError(opts.config, err))
    }
    app.decorate('knex', knex)
    app.addHook('onClose', async () => {
      await knex.destroy()
    })
  },
  { name: 'db' },
)
