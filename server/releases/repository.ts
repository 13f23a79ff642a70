import type { Knex } from 'knex'
import { insertedId, isUniqueViolation, toDate } from '../db/connection.ts'
import { listPage, whereContains, type ListQuery, type Page } from '../web/list-query.ts'

export const RELEASE_STATUSES = ['pending', 'running', 'success', 'failed', 'cancelled', 'interrupted'] as const
export type ReleaseStatus = (typeof RELEASE_STATUSES)[number]
export const FINISHED: ReadonlySet<string> = new Set(['success', 'failed', 'cancelled', 'interrupted'])
export type ReleaseKind = 'deploy' | 'rollback'
export type HostStatus = 'pending' | 'running' | 'success' | 'failed' | 'skipped' | 'cancelled'
export type EventKind = 'log' | 'step' | 'status' | 'chat'

export interface Release {
  id: number
  project_id: number
  project_title: string
  project_env: string
  kind: ReleaseKind
  ref: string
  commit: string | null
  status: ReleaseStatus
  user_id: number | null
  username: string | null
  rollback_of: number | null
  artifact: string | null
  error: string | null
  cancel_requested_at: Date | null
  started_at: Date | null
  finished_at: Date | null
  created_at: Date
}

export interface ReleaseHost {
  id: number
  release_id: number
  server_id: number | null
  hostname: string
  status: HostStatus
  step: string | null
  error: string | null
  started_at: Date | null
  finished_at: Date | null
}

export interface ReleaseEvent {
  seq: number
  kind: EventKind
  host: string | null
  stream: string | null
  body: string
  author: string | null
  at: Date
}

export interface NewEvent {
  seq: number
  kind: EventKind
  host: string | null
  stream: string | null
  body: string
  user_id: number | null
  at: Date
}

/** Who holds a project's lock, for the "already running" message. */
export interface LockHolder {
  release_id: number
  username: string | null
  owner: string
  acquired_at: Date
  heartbeat_at: Date
}

export class ProjectLockedError extends Error {
  constructor(readonly holder: LockHolder) {
    super(`release #${holder.release_id} is running`)
  }
}

export const RELEASE_SORTS = ['created_at', 'status', 'project'] as const
export type ReleaseSort = (typeof RELEASE_SORTS)[number]

export interface ReleaseFilter {
  project_id?: number
  status?: string
  kind?: string
}

const RELEASE_COLUMNS = [
  'releases.id',
  'releases.project_id',
  'projects.title as project_title',
  'projects.env as project_env',
  'releases.kind',
  'releases.ref',
  'releases.commit',
  'releases.status',
  'releases.user_id',
  'users.username as username',
  'releases.rollback_of',
  'releases.artifact',
  'releases.error',
  'releases.cancel_requested_at',
  'releases.started_at',
  'releases.finished_at',
  'releases.created_at',
]

const num = (v: unknown) => (v === null || v === undefined ? null : Number(v))
const str = (v: unknown) => (v === null || v === undefined ? null : String(v))

function toRelease(row: Record<string, unknown>): Release {
  return {
    id: Number(row.id),
    project_id: Number(row.project_id),
    project_title: String(row.project_title ?? ''),
    project_env: String(row.project_env ?? ''),
    kind: String(row.kind) as ReleaseKind,
    ref: String(row.ref),
    commit: str(row.commit),
    status: String(row.status) as ReleaseStatus,
    user_id: num(row.user_id),
    username: str(row.username),
    rollback_of: num(row.rollback_of),
    artifact: str(row.artifact),
    error: str(row.error),
    cancel_requested_at: toDate(row.cancel_requested_at),
    started_at: toDate(row.started_at),
    finished_at: toDate(row.finished_at),
    created_at: toDate(row.created_at) as Date,
  }
}

function toHost(row: Record<string, unknown>): ReleaseHost {
  return {
    id: Number(row.id),
    release_id: Number(row.release_id),
    server_id: num(row.server_id),
    hostname: String(row.hostname),
    status: String(row.status) as HostStatus,
    step: str(row.step),
    error: str(row.error),
    started_at: toDate(row.started_at),
    finished_at: toDate(row.finished_at),
  }
}

function toEvent(row: Record<string, unknown>): ReleaseEvent {
  return {
    seq: Number(row.seq),
    kind: String(row.kind) as EventKind,
    host: str(row.host),
    stream: str(row.stream),
    body: String(row.body),
    author: str(row.author),
    at: toDate(row.created_at) as Date,
  }
}

/** Rows per INSERT: well under SQLite's 32,766 bound variables and MySQL's packet size at 7 columns. */
const INSERT_CHUNK = 500

