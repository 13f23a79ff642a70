import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { bodyOf, done, idParam, isAjax } from '../web/crud.ts'
import { HttpError, notFound } from '../web/errors.ts'
import { parseListQuery } from '../web/list-query.ts'
import { FieldReader, type FieldErrors } from '../web/validate.ts'
import { consoleOrigin } from './agent-routes.ts'
import { createInventoryCsv, type ImportProblem } from './csv.ts'
import { describeChange, summarize } from './present.ts'
import { ASSET_SORTS, type Asset, type EnrollmentToken } from './repository.ts'
import { COLLECT_TOPIC } from './ssh-collect.ts'
import { formatDiskSize, formatMemorySize } from './sizes.ts'

const admin = { config: { role: 'admin' as const } }
const deployer = { config: { role: 'deployer' as const } }

/** What the templates need to show sizes the way the history writes them. */
const formats = { disk: formatDiskSize, memory: formatMemorySize }

/** A CSV import: the file part of the multipart form, the pasted text, or a text/csv body from a script. */
function csvText(request: FastifyRequest): string {
  if (typeof request.body === 'string') return request.body
  const body = bodyOf(request)
  const file = body.csv_file
  const fromFile = Buffer.isBuffer(file) ? file.toString('utf8') : ''
  const pasted = typeof body.csv === 'string' ? body.csv : ''
  return fromFile.trim() ? fromFile : pasted
}

