import type { Knex } from 'knex'
import type { Hub } from '../realtime/hub.ts'
import { createRoomRepository, messageJson, type RoomMessage } from './repository.ts'

export const ROOM_TOPIC = 'room'
export const MAX_MESSAGE_LENGTH = 2000
/** Messages one API call may post at once. */
export const MAX_BATCH = 100
export const HISTORY = 100

/** The message as typed, or what is wrong with it. */
export function readMessage(raw: unknown): { body: string } | { error: string } {
  if (typeof raw !== 'string') return { error: 'Write a message' }
  const body = raw.replace(/\r\n?/g, '\n').trim()
  if (!body) return { error: 'Write a message' }
  if (body.includes('\0')) return { error: 'The message holds a NUL character' }
  if ([...body].length > MAX_MESSAGE_LENGTH) return { error: `A message is at most ${MAX_MESSAGE_LENGTH} characters` }
  return { body }
}

/**
 * Posting: insert, then publish with the row's id as the topic sequence.
 * Posts are chained so that ids reach the hub in the order the database gave
 * them; a tab acknowledging 11 must never receive 10 afterwards.
 */
export function createRoomService(knex: Knex, hub: Hub) {
  const repo = createRoomRepository(knex)
  let chain: Promise<unknown> = Promise.resolve()

  hub.registerKind({
    name: ROOM_TOPIC,
    authorize: () => true, // every signed-in user is in the room
    backfill: async (_topic, after, upTo, limit) => (await repo.after(after, upTo, limit)).map((m) => ({ seq: m.id, data: messageJson(m) })),
    head: () => repo.head(),
  })

  return {
    repo,
    post(userId: number, bodies: string[]): Promise<RoomMessage[]> {
      const run = chain.then(async () => {
        const messages = await knex.transaction((trx) => repo.add(userId, bodies, trx))
        for (const message of messages) hub.publish(ROOM_TOPIC, messageJson(message), message.id)
        return messages
      })
      chain = run.catch(() => undefined)
      return run
    },
  }
}
