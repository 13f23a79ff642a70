import type { Knex } from 'knex'
import { loadSecret } from '../credentials/service.ts'
import { connect } from '../ssh/runner.ts'
import type { ServersRepository } from './repository.ts'

export type ConnectionTestResult =
  | { ok: true; output: string; fingerprint: string; pinnedNow: boolean; ms: number }
  | { ok: false; error: string; ms: number }

/**
 * The "test connection" button: connect with the server's credential and
 * pinned host key, run `uname -a`, and pin the key when none was. A failure
 * is a result with the reason in words (refused, timed out, authentication,
 * changed host key), never an exception for the page to turn into a 500.
 */
export async function testConnection(knex: Knex, secretKey: Buffer, servers: ServersRepository, id: number, timeoutMs: number): Promise<ConnectionTestResult | null> {
  const [server] = await servers.forSsh([id])
  if (!server) return null
  const started = Date.now()
  const ms = () => Date.now() - started
  if (server.credential_id === null) return { ok: false, error: `${server.hostname} has no credential: pick one on its edit page`, ms: 0 }
  let conn
  try {
    const secret = await loadSecret(knex, secretKey, server.credential_id)
    if (!secret) return { ok: false, error: 'the credential no longer exists', ms: 0 }
    conn = await connect({ host: server.address, port: server.port, username: server.username, hostKey: server.host_key }, secret, { readyTimeoutMs: timeoutMs })
    const output = (await conn.run('uname -a', { timeoutMs, maxBytes: 64 * 1024 })).trim()
    if (conn.hostKeyIsNew) await servers.pinHostKey(server.id, conn.hostKey.openssh, conn.hostKey.fingerprint)
    return { ok: true, output, fingerprint: conn.hostKey.fingerprint, pinnedNow: conn.hostKeyIsNew, ms: ms() }
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err), ms: ms() }
  } finally {
    conn?.close()
  }
}
