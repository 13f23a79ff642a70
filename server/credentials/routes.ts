import type { FastifyPluginAsync, FastifyReply } from 'fastify'
import { createCredentialsService } from './service.ts'
import { CREDENTIAL_KINDS, CREDENTIAL_SORTS, type Credential } from './repository.ts'
import { parseListQuery } from '../web/list-query.ts'
import { bodyOf, done, idParam } from '../web/crud.ts'
import { notFound } from '../web/errors.ts'
import type { FieldErrors } from '../web/validate.ts'

// every credential page, even the list, is for admins: who may use which key is itself sensitive
const admin = { config: { role: 'admin' as const } }

/**
 * Only the fields a form may show again: secrets (key, passphrase, password)
 * are never echoed into a page, not even after a validation error.
 */
function shownValues(values: Record<string, unknown>): Record<string, unknown> {
  const text = (v: unknown) => (typeof v === 'string' ? v : '')
  return { name: text(values.name), kind: text(values.kind), notes: text(values.notes) }
}

/** The credential pages: list, show, and create / edit / delete forms. */
const credentialRoutes: FastifyPluginAsync<{ secretKey: Buffer }> = async (app, opts) => {
  const service = createCredentialsService(app.knex, opts.secretKey)

  /** `current` is the stored credential on an edit: its fingerprint and kind say what empty secret fields keep. */
  async function form(reply: FastifyReply, values: Record<string, unknown>, errors: FieldErrors, current: Credential | null, status = 200) {
    const shown = shownValues(values)
    const id = current?.id ?? null
    return reply.code(status).render('credentials/form', {
      title: id ? `Edit ${shown.name}` : 'New credential',
      id,
      values: shown,
      errors,
      kinds: CREDENTIAL_KINDS,
      current,
    })
  }

  async function findOr404(id: number) {
    const credential = await service.repo.findById(id)
    if (!credential) throw notFound('Credential')
    return credential
  }

  app.get('/credentials', admin, async (request, reply) => {
    const query = parseListQuery(request.query, CREDENTIAL_SORTS, 'name')
    const page = await service.repo.list(query)
    return reply.render('credentials/list', { title: 'Credentials', page, query })
  })

  app.get('/credentials/new', admin, async (_request, reply) => form(reply, { kind: 'key' }, {}, null))

  app.post('/credentials', admin, async (request, reply) => {
    const body = bodyOf(request)
    const result = await service.create(body)
    if (!result.ok) return form(reply, body, result.errors, null, 400)
    const { credential } = result
    await request.audit('credential.create', { type: 'credential', id: credential.id }, `${credential.name} (${credential.kind})`)
    return done(request, reply, `/credentials/${credential.id}`, `Credential ${credential.name} created.`)
  })

  app.get('/credentials/:id', admin, async (request, reply) => {
    const credential = await findOr404(idParam(request, 'Credential'))
    const servers = await service.repo.serversUsing(credential.id)
    return reply.render('credentials/show', { title: credential.name, credential, servers })
  })

  app.get('/credentials/:id/edit', admin, async (request, reply) => {
    const credential = await findOr404(idParam(request, 'Credential'))
    return form(reply, { ...credential }, {}, credential)
  })

  app.post('/credentials/:id', admin, async (request, reply) => {
    const id = idParam(request, 'Credential')
    const existing = await findOr404(id)
    const body = bodyOf(request)
    const result = await service.update(id, body)
    if (!result.ok) {
      if (result.notFound) throw notFound('Credential')
      return form(reply, body, result.errors, existing, 400)
    }
    const { credential } = result
    await request.audit('credential.update', { type: 'credential', id }, `${credential.name} (${credential.kind})`)
    return done(request, reply, `/credentials/${id}`, `Credential ${credential.name} saved.`)
  })

  app.get('/credentials/:id/delete', admin, async (request, reply) => {
    const credential = await findOr404(idParam(request, 'Credential'))
    const servers = await service.repo.serversUsing(credential.id)
    const names = servers.slice(0, 10).map((s) => s.hostname).join(', ') + (servers.length > 10 ? ', …' : '')
    const warning = servers.length
      ? `${servers.length} server${servers.length === 1 ? ' uses' : 's use'} this credential (${names}): they will lose their credential and cannot connect until you choose another one. This cannot be undone.`
      : 'No server uses it. This cannot be undone.'
    return reply.render('partials/confirm-delete', {
      label: `credential ${credential.name}`,
      warning,
      action: `/credentials/${credential.id}/delete`,
      cancel: `/credentials/${credential.id}`,
    })
  })

  app.post('/credentials/:id/delete', admin, async (request, reply) => {
    const id = idParam(request, 'Credential')
    const credential = await findOr404(id)
    // servers.credential_id is ON DELETE SET NULL: the servers stay, without a credential
    if (!(await service.repo.remove(id))) throw notFound('Credential')
    await request.audit('credential.delete', { type: 'credential', id }, `${credential.name} (${credential.kind})`)
    return done(request, reply, '/credentials', `Credential ${credential.name} deleted.`, { id })
  })
}

export default credentialRoutes
