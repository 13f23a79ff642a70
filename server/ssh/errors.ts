/**
 * What went wrong talking to a server, in words a deployer can act on.
 * ssh2's own messages ("All configured authentication methods failed",
 * "Timed out while waiting for handshake") name neither the host nor the
 * fix; `kind` lets callers branch without matching message text.
 */
export type SshErrorKind = 'refused' | 'timeout' | 'auth' | 'host-key' | 'other'

export class SshError extends Error {
  override readonly name = 'SshError'

  constructor(
    readonly kind: SshErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

/** A remote command that exited non-zero where success was required (SshConnection.run). */
export class CommandError extends Error {
  override readonly name = 'CommandError'

  constructor(
    readonly command: string,
    readonly code: number | null,
    readonly signal: string | null,
    readonly stderr: string,
  ) {
    const status = code === null ? `was killed by ${signal ?? 'a signal'}` : `exited with ${code}`
    const detail = stderr.trim().split('\n').slice(-3).join(' | ')
    super(`remote command ${status}${detail ? `: ${detail}` : ''}`)
  }
}

export interface Where {
  host: string
  port: number
  username: string
}

/** host:port, with IPv6 addresses bracketed as ssh and URLs write them. */
export function hostPort(where: Pick<Where, 'host' | 'port'>): string {
  return where.host.includes(':') ? `[${where.host}]:${where.port}` : `${where.host}:${where.port}`
}

interface Ssh2Failure {
  message: string
  code?: string
  level?: string
}

function asFailure(err: unknown): Ssh2Failure {
  if (err instanceof Error) return err as Error & Ssh2Failure
  return { message: String(err) }
}

/**
 * Maps an error from connecting (socket, handshake or authentication) to an
 * SshError. `hostKeyProblem` is set by our host verifier: ssh2 only reports
 * "Host denied", so the reason travels beside the error.
 */
export function connectError(err: unknown, where: Where, readyTimeoutMs: number, hostKeyProblem: string | null): SshError {
  if (err instanceof SshError) return err
  const failure = asFailure(err)
  const at = hostPort(where)
  const cause = { cause: err }
  if (hostKeyProblem) return new SshError('host-key', hostKeyProblem, cause)
  if (failure.code === 'ECONNREFUSED') return new SshError('refused', `connection refused by ${at} (nothing listens on that port)`, cause)
  if (failure.level === 'client-timeout' || failure.code === 'ETIMEDOUT') {
    const seconds = Math.round(readyTimeoutMs / 100) / 10
    return new SshError('timeout', `connecting to ${at} timed out after ${seconds} s (no SSH answer)`, cause)
  }
  if (failure.level === 'client-authentication') return new SshError('auth', `authentication failed for ${where.username}@${at}`, cause)
  // ssh2 throws these synchronously while reading the credential
  if (/privateKey|passphrase|Encrypted private/i.test(failure.message)) {
    return new SshError('auth', `authentication failed for ${where.username}@${at}: the private key cannot be used (${failure.message})`, cause)
  }
  if (failure.code === 'EHOSTUNREACH' || failure.code === 'ENETUNREACH') return new SshError('timeout', `${at} is unreachable (${failure.code})`, cause)
  if (failure.code === 'ENOTFOUND' || failure.code === 'EAI_AGAIN') return new SshError('other', `cannot resolve ${where.host} (${failure.code})`, cause)
  if (failure.code === 'ECONNRESET') return new SshError('other', `${at} closed the connection before SSH started (${failure.code})`, cause)
  return new SshError('other', `SSH to ${at} failed: ${failure.message}`, cause)
}
