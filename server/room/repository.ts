import type { Knex } from 'knex'
import { insertedId, toDate } from '../db/connection.ts'

export interface RoomMessage {
  id: number
  user_id: number | null
  /** The author's username, or null once the user was deleted. */
  author: string | null
  body: string
  created_at: Date
}

/** What a message looks like on the wire (poll events and the API). */
export interface RoomMessageJson {
  id: number
  author: string | null
  body: string
  at: string
}

export function messageJson(message: RoomMessage): RoomMessageJson {
  return { id: message.id, author: message.author, body: message.body, at: message.created_at.toISOString() }
}

function toMessage(row: Record<string, unknown>): RoomMessage {
  return {
    id: Number(row.id),
    user_id: row.user_id === null || row.user_id === undefined ? null : Number(row.user_id),
    author: (row.author as string | null) ?? null,
    body: String(row.body),
    created_at: toDate(row.created_at) as Date,
  }
}

export function createRoomRepository(knex: Knex) {
  const select = (db: Knex) =>
    db('room_messages as m').leftJoin('users as u', 'u.id', 'm.user_id').select('m.id', 'm.user_id', 'm.body', 'm.created_at', 'u.username as author')

  return {
    /** Inserts messages in the order given (one statement each, so ids follow that order). */
    async add(userId: number, bodies: string[], trx: Knex = knex): Promise<RoomMessage[]> {
      const ids: number[] = []
      const now = new Date()
      for (const body of bodies) ids.push(insertedId(await trx('room_messages').insert({ user_id: userId, body, created_at: now })))
      const rows = await select(trx).whereIn('m.id', ids).orderBy('m.id')
      return rows.map(toMessage)
    },

    /** The newest `limit` messages, oldest first. */
    async recent(limit: number): Promise<RoomMessage[]> {
      const rows = await select(knex).orderBy('m.id', 'desc').limit(limit)
      return rows.map(toMessage).reverse()
    },

    /** Messages after a cursor (up to `upTo` when given), oldest first: gap fill for the poll. */
    async after(after: number, upTo: number | null, limit: number): Promise<RoomMessage[]> {
      const query = select(knex).where('m.id', '>', after).orderBy('m.id').limit(limit)
      if (upTo !== null) query.andWhere('m.id', '<=', upTo)
      return (await query).map(toMessage)
    },

    async head(): Promise<number> {
      const row = (await knex('room_messages').max({ id: 'id' }).first()) as { id: number | string | null } | undefined
      return Number(row?.id ?? 0)
    },
  }
}
