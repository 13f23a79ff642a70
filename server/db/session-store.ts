import type { Knex } from 'knex'
import type { SessionStore } from '@fastify/session'
import type { Session } from 'fastify'

type Callback = (err?: unknown) => void

/**
 * Ends every session of a user but the one given (the caller's own, after
 * they changed their password); with no exception, all of them.
 */
export async function destroyUserSessions(knex: Knex, userId: number, exceptSid?: string): Promise<number> {
  const query = knex('sessions').where({ user_id: userId })
  if (exceptSid) query.whereNot({ sid: exceptSid })
  return query.del()
}
type GetCallback = (err: unknown, session?: Session | null) => void

/**
 * Sessions live in the database so a restart (or a second instance) logs
 * nobody out. Expired rows are ignored on read and purged periodically.
 */
export class KnexSessionStore implements SessionStore {
  private timer: NodeJS.Timeout | undefined

  constructor(
    private readonly knex: Knex,
    private readonly defaultMaxAgeMs: number,
  ) {}

  startPurging(everyMs = 15 * 60 * 1000): void {
    this.timer = setInterval(() => {
      this.purge().catch(() => undefined)
    }, everyMs)
    this.timer.unref()
  }

  stopPurging(): void {
    if (this.timer) clearInterval(this.timer)
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
    this.knex('sessions')
      .insert(row)
      .onConflict('sid')
      .merge(['data', 'expires_at', 'user_id'])
      .then(() => callback(), callback)
  }

  get(sid: string, callback: GetCallback): void {
    this.knex('sessions')
      .where({ sid })
      .andWhere('expires_at', '>', new Date())
      .first('data')
      .then((row: { data: string } | undefined) => callback(null, row ? (JSON.parse(row.data) as Session) : null), callback)
  }

  destroy(sid: string, callback: Callback): void {
    this.knex('sessions')
      .where({ sid })
      .del()
      .then(() => callback(), callback)
  }
}
