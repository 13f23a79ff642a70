import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { bodyOf, isAjax, apiBody } from '../web/crud.ts'
import { HttpError } from '../web/errors.ts'
import { messageJson } from './repository.ts'
import { createRoomService, HISTORY, MAX_BATCH, MAX_MESSAGE_LENGTH, readMessage, ROOM_TOPIC } from './service.ts'

/**
 * The team room: /room (history, then the live tail through the poll), a
 * plain form post that works without JavaScript, and /api/room/messages for
 * bots and scripts.
 */
const roomRoutes: FastifyPluginAsync = async (app) => {
  const room = createRoomService(app.knex, app.hub)

  async function page(reply: FastifyReply, draft = '', error: string | null = null, status = 200) {
    const messages = await room.repo.recent(HISTORY)
    // from the newest message shown; none shown means none stored, so every message is after 0
    // (a head read now could already count a message posted since, and skip it)
    const cursor = messages.at(-1)?.id ?? 0
    return reply.code(status).render('room/index', { title: 'Room', messages, cursor, topic: ROOM_TOPIC, draft, error, maxLength: MAX_MESSAGE_LENGTH })
  }

  app.get('/room', async (_request, reply) => page(reply))

  app.post('/room', async (request: FastifyRequest, reply) => {
    const read = readMessage(bodyOf(request).body)
    if ('error' in read) {
      if (isAjax(request)) throw new HttpError(400, read.error, { body: read.error })
      return page(reply, String(bodyOf(request).body ?? ''), read.error, 400)
    }
    const [message] = await room.post(request.user!.id, [read.body])
    if (isAjax(request)) return reply.send({ ok: true, message: messageJson(message!) })
    return reply.redirect(`/room#m${message!.id}`)
  })

  app.get('/api/room/messages', async (request) => {
    const query = request.query as Record<string, string | undefined>
    const after = query.after === undefined ? null : Number(query.after)
    if (after !== null && !(Number.isSafeInteger(after) && after >= 0)) throw new HttpError(400, 'after must be a whole number >= 0', { after: 'not a whole number' })
    const messages = after === null ? await room.repo.recent(HISTORY) : await room.repo.after(after, null, HISTORY)
    return { items: messages.map(messageJson) }
  })

  /** `{"body": "..."}` or `{"messages": ["...", ...]}` (up to 100, posted in order). */
  app.post('/api/room/messages', async (request, reply) => {
    const body = apiBody(request)
    const raw = Array.isArray(body.messages) ? body.messages : [body.body]
    if (raw.length < 1 || raw.length > MAX_BATCH) throw new HttpError(400, `messages must hold 1 to ${MAX_BATCH} messages`, { messages: 'wrong count' })
    const bodies: string[] = []
    for (const [i, item] of raw.entries()) {
      const read = readMessage(item)
      if ('error' in read) throw new HttpError(400, Array.isArray(body.messages) ? `messages[${i}]: ${read.error}` : read.error, { [Array.isArray(body.messages) ? `messages[${i}]` : 'body']: read.error })
      bodies.push(read.body)
    }
    const messages = await room.post(request.user!.id, bodies)
    return reply.code(201).send({ items: messages.map(messageJson) })
  })
}

export default roomRoutes