export function createReleasesRepository(knex: Knex) {
  const selectReleases = (db: Knex) =>
    db('releases').join('projects', 'projects.id', 'releases.project_id').leftJoin('users', 'users.id', 'releases.user_id')
  const selectEvents = (db: Knex, releaseId: number) =>
    db('release_events as e')
      .leftJoin('users as u', 'u.id', 'e.user_id')
      .where('e.release_id', releaseId)
      .select('e.seq', 'e.kind', 'e.host', 'e.stream', 'e.body', 'e.created_at', 'u.username as author')

  async function lockHolder(projectId: number, db: Knex): Promise<LockHolder | null> {
    const row = (await db('release_locks as l')
      .join('releases as r', 'r.id', 'l.release_id')
      .leftJoin('users as u', 'u.id', 'r.user_id')
      .where('l.project_id', projectId)
      .first('l.release_id', 'l.owner', 'l.acquired_at', 'l.heartbeat_at', 'u.username')) as Record<string, unknown> | undefined
    if (!row) return null
    return {
      release_id: Number(row.release_id),
      username: str(row.username),
      owner: String(row.owner),
      acquired_at: toDate(row.acquired_at) as Date,
      heartbeat_at: toDate(row.heartbeat_at) as Date,
    }
  }

  return {
    /**
     * Inserts a pending release with its hosts and takes the project's lock,
     * all in one transaction: either the release exists and holds the lock,
     * or nothing was written and ProjectLockedError names the holder.
     */
    async create(
      input: { project_id: number; kind: ReleaseKind; ref: string; commit: string | null; user_id: number; rollback_of: number | null; artifact: string | null; hosts: Array<{ server_id: number; hostname: string }> },
      owner: string,
    ): Promise<number> {
      try {
        return await knex.transaction(async (trx) => {
          const now = new Date()
          const id = insertedId(
            await trx('releases').insert({
              project_id: input.project_id,
              kind: input.kind,
              ref: input.ref,
              commit: input.commit,
              status: 'pending',
              user_id: input.user_id,
              rollback_of: input.rollback_of,
              artifact: input.artifact,
              created_at: now,
            }),
          )
          await trx('release_locks').insert({ project_id: input.project_id, release_id: id, owner, acquired_at: now, heartbeat_at: now })
          for (let i = 0; i < input.hosts.length; i += INSERT_CHUNK) {
            await trx('release_hosts').insert(input.hosts.slice(i, i + INSERT_CHUNK).map((h) => ({ release_id: id, server_id: h.server_id, hostname: h.hostname, status: 'pending' })))
          }
          return id
        })
      } catch (err) {
        if (!isUniqueViolation(err)) throw err
        const holder = await lockHolder(input.project_id, knex)
        // released between the failed insert and this read: let the caller try again
        if (!holder) throw new Error('the project lock changed hands; try again', { cause: err })
        throw new ProjectLockedError(holder)
      }
    },

    lockHolder: (projectId: number) => lockHolder(projectId, knex),

    async releaseLock(releaseId: number): Promise<void> {
      await knex('release_locks').where({ release_id: releaseId }).del()
    },

    /** Renews the heartbeat of the locks this instance holds; returns the ids of those with a cancel asked. */
    async heartbeat(owner: string, releaseIds: number[]): Promise<number[]> {
      if (!releaseIds.length) return []
      await knex('release_locks').where({ owner }).whereIn('release_id', releaseIds).update({ heartbeat_at: new Date() })
      const rows = await knex('releases').whereIn('id', releaseIds).whereNotNull('cancel_requested_at').select('id')
      return (rows as Array<{ id: unknown }>).map((r) => Number(r.id))
    },

    /**
     * Releases that can no longer be running: unfinished ones whose lock is
     * this instance's (it just started, so whatever it ran before died with
     * it), whose lock's heartbeat is older than `staleBefore` (another
     * instance died), or that hold no lock at all.
     */
    async orphaned(owner: string, staleBefore: Date): Promise<number[]> {
      const rows = await knex('releases as r')
        .leftJoin('release_locks as l', 'l.release_id', 'r.id')
        .whereIn('r.status', ['pending', 'running'])
        .andWhere((q) => q.whereNull('l.release_id').orWhere('l.owner', owner).orWhere('l.heartbeat_at', '<', staleBefore))
        .select('r.id')
      return (rows as Array<{ id: unknown }>).map((r) => Number(r.id))
    },

    async findById(id: number): Promise<Release | null> {
      const row = await selectReleases(knex).where('releases.id', id).first(RELEASE_COLUMNS)
      return row ? toRelease(row as Record<string, unknown>) : null
    },

    async list(query: ListQuery<ReleaseSort>, filter: ReleaseFilter = {}): Promise<Page<Release>> {
      const builder = selectReleases(knex)
      if (filter.project_id) builder.where('releases.project_id', filter.project_id)
      if (filter.status) builder.where('releases.status', filter.status)
      if (filter.kind) builder.where('releases.kind', filter.kind)
      whereContains(builder, ['releases.ref', 'releases.commit', 'projects.title'], query.q)
      const sort = query.sort === 'project' ? 'projects.title' : `releases.${query.sort}`
      return listPage(knex, builder, { ...query, sort }, RELEASE_COLUMNS, toRelease, { uniqueSorts: [] })
    },

    async hosts(releaseId: number): Promise<ReleaseHost[]> {
      const rows = await knex('release_hosts').where({ release_id: releaseId }).orderBy('id')
      return (rows as Array<Record<string, unknown>>).map(toHost)
    },

    async update(id: number, fields: Partial<Pick<Release, 'status' | 'commit' | 'artifact' | 'error' | 'started_at' | 'finished_at' | 'cancel_requested_at'>> & { cancelled_by?: number | null }): Promise<void> {
      await knex('releases').where({ id }).update(fields)
    },

    /** Sets a cancel request unless the release already finished; false when it had. */
    async requestCancel(id: number, userId: number): Promise<boolean> {
      const changed = await knex('releases').where({ id }).whereIn('status', ['pending', 'running']).update({ cancel_requested_at: new Date(), cancelled_by: userId })
      return changed > 0
    },

    async updateHost(id: number, fields: Partial<Pick<ReleaseHost, 'status' | 'step' | 'error' | 'started_at' | 'finished_at'>>): Promise<void> {
      await knex('release_hosts').where({ id }).update(fields)
    },

    /** Hosts still pending or running when a release ends early. */
    async closeHosts(releaseId: number, status: HostStatus): Promise<void> {
      await knex('release_hosts').where({ release_id: releaseId }).whereIn('status', ['pending', 'running']).update({ status, finished_at: new Date() })
    },

    async insertEvents(releaseId: number, events: NewEvent[]): Promise<void> {
      if (!events.length) return
      await knex.transaction(async (trx) => {
        for (let i = 0; i < events.length; i += INSERT_CHUNK) {
          await trx('release_events').insert(
            events.slice(i, i + INSERT_CHUNK).map((e) => ({ release_id: releaseId, seq: e.seq, kind: e.kind, host: e.host, stream: e.stream, body: e.body, user_id: e.user_id, created_at: e.at })),
          )
        }
      })
    },

    /** Events after a cursor (up to `upTo` when given), oldest first. */
    async eventsAfter(releaseId: number, after: number, upTo: number | null, limit: number, kinds?: EventKind[], host?: string): Promise<ReleaseEvent[]> {
      const query = selectEvents(knex, releaseId).andWhere('e.seq', '>', after).orderBy('e.seq').limit(limit)
      if (upTo !== null) query.andWhere('e.seq', '<=', upTo)
      if (kinds) query.whereIn('e.kind', kinds)
      if (host !== undefined) query.andWhere('e.host', host)
      return (await query).map(toEvent)
    },

    /** The last `limit` events before `before` (exclusive; null for the end), oldest first: the page's tail window. */
    async eventsBefore(releaseId: number, before: number | null, limit: number, host?: string): Promise<ReleaseEvent[]> {
      const query = selectEvents(knex, releaseId).orderBy('e.seq', 'desc').limit(limit)
      if (before !== null) query.andWhere('e.seq', '<', before)
      if (host !== undefined) query.andWhere('e.host', host)
      return (await query).map(toEvent).reverse()
    },

    async stepEvents(releaseId: number): Promise<ReleaseEvent[]> {
      return (await selectEvents(knex, releaseId).andWhere('e.kind', 'step').orderBy('e.seq')).map(toEvent)
    },

    async head(releaseId: number): Promise<number> {
      const row = (await knex('release_events').where({ release_id: releaseId }).max({ seq: 'seq' }).first()) as { seq: unknown } | undefined
      return Number(row?.seq ?? 0)
    },

    /** Successful releases of a project whose artifact is kept: what a rollback can go back to. */
    async successful(projectId: number, limit: number): Promise<Release[]> {
      const rows = await selectReleases(knex)
        .where('releases.project_id', projectId)
        .andWhere('releases.status', 'success')
        .andWhere('releases.kind', 'deploy')
        .orderBy('releases.id', 'desc')
        .limit(limit)
        .select(RELEASE_COLUMNS)
      return (rows as Array<Record<string, unknown>>).map(toRelease)
    },

    /** Artifacts of a project's releases, newest first, for keep-N on the console. */
    async artifacts(projectId: number): Promise<Array<{ id: number; artifact: string; status: string }>> {
      const rows = await knex('releases').where({ project_id: projectId, kind: 'deploy' }).whereNotNull('artifact').orderBy('id', 'desc').select('id', 'artifact', 'status')
      return (rows as Array<Record<string, unknown>>).map((r) => ({ id: Number(r.id), artifact: String(r.artifact), status: String(r.status) }))
    },
  }
}

export type ReleasesRepository = ReturnType<typeof createReleasesRepository>
