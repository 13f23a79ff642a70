import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { createUsersRepository } from '../users/repository.ts'
import { hasRole } from '../web/auth.ts'
import { idParam, pageJson } from '../web/crud.ts'
import { HttpError, notFound } from '../web/errors.ts'
import { parseListQuery } from '../web/list-query.ts'
import { summarize } from './present.ts'
import { ASSET_SORTS, type Asset } from './repository.ts'
import { readAgentReport } from './schema.ts'

export function assetJson(asset: Asset) {
  return {
    id: asset.id,
    hostname: asset.hostname,
    server_id: asset.server_id,
    mode: asset.mode,
    collected_at: asset.collected_at?.toISOString() ?? null,
    created_at: asset.created_at.toISOString(),
    summary: summarize(asset),
    facts: asset.facts,
  }
}

/** Default scrape port for service discovery: node_exporter's. */
const DEFAULT_SD_PORT = 9100

/**
 * The CMDB's JSON API: agents report, scripts read the inventory, and
 * Prometheus discovers its targets.
 */
const assetApi: FastifyPluginAsync = async (app) => {
  const users = createUsersRepository(app.knex)
  const { service } = app.assets

  /**
   * An agent's report needs an enrollment token (which can do nothing
   * else) or an admin's API token. Checked before the body is read, so a
   * caller without a token cannot make the console parse a megabyte.
   */
  async function agentAuth(request: FastifyRequest, reply: FastifyReply) {
    const auth = request.headers.authorization
    const token = auth && /^Bearer\s+/i.test(auth) ? auth.replace(/^Bearer\s+/i, '').trim() : ''
    if (!token) return reply.code(401).send({ error: 'Send an enrollment token: Authorization: Bearer <token> (create one on /assets/enroll)' })
    if (await service.repo.useEnrollmentToken(token)) return
    const user = await users.findByToken(token)
    if (!user) return reply.code(401).send({ error: 'The token is not valid (revoked or mistyped)' })
    if (!hasRole(user, 'admin')) return reply.code(403).send({ error: 'Only an enrollment token or an admin API token may report assets' })
  }

  // the agent is not signed in and sends no cookie, so the session's auth and CSRF checks do not apply; agentAuth does
  app.post('/assets', { config: { identify: false, csrf: false }, onRequest: agentAuth }, async (request, reply) => {
    const read = readAgentReport(request.body)
    if (!read.ok) throw new HttpError(400, read.error)
    const { report } = read
    const outcome = await service.store({ mode: 'agent', hostname: report.hostname, previousHostname: report.previousHostname, agentId: report.agentId, facts: report.facts, errors: report.errors })
    if (outcome.kind === 'refused') return reply.code(409).send({ error: outcome.error, asset_id: outcome.assetId })
    return reply.code(outcome.kind === 'created' ? 201 : 200).send({
      ok: true,
      asset_id: outcome.assetId,
      hostname: outcome.hostname,
      result: outcome.kind,
      changes: outcome.changes.map((c) => c.summary),
      ...(outcome.warning ? { warning: outcome.warning } : {}),
    })
  })

  app.get('/assets', async (request) => {
    const page = await service.repo.list(parseListQuery(request.query, ASSET_SORTS, 'hostname'))
    return pageJson(page, assetJson)
  })

  app.get('/assets/:id', async (request) => {
    const asset = await service.repo.findById(idParam(request, 'Asset'))
    if (!asset) throw notFound('Asset')
    return assetJson(asset)
  })

  /**
   * Prometheus HTTP service discovery (http_sd_configs): one target group
   * per server, its address and the scrape port (?port=, default 9100),
   * labelled with its name and env; tags and facts as __meta_ labels for
   * relabelling.
   */
  app.get('/sd/prometheus', async (request) => {
    const raw = (request.query as Record<string, unknown>).port
    const port = raw === undefined ? DEFAULT_SD_PORT : Number(raw)
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new HttpError(400, 'port must be a TCP port (1-65535)')
    const rows = await service.repo.serversWithAssets()
    return rows.map((r) => {
      const address = String(r.address)
      const host = address.includes(':') ? `[${address}]` : address
      return {
        targets: [`${host}:${port}`],
        labels: {
          hostname: String(r.hostname),
          env: String(r.env),
          __meta_longship_server_id: String(r.id),
          __meta_longship_tags: String(r.tags ?? ''),
          __meta_longship_os: String(r.os_name ?? ''),
          __meta_longship_collection_mode: String(r.mode ?? ''),
        },
      }
    })
  })
}

export default assetApi
