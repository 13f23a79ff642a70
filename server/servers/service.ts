import type { Knex } from 'knex'
import { isUniqueViolation } from '../db/connection.ts'
import type { FieldErrors } from '../web/validate.ts'
import { createServersRepository, type Server, type ServerInput } from './repository.ts'
import { readServer } from './schema.ts'
import type { Hub } from '../realtime/hub.ts'
import { announce } from '../realtime/live-lists.ts'

export type SaveResult = { ok: true; server: Server } | { ok: false; errors: FieldErrors; notFound?: boolean }

/**
 * The one place a server is validated and written, for the forms and the API
 * alike, so both give the same messages; every change is announced to the
 * open list pages through the hub.
 */
export function createServersService(knex: Knex, hub?: Hub) {
  const repo = createServersRepository(knex)

  async function checkReferences(value: Partial<ServerInput>, errors: FieldErrors, trx: Knex): Promise<void> {
    if (value.credential_id) {
      const found = await trx('credentials').where({ id: value.credential_id }).first('id')
      if (!found) errors.credential_id = `Credential ${value.credential_id} does not exist`
    }
  }

  return {
    repo,

    async create(input: Record<string, unknown>): Promise<SaveResult> {
      const { value, errors } = readServer(input)
      await checkReferences(value, errors, knex)
      if (Object.keys(errors).length) return { ok: false, errors }
      try {
        const server = await repo.create(value as ServerInput)
        announce(hub, 'servers', 'created', server.id, server.hostname)
        return { ok: true, server }
      } catch (err) {
        if (isUniqueViolation(err)) return { ok: false, errors: { hostname: `A server named ${value.hostname} already exists` } }
        throw err
      }
    },

    async update(id: number, input: Record<string, unknown>, partial: boolean): Promise<SaveResult> {
      const { value, errors } = readServer(input, partial)
      await checkReferences(value, errors, knex)
      if (Object.keys(errors).length) return { ok: false, errors }
      try {
        const server = await repo.update(id, value)
        if (!server) return { ok: false, errors: {}, notFound: true }
        announce(hub, 'servers', 'updated', server.id, server.hostname)
        return { ok: true, server }
      } catch (err) {
        if (isUniqueViolation(err)) return { ok: false, errors: { hostname: `A server named ${value.hostname} already exists` } }
        throw err
      }
    },

    /** The server, as it was, if it existed and is now gone. */
    async remove(id: number): Promise<Server | null> {
      const server = await repo.findById(id)
      if (!server || !(await repo.remove(id))) return null
      announce(hub, 'servers', 'deleted', id, server.hostname)
      return server
    },
  }
}
