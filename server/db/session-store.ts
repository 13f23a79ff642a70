import type { Knex } from 'knex'
import { toDate } from './connection.ts'
import type { SessionStore } from '@fastify/session'
import type { Session } from 'fastify'

type Callback = (err?: unknown) => void

/** Stores of this process, so ending a user's sessions also empties their read caches. */
const liveStores = new Set<KnexSessionStore>()

/**
 * Ends every session of a user but the one given (the caller's own, after
 * they changed their password); with no exception, all of them.
 */
export async function destroyUserSessions(knex: Knex, userId: number, exceptSid?: string): Promise<number> {
  const query = knex('sessions').where({ user_id: userId })
  if (exceptSid) query.whereNot({ sid: exceptSid })
  const removed = await query.del()
  for (const store of liveStores) {
    store.forgetUser(userId, exceptSid)
    store.onChange?.({ userId, exceptSid })
  }
  return removed
}

interface Cached {
  json: string
  userId: number | null
  until: number
}
type GetCallback = (err: unknown, session?: Session | null) => void

/** A session written or ended (`sid`), or all of a user's but one ended. */
export type SessionChange = { sid: string } | { userId: number; exceptSid?: string | undefined }

/**
 * Sessions live in the database so a restart (or a second instance) logs
 * nobody out. Expired rows are ignored on read and purged periodically.
 *
 * Reads are cached for a few seconds: every tab re-polls after each answer,
 * and a database read per poll would cost more than the poll itself. Every
 * write, sign-out and "end this user's sessions" empties the cache of this
 * process at once and, through `onChange` (the Redis relay), of the other
 * instances a moment later; an instance that cannot hear of it (no relay)
 * notices within `cacheMs`.
 */
export class KnexSessionStore implements SessionStore {
  private timer: NodeJS.Timeout | undefined
  private readonly cache = new Map<string, Cached>()
  /** Reads under way by sid: a page's requests (a page, its poll, its scripts) that miss together share one read. */
  private readonly reading = new Map<string, GetCallback[]>()
  private static readonly MAX_CACHED = 50_000
  /** Told of every change made here, for the other instances' caches (app.ts wires it to the relay). */
  onChange: ((change: SessionChange) => void) | null = null

  constructor(
    private readonly knex: Knex,
    private readonly defaultMaxAgeMs: number,
    private readonly cacheMs = 5_000,
  ) {
    liveStores.add(this)
  }

  private remember(sid: string, json: string, userId: number | null, expiresAt: Date): void {
    if (this.cacheMs <= 0) return
    this.cache.delete(sid)
    if (this.cache.size >= KnexSessionStore.MAX_CACHED) this.cache.delete(this.cache.keys().next().value as string)
    this.cache.set(sid, { json, userId, until: Math.min(Date.now() + this.cacheMs, expiresAt.getTime()) })
  }

  /**
   * The user of a session straight from the read cache, without parsing it:
   * undefined when the cache cannot tell (ask `get`), null for no user.
   */
  cachedUserId(sid: string): number | null | undefined {
    const cached = this.cache.get(sid)
    return cached && cached.until > Date.now() ? cached.userId : undefined
  }

  forgetUser(userId: number, exceptSid?: string): void {
    for (const [sid, entry] of this.cache) if (entry.userId === userId && sid !== exceptSid) this.cache.delete(sid)
  }

  /** Another instance changed sessions: drop what this one keeps of them. */
  forget(change: SessionChange): void {
    if ('sid' in change) this.cache.delete(change.sid)
    else this.forgetUser(change.userId, change.exceptSid)
  }

  startPurging(everyMs = 15 * 60 * 1000): void {
    this.timer = setInterval(() => {
      this.purge().catch(() => undefined)
    }, everyMs)
    this.timer.unref()
  }

  stopPurging(): void {
    if (this.timer) clearInterval(this.timer)
    liveStores.delete(this)
    this.cache.clear()
  }

  async purge(now = new Date()): Promise<number> {
    return this.knex('sessions').where('expires_at', '<', now).del()
  }

  private expiresAt(session: Session): Date {
    const expires = (session.cookie as { expires?: Date | string | null }).expires
    return expires ? new Date(expires) : new Date(Date.now() + this.defaultMaxAgeMs)
  }

  set(sid: string, session: Session, callback: Callback): void {
    const userId = (session as { userId?: number }).userId ?? null
    const row = { sid, data: JSON.stringify(session), expires_at: this.expiresAt(session), user_id: userId }
    this.cache.delete(sid)
    // a read already under way may return the old copy to those who asked before; nobody joins it now
    this.reading.delete(sid)
    this.knex('sessions')
      .insert(row)
      .onConflict('sid')
      .merge(['data', 'expires_at', 'user_id'])
      .then(() => {
        this.remember(sid, row.data, userId, row.expires_at)
        this.onChange?.({ sid })
        callback()
      }, callback)
  }

  get(sid: string, callback: GetCallback): void {
    const cached = this.cache.get(sid)
    if (cached && cached.until > Date.now()) {
      // parsed afresh each time: the session plugin changes the object it gets
      callback(null, JSON.parse(cached.json) as Session)
      return
    }
    const joined = this.reading.get(sid)
    if (joined) {
      joined.push(callback)
      return
    }
    const waiting = [callback]
    this.reading.set(sid, waiting)
    const answer = (err: unknown, json: string | null) => {
      if (this.reading.get(sid) === waiting) this.reading.delete(sid)
      for (const cb of waiting) {
        // parsed afresh for each: the session plugin changes the object it gets
        if (err) cb(err)
        else cb(null, json === null ? null : (JSON.parse(json) as Session))
      }
    }
    this.knex('sessions')
      .where({ sid })
      .andWhere('expires_at', '>', new Date())
      .first('data', 'user_id', 'expires_at')
      .then(
        (row: { data: string; user_id: number | null; expires_at: unknown } | undefined) => {
          if (!row) {
            this.cache.delete(sid)
            answer(null, null)
            return
          }
          // a write since the read began (set or destroy) is newer: keep that, not this
          if (this.reading.get(sid) === waiting) this.remember(sid, row.data, row.user_id === null ? null : Number(row.user_id), toDate(row.expires_at) ?? new Date())
          answer(null, row.data)
        },
        (err: unknown) => answer(err, null),
      )
  }

  destroy(sid: string, callback: Callback): void {
    this.cache.delete(sid)
    this.reading.delete(sid)
    this.knex('sessions')
      .where({ sid })
      .del()
      .then(() => {
        this.onChange?.({ sid })
        callback()
      }, callback)
  }
}
