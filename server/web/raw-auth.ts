import type { IncomingMessage } from 'node:http'
import { promisify } from 'node:util'
import type { Knex } from 'knex'
import type { Session } from 'fastify'
import fastifyCookie, { Signer } from '@fastify/cookie'
import type { KnexSessionStore } from '../db/session-store.ts'
import { createUsersRepository, type User } from '../users/repository.ts'

export const SESSION_COOKIE = 'longship.sid'

/**
 * One header straight from rawHeaders: `req.headers` would build an object
 * per request that then lives as long as the poll waits.
 */
export function rawHeader(req: IncomingMessage, name: string): string | undefined {
  const raw = req.rawHeaders
  for (let i = 0; i < raw.length; i += 2) if ((raw[i] as string).length === name.length && (raw[i] as string).toLowerCase() === name) return raw[i + 1]
  return undefined
}

/**
 * Who is calling, for the few raw Node handlers that run ahead of fastify
 * (the long poll): the same two ways as the auth hook, an API token or the
 * signed session cookie read through the same store and its cache.
 */
export function createRawAuthenticator(knex: Knex, store: KnexSessionStore, secret: string) {
  const users = createUsersRepository(knex)
  const signer = new Signer(secret)
  const getSession = promisify(store.get.bind(store)) as (sid: string) => Promise<Session | null | undefined>

  // a cookie's signature never changes its verdict, so each tab's cookie is
  // checked once (an HMAC per poll was the dearest part of a re-poll)
  const checked = new Map<string, string | null>()
  function verified(cookie: string): string | null {
    let sid = checked.get(cookie)
    if (sid === undefined) {
      const unsigned = signer.unsign(cookie)
      sid = unsigned.valid && unsigned.value ? unsigned.value : null
      if (checked.size >= 100_000) checked.clear()
      checked.set(cookie, sid)
    }
    return sid
  }

  return async function authenticate(request: IncomingMessage): Promise<User | null> {
    const auth = rawHeader(request, 'authorization')
    if (auth && /^Bearer\s+/i.test(auth)) return users.findByToken(auth.replace(/^Bearer\s+/i, '').trim())
    const header = rawHeader(request, 'cookie')
    if (!header) return null
    const value = fastifyCookie.parse(header)[SESSION_COOKIE]
    if (!value) return null
    const sid = verified(value)
    if (!sid) return null
    let userId = store.cachedUserId(sid)
    if (userId === undefined) userId = ((await getSession(sid)) as { userId?: number } | null | undefined)?.userId ?? null
    return userId ? users.findSignedIn(userId) : null
  }
}