/** The CMDB pages: the inventory, one asset with its history, collection errors, enrollment, SSH collection, CSV. */
const assetRoutes: FastifyPluginAsync<{ bodyLimit: number }> = async (app, opts) => {
  const { service, ssh, ansible } = app.assets
  const repo = service.repo
  const csv = createInventoryCsv(app.knex, app.hub)

  // scripts post the CSV as it is (curl --data-binary @inventory.csv -H 'content-type: text/csv')
  app.addContentTypeParser('text/csv', { parseAs: 'string', bodyLimit: opts.bodyLimit }, (_request, body, next) => next(null, body))

  async function rowHtml(reply: FastifyReply, asset: Asset): Promise<string> {
    return reply.viewAsync('assets/row', { a: asset, s: summarize(asset) })
  }

  app.get('/assets', async (request, reply) => {
    const query = parseListQuery(request.query, ASSET_SORTS, 'hostname')
    // the cursor before the rows: a collection stored meanwhile is then sent again, not skipped
    const liveCursor = app.hub.head('assets')
    const page = await repo.list(query)
    const rows = page.items.map((a) => ({ a, s: summarize(a) }))
    return reply.render('assets/list', {
      title: 'Assets',
      page,
      rows,
      query,
      // the newer of the two modes' runs: both report on the same topic
      run: [ssh.latest(), ansible.latest()].filter((r) => r !== null).sort((a, b) => b.startedAt.getTime() - a.startedAt.getTime())[0] ?? null,
      ansibleInstalled: ansible.installed(),
      liveCursor,
      runCursor: app.hub.head(COLLECT_TOPIC),
      scripts: ['/public/js/live-list.js', '/public/js/assets.js'],
    })
  })

  app.get('/assets/:id/row', async (request, reply) => {
    const asset = await repo.findById(idParam(request, 'Asset'))
    if (!asset) throw notFound('Asset')
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(await rowHtml(reply, asset))
  })

  async function detailData(asset: Asset) {
    const changes = (await repo.changes(asset.id)).map((c) => ({ ...c, summary: describeChange(c) }))
    const server = asset.server_id ? ((await app.knex('servers').where({ id: asset.server_id }).first('id', 'hostname', 'address')) as { id: number; hostname: string; address: string } | undefined) : undefined
    return { asset, s: summarize(asset), changes, errors: await repo.errorsFor(asset.id), server: server ?? null, formats }
  }

  app.get('/assets/:id', async (request, reply) => {
    const liveCursor = app.hub.head('assets')
    const asset = await repo.findById(idParam(request, 'Asset'))
    if (!asset) throw notFound('Asset')
    return reply.render('assets/show', { title: asset.hostname, ...(await detailData(asset)), liveCursor, scripts: ['/public/js/assets.js'] })
  })

  // the open asset page fetches this again when a collection lands
  app.get('/assets/:id/details', async (request, reply) => {
    const asset = await repo.findById(idParam(request, 'Asset'))
    if (!asset) throw notFound('Asset')
    const html = await reply.viewAsync('assets/details', await detailData(asset))
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(html)
  })

  app.get('/assets/errors', async (request, reply) => {
    const query = parseListQuery(request.query, ['created_at'] as const, 'created_at', 'desc')
    // the cursor before the rows: an error stored meanwhile is then sent again, not skipped
    const liveCursor = app.hub.head('asset-errors')
    return reply.render('assets/errors', {
      title: 'Collection errors',
      page: await repo.listErrors(query),
      query,
      liveCursor,
      scripts: ['/public/js/live-list.js'],
    })
  })

  // the open errors page fetches each new error's row
  app.get('/assets/errors/:id/row', async (request, reply) => {
    const error = await repo.findError(idParam(request, 'Collection error'))
    if (!error) throw notFound('Collection error')
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(await reply.viewAsync('assets/error-row', { e: error }))
  })

  async function enrollPage(request: FastifyRequest, reply: FastifyReply, extras: { status?: number; values?: Record<string, unknown>; errors?: FieldErrors; newToken?: { token: string; record: EnrollmentToken } } = {}) {
    if (extras.newToken) reply.header('cache-control', 'no-store')
    const origin = consoleOrigin(request)
    return reply.code(extras.status ?? 200).render('assets/enroll', { title: 'Enroll agents', tokens: await repo.listEnrollmentTokens(), values: extras.values ?? {}, errors: extras.errors ?? {}, newToken: extras.newToken ?? null, origin })
  }

  app.get('/assets/enroll', admin, async (request, reply) => enrollPage(request, reply))

  app.post('/assets/enroll', admin, async (request, reply) => {
    const body = bodyOf(request)
    const r = new FieldReader(body)
    const name = r.text('name', { label: 'Token name', required: true, max: 64 })
    if (!r.ok) return enrollPage(request, reply, { status: 400, values: body, errors: r.errors })
    const created = await repo.createEnrollmentToken(name, request.user?.id ?? null)
    await request.audit('asset.enroll-token.create', { type: 'enrollment_token', id: created.record.id }, name)
    if (isAjax(request)) return reply.code(201).send({ ok: true, token: created.token, id: created.record.id })
    return enrollPage(request, reply, { status: 201, newToken: created })
  })

  app.post('/assets/enroll/:id/revoke', admin, async (request, reply) => {
    const revoked = await repo.revokeEnrollmentToken(idParam(request, 'Enrollment token'))
    if (!revoked) throw notFound('Enrollment token')
    await request.audit('asset.enroll-token.revoke', { type: 'enrollment_token', id: revoked.id }, revoked.name)
    return done(request, reply, '/assets/enroll', `Enrollment token ${revoked.name} revoked: agents using it are refused from now on.`)
  })

  // one server (server_id) or every server; the run goes on in the background and the page follows it live
  app.post('/assets/collect', deployer, async (request, reply) => {
    const body = bodyOf(request)
    let ids: number[] | null = null
    if (body.server_id !== undefined && body.server_id !== '') {
      const r = new FieldReader(body)
      const id = r.integer('server_id', { label: 'Server', min: 1, max: 2_147_483_647 })
      if (!r.ok) throw new HttpError(400, r.errors.server_id as string)
      if (!(await app.knex('servers').where({ id }).first('id'))) throw notFound('Server')
      ids = [id]
    }
    const withAnsible = body.mode === 'ansible'
    if (withAnsible && !ansible.installed()) throw new HttpError(409, "Ansible is not installed on the console's machine (apt-get install ansible)")
    const run = await (withAnsible ? ansible : ssh).start(ids, request.user?.username ?? '')
    await request.audit('asset.collect', { type: 'server', id: ids?.[0] ?? null }, `${ids ? `collect one server` : `collect all ${run.total} servers`}${withAnsible ? ' with Ansible' : ''}`)
    const back = typeof body.back === 'string' && /^\/assets(\/\d+)?$/.test(body.back) ? body.back : '/assets'
    const how = withAnsible ? 'with Ansible' : 'over SSH'
    return done(request, reply, back, run.total ? `Collecting ${run.total} server${run.total === 1 ? '' : 's'} ${how} (run ${run.id}).` : 'There are no servers to collect.', { run: run.id })
  })

  app.get('/assets/collect/:id', async (request, reply) => {
    const id = idParam(request, 'Collection run')
    const run = ssh.find(id) ?? ansible.find(id)
    if (!run) throw notFound('Collection run')
    return reply.send(run)
  })

  app.get('/assets.csv', async (_request, reply) => {
    const stamp = new Date().toISOString().slice(0, 10)
    return reply
      .type('text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="longship-inventory-${stamp}.csv"`)
      .header('cache-control', 'no-store')
      .send(await csv.exportCsv())
  })

  async function importPage(reply: FastifyReply, extras: { status?: number; problems?: ImportProblem[]; text?: string } = {}) {
    return reply.code(extras.status ?? 200).render('assets/import', { title: 'Import servers', problems: extras.problems ?? [], text: extras.text ?? '' })
  }

  app.get('/assets/import', admin, async (_request, reply) => importPage(reply))

  app.post('/assets/import', admin, async (request, reply) => {
    const text = csvText(request)
    const result = await csv.importCsv(text)
    if (!result.ok) {
      if (isAjax(request) || typeof request.body === 'string') return reply.code(400).send({ error: 'Nothing was imported: the file has problems', details: result.problems })
      return importPage(reply, { status: 400, problems: result.problems, text: text.length <= 100_000 ? text : '' })
    }
    await request.audit('asset.import', { type: 'server' }, `${result.created} created, ${result.updated} updated`)
    const message = `Imported: ${result.created} server${result.created === 1 ? '' : 's'} created, ${result.updated} updated.`
    if (typeof request.body === 'string') return reply.send({ ok: true, message, created: result.created, updated: result.updated })
    return done(request, reply, '/servers', message, { created: result.created, updated: result.updated })
  })
}

export default assetRoutes
