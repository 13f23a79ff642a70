import { setTimeout as sleep } from 'node:timers/promises'
import type { CredentialSecret } from '../../server/credentials/schema.ts'
import type { SshHost } from '../support/sshd.ts'

/** The harness's authorized key, as loadSecret would hand it to the runner. */
export function keySecret(host: SshHost, passphrase?: string): CredentialSecret {
  return passphrase ? { kind: 'key', privateKey: host.privateKey, passphrase } : { kind: 'key', privateKey: host.privateKey }
}

/** The host with its current host key pinned, as a server row with host_key set. */
export function pinned(host: SshHost, hostKey = host.hostPublicKey) {
  return { host: host.host, port: host.port, username: host.username, hostKey }
}

/**
 * Polls until check() holds. Only for what has no event to await: whether a
 * process on the "remote" side (this machine) has gone.
 */
export async function waitUntil(check: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const start = Date.now()
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`still not true after ${timeoutMs} ms: ${what}`)
    await sleep(25)
  }
  return Date.now() - start
}
