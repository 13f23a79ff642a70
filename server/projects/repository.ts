import type { Knex } from 'knex'
import { insertedId, toDate } from '../db/connection.ts'
import { listPage, whereContains, type ListQuery, type Page } from '../web/list-query.ts'

export const ROLLOUTS = ['parallel', 'serial', 'batch'] as const
export type Rollout = (typeof ROLLOUTS)[number]

export const HOOKS = ['before_download', 'after_download', 'before_deploy', 'after_deploy'] as const
export type HookName = (typeof HOOKS)[number]
export type HookColumn = `hook_${HookName}`

export interface ProjectServer {
  id: number
  hostname: string
}

export interface ProjectInput {
  title: string
  repo_url: string
  env: string
  deploy_path: string
  keep_releases: number
  rollout: Rollout
  batch_size: number
  stop_on_failure: boolean
  hook_before_download: string
  hook_after_download: string
  hook_before_deploy: string
  hook_after_deploy: string
  server_ids: number[]
}

export interface Project extends ProjectInput {
  id: number
  /** The linked servers, by hostname. */
  servers: ProjectServer[]
  created_at: Date
  updated_at: Date
}

export const PROJECT_SORTS = ['title', 'env', 'updated_at'] as const
export type ProjectSort = (typeof PROJECT_SORTS)[number]

const COLUMNS = [
  'projects.id',
  'projects.title',
  'projects.repo_url',
  'projects.env',
  'projects.deploy_path',
  'projects.keep_releases',
  'projects.rollout',
  'projects.batch_size',
  'projects.stop_on_failure',
  'projects.hook_before_download',
  'projects.hook_after_download',
  'projects.hook_before_deploy',
  'projects.hook_after_deploy',
  'projects.created_at',
  'projects.updated_at',
]

/** Links are inserted in chunks so a big fleet stays under SQLite's bound-variable limit. */
const LINK_CHUNK = 500

function toProject(row: Record<string, unknown>, servers: ProjectServer[]): Project {
  return {
    id: Number(row.id),
    title: String(row.title),
    repo_url: String(row.repo_url),
    env: String(row.env),
    deploy_path: String(row.deploy_path),
    keep_releases: Number(row.keep_releases),
    rollout: String(row.rollout) as Rollout,
    batch_size: Number(row.batch_size),
    // SQLite and MariaDB both hand booleans back as 0/1
    stop_on_failure: Boolean(Number(row.stop_on_failure)),
    hook_before_download: String(row.hook_before_download ?? ''),
    hook_after_download: String(row.hook_after_download ?? ''),
    hook_before_deploy: String(row.hook_before_deploy ?? ''),
    hook_after_deploy: String(row.hook_after_deploy ?? ''),
    server_ids: servers.map((s) => s.id),
    servers,
    created_at: toDate(row.created_at) as Date,
    updated_at: toDate(row.updated_at) as Date,
  }
}

/** Project columns only (server_ids live in project_servers); empty hooks are stored as NULL. */
function toRow(input: Partial<ProjectInput>): Record<string, unknown> {
  const { server_ids: _ids, ...row } = input
  const out: Record<string, unknown> = { ...row }
  for (const hook of HOOKS) {
    const column: HookColumn = `hook_${hook}`
    if (column in out) out[column] = out[column] === '' ? null : out[column]
  }
  return out
}

export function createProjectsRepository(knex: Knex) {
  /** The servers of each project asked for, in one query. */
  async function serversOf(projectIds: number[], trx: Knex): Promise<Map<number, ProjectServer[]>> {
    const map = new Map<number, ProjectServer[]>(projectIds.map((id) => [id, []]))
    if (!projectIds.length) return map
    const rows = await trx('project_servers')
      .join('servers', 'servers.id', 'project_servers.server_id')
      .whereIn('project_servers.project_id', projectIds)
      .select('project_servers.project_id', 'servers.id', 'servers.hostname')
      .orderBy('servers.hostname')
    for (const r of rows as Array<Record<string, unknown>>) {
      map.get(Number(r.project_id))?.push({ id: Number(r.id), hostname: String(r.hostname) })
    }
    return map
  }

  async function replaceServers(projectId: number, serverIds: number[], trx: Knex): Promise<void> {
    await trx('project_servers').where({ project_id: projectId }).del()
    for (let i = 0; i < serverIds.length; i += LINK_CHUNK) {
      const rows = serverIds.slice(i, i + LINK_CHUNK).map((server_id) => ({ project_id: projectId, server_id }))
      await trx('project_servers').insert(rows)
    }
  }

  return {
    async list(query: ListQuery<ProjectSort>, trx: Knex = knex): Promise<Page<Project>> {
      const builder = whereContains(trx('projects'), ['projects.title', 'projects.repo_url'], query.q)
      const page = await listPage(trx, builder, { ...query, sort: `projects.${query.sort}` }, COLUMNS, (row) => row, { uniqueSorts: ['projects.title'] })
      const servers = await serversOf(page.items.map((row) => Number(row.id)), trx)
      return { ...page, items: page.items.map((row) => toProject(row, servers.get(Number(row.id)) ?? [])) }
    },

    async findById(id: number, trx: Knex = knex): Promise<Project | null> {
      const row = await trx('projects').where('projects.id', id).first(COLUMNS)
      if (!row) return null
      const servers = await serversOf([id], trx)
      return toProject(row, servers.get(id) ?? [])
    },

    /** Whether a project other than `exceptId` holds this title: the friendly duplicate check (the unique index still decides races). */
    async titleTaken(title: string, exceptId: number | null, trx: Knex = knex): Promise<boolean> {
      const builder = trx('projects').where({ title })
      if (exceptId) builder.whereNot('id', exceptId)
      return !!(await builder.first('id'))
    },

    /** Inserts the project and its server links; the caller owns the transaction. */
    async create(input: ProjectInput, trx: Knex = knex): Promise<Project> {
      const now = new Date()
      const id = insertedId(await trx('projects').insert({ ...toRow(input), created_at: now, updated_at: now }))
      await replaceServers(id, input.server_ids, trx)
      return (await this.findById(id, trx)) as Project
    },

    /** Changes only the fields given; server_ids, when given, replaces the whole set. */
    async update(id: number, input: Partial<ProjectInput>, trx: Knex = knex): Promise<Project | null> {
      const changed = await trx('projects').where({ id }).update({ ...toRow(input), updated_at: new Date() })
      if (!changed) return null
      if (input.server_ids) await replaceServers(id, input.server_ids, trx)
      return this.findById(id, trx)
    },

    async remove(id: number, trx: Knex = knex): Promise<boolean> {
      // the foreign key cascades too; deleting the links first keeps that true on any engine
      await trx('project_servers').where({ project_id: id }).del()
      return (await trx('projects').where({ id }).del()) > 0
    },
  }
}

export type ProjectsRepository = ReturnType<typeof createProjectsRepository>
