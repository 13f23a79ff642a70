import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { HttpError } from '../web/errors.ts'
import { createAgentPackage } from './agent-package.ts'

/**
 * The console's address as the one asking sees it (behind a proxy, with
 * TRUST_PROXY, the proxy's): what a server that fetched the installer from
 * here can reach the console at.
 */
export function consoleOrigin(request: FastifyRequest): string {
  try {
    return new URL(`${request.protocol}://${request.host}`).origin
  } catch {
    throw new HttpError(400, `The Host header ${JSON.stringify(request.host)} is not a host name`)
  }
}

/**
 * The agent's downloads, public because a server fetching them has no
 * session: neither holds a secret (the token is given to the script, never
 * baked into it). `curl -fsSL CONSOLE/agent/install.sh | sudo LONGSHIP_TOKEN=… sh`
 */
const agentRoutes: FastifyPluginAsync = async (app) => {
  const pkg = createAgentPackage()
  const open = { config: { access: 'public' as const, identify: false as const } }

  app.get('/agent/install.sh', open, async (request, reply) => {
    const script = await pkg.installScript(consoleOrigin(request))
    // plain text, so a browser shows it to read rather than saving it; never cached, it names the agent's checksum
    return reply.type('text/plain; charset=utf-8').header('cache-control', 'no-cache').send(script)
  })

  app.get('/agent/longship-agent.mjs', open, async (_request, reply) => {
    const { code, sha256 } = await pkg.bundle()
    return reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').header('etag', `"${sha256}"`).send(code)
  })
}

export default agentRoutes
