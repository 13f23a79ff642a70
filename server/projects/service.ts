import type { Knex } from 'knex'
import { isUniqueViolation } from '../db/connection.ts'
import type { FieldErrors } from '../web/validate.ts'
import { createProjectsRepository, type Project, type ProjectInput } from './repository.ts'
import { createServersRepository } from '../servers/repository.ts'
import { readProject, type ReadOptions } from './schema.ts'
import type { Hub } from '../realtime/hub.ts'
import { announce } from '../realtime/live-lists.ts'

export type SaveResult = { ok: true; project: Project } | { ok: false; errors: FieldErrors; notFound?: boolean }

/** Thrown inside a transaction to roll it back and report field errors. */
class Invalid extends Error {
  constructor(readonly errors: FieldErrors) {
    super('invalid')
  }
}

const duplicate = (title: string | undefined): FieldErrors => ({ title: `A project titled ${title ?? ''} already exists` })

function missingMessage(missing: number[]): string {
  const shown = missing.slice(0, 10).join(', ') + (missing.length > 10 ? ` and ${missing.length - 10} more` : '')
  return missing.length === 1 ? `Server ${shown} does not exist` : `Servers ${shown} do not exist`
}

/**
 * The one place a project is validated and written, for the forms and the
 * API alike. The project row and its server links change in one
 * transaction, so a failure leaves neither half behind. Every change is
 * announced to the open list pages through the hub.
 */
export function createProjectsService(knex: Knex, hub?: Hub) {
  const repo = createProjectsRepository(knex)
  const servers = createServersRepository(knex)

  /** Checks against the database: the title is free and every server exists. */
  async function checkReferences(value: Partial<ProjectInput>, errors: FieldErrors, id: number | null, trx: Knex): Promise<void> {
    if (value.title && !errors.title && (await repo.titleTaken(value.title, id, trx))) Object.assign(errors, duplicate(value.title))
    if (value.server_ids?.length && !errors.server_ids) {
      const found = new Set(await servers.existingIds(value.server_ids, trx))
      const missing = value.server_ids.filter((sid) => !found.has(sid))
      if (missing.length) errors.server_ids = missingMessage(missing)
    }
  }

  async function save(id: number | null, input: Record<string, unknown>, opts: ReadOptions): Promise<SaveResult> {
    const { value, errors } = readProject(input, opts)
    if (Object.keys(errors).length) {
      // still say which servers are unknown and whether the title is taken, so one round trip shows every problem
      await checkReferences(value, errors, id, knex)
      return { ok: false, errors }
    }
    try {
      const project = await knex.transaction(async (trx) => {
        const found: FieldErrors = {}
        await checkReferences(value, found, id, trx)
        if (Object.keys(found).length) throw new Invalid(found)
        return id === null ? repo.create(value as ProjectInput, trx) : repo.update(id, value, trx)
      })
      if (!project) return { ok: false, errors: {}, notFound: true }
      announce(hub, 'projects', id === null ? 'created' : 'updated', project.id, project.title)
      return { ok: true, project }
    } catch (err) {
      if (err instanceof Invalid) return { ok: false, errors: err.errors }
      if (isUniqueViolation(err)) return { ok: false, errors: duplicate(value.title) }
      throw err
    }
  }

  return {
    repo,

    create(input: Record<string, unknown>, opts: { form: boolean }): Promise<SaveResult> {
      return save(null, input, { form: opts.form })
    },

    update(id: number, input: Record<string, unknown>, opts: { form: boolean; partial: boolean }): Promise<SaveResult> {
      return save(id, input, opts)
    },

    /** The project, as it was, if it existed and is now gone. */
    async remove(id: number): Promise<Project | null> {
      const removed = await knex.transaction(async (trx) => {
        const project = await repo.findById(id, trx)
        if (!project || !(await repo.remove(id, trx))) return null
        return project
      })
      if (removed) announce(hub, 'projects', 'deleted', removed.id, removed.title)
      return removed
    },
  }
}
