import type { FastifyInstance } from 'fastify'
import { createCredentialsService } from '../../server/credentials/service.ts'
import { createServersRepository, type Server } from '../../server/servers/repository.ts'
import type { SshHost } from './sshd.ts'

/**
 * The console's side of loopback sshd hosts: one key credential and one
 * server row per host, named by `hostname(i)`, as an admin would add them.
 */
export async function serversFor(app: FastifyInstance, secretKey: Buffer, hosts: SshHost[], hostname: (i: number) => string = (i) => `node${i + 1}`): Promise<Server[]> {
  const credentials = createCredentialsService(app.knex, secretKey)
  const repo = createServersRepository(app.knex)
  const servers: Server[] = []
  for (const [i, host] of hosts.entries()) {
    const saved = await credentials.create({ name: `key for ${hostname(i)}`, kind: 'key', private_key: host.privateKey })
    if (!saved.ok) throw new Error(`credential for ${hostname(i)}: ${JSON.stringify(saved.errors)}`)
    servers.push(await repo.create({ hostname: hostname(i), address: host.host, port: host.port, username: host.username, credential_id: saved.credential.id, env: 'test', tags: [], notes: '' }))
  }
  return servers
}
