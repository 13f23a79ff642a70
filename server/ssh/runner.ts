import { NodeSSH } from 'node-ssh'
import type { CredentialSecret } from '../credentials/schema.ts'
import { CommandError, connectError, hostPort, SshError } from './errors.ts'
import { execRemote, type ExecResult, type Ssh2Client } from './exec.ts'
import { describeHostKey, fingerprint, hostKeyAlgorithms, parsePublicKey, type HostKey } from './host-key.ts'
import { LineSplitter } from './lines.ts'
import { checkRemotePath, UnsafeValueError } from './shell-quote.ts'

export type { ExecResult } from './exec.ts'
export type { HostKey } from './host-key.ts'

/** Where to connect: a row of the servers table, as far as SSH is concerned. */
export interface SshTarget {
  host: string
  port: number
  username: string
  /** The pinned public key (servers.host_key): an OpenSSH line or the base64 key. Null: trust on first use. */
  hostKey?: string | null
}

export interface ConnectOptions {
  /** Bound on TCP connect + handshake + authentication; default 10 s. */
  readyTimeoutMs?: number
  /** Keepalive probes notice a host that vanished mid-deploy; default every 15 s, 4 unanswered end it. */
  keepaliveIntervalMs?: number
  /** After TERM (cancel, timeout) a command's process group has this long before KILL; default 5 s. */
  killGraceMs?: number
}

export interface ExecOptions {
  onStdout?: (line: string) => void
  onStderr?: (line: string) => void
  /** Aborting kills the remote command (its whole process group) and rejects with the signal's reason. */
  signal?: AbortSignal
  /** Past this the command is killed and the call rejects with SshError kind 'timeout'. */
  timeoutMs?: number
  /** Remote working directory (checked, quoted). */
  cwd?: string
}

export interface RunOptions extends Omit<ExecOptions, 'onStdout' | 'onStderr'> {
  /** Largest stdout kept; beyond it the call fails instead of filling memory. Default 10 MiB. */
  maxBytes?: number
}

const DEFAULT_READY_TIMEOUT_MS = 10_000
const DEFAULT_KEEPALIVE_MS = 15_000
const DEFAULT_KILL_GRACE_MS = 5_000
const DEFAULT_MAX_BYTES = 10 * 1024 * 1024
const STDERR_KEPT = 64 * 1024

/** The subset of ssh2's SFTPWrapper that readFile needs. */
interface Ssh2Sftp {
  stat(path: string, callback: (err: Error | undefined, stats: { size: number }) => void): void
  readFile(path: string, callback: (err: Error | undefined, data: Buffer) => void): void
  end(): void
}

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err))

/** One open SSH connection; close() it when done (or use withConnection). */
export class SshConnection {
  readonly where: string

  constructor(
    private readonly ssh: NodeSSH,
    readonly target: SshTarget,
    /** The key the server showed; store it (servers.host_key, .host_key_fingerprint) when hostKeyIsNew. */
    readonly hostKey: HostKey,
    /** True when nothing was pinned: this connection trusted the key on first use. */
    readonly hostKeyIsNew: boolean,
    private readonly killGraceMs: number,
  ) {
    this.where = hostPort(target)
    // node-ssh stops listening for 'error' once connected; without a listener a later reset or keepalive
    // timeout would throw from the emitter and end the whole process. The running call reports it instead.
    this.client.on('error', () => {})
  }

  private get client(): Ssh2Client {
    const client = this.ssh.connection as Ssh2Client | null
    if (!client) throw new SshError('other', `the connection to ${this.where} is closed`)
    return client
  }

  /** Runs a command, passing on its output line by line; resolves with its exit code or signal. */
  async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    let callbackError: unknown = null
    // a throwing callback must not escape from a stream event (it would end the process); it is rethrown below
    const guarded = (fn: ((line: string) => void) | undefined) => (line: string) => {
      try {
        fn?.(line)
      } catch (err) {
        callbackError ??= err
      }
    }
    const stdout = new LineSplitter(guarded(opts.onStdout))
    const stderr = new LineSplitter(guarded(opts.onStderr))
    let result: ExecResult
    try {
      result = await execRemote(this.client, command, { stdout: (c) => stdout.push(c), stderr: (c) => stderr.push(c) }, this.rawOptions(opts))
    } finally {
      stdout.end()
      stderr.end()
    }
    if (callbackError !== null) throw callbackError
    return result
  }

  /** Runs a command and returns its stdout; a non-zero exit throws CommandError with the end of stderr. */
  async run(command: string, opts: RunOptions = {}): Promise<string> {
    const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES
    const out: Buffer[] = []
    const err: Buffer[] = []
    let outBytes = 0
    let errBytes = 0
    const sinks = {
      stdout: (chunk: Buffer) => {
        outBytes += chunk.length
        if (outBytes <= maxBytes) out.push(chunk)
      },
      stderr: (chunk: Buffer) => {
        if (errBytes < STDERR_KEPT) err.push(chunk)
        errBytes += chunk.length
      },
    }
    const result = await execRemote(this.client, command, sinks, this.rawOptions(opts))
    const stderr = Buffer.concat(err).toString('utf8')
    if (result.code !== 0) throw new CommandError(command, result.code, result.signal, stderr)
    if (outBytes > maxBytes) throw new SshError('other', `the command on ${this.where} printed ${outBytes} bytes, more than the ${maxBytes} allowed`)
    return Buffer.concat(out).toString('utf8')
  }

  /** A remote file's content over SFTP, refused when larger than maxBytes (default 10 MiB). */
  async readFile(remotePath: string, opts: { maxBytes?: number } = {}): Promise<Buffer> {
    checkRemotePath(remotePath)
    const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES
    const sftp = (await this.ssh.requestSFTP()) as Ssh2Sftp
    try {
      const stats = await new Promise<{ size: number }>((resolve, reject) => sftp.stat(remotePath, (e, s) => (e ? reject(e) : resolve(s))))
      if (stats.size > maxBytes) throw new SshError('other', `${remotePath} on ${this.where} is ${stats.size} bytes, more than the ${maxBytes} allowed`)
      return await new Promise<Buffer>((resolve, reject) => sftp.readFile(remotePath, (e, data) => (e ? reject(e) : resolve(data))))
    } catch (err) {
      if (err instanceof SshError) throw err
      throw new SshError('other', `cannot read ${remotePath} on ${this.where}: ${messageOf(err)}`, { cause: err })
    } finally {
      sftp.end()
    }
  }

  /** Copies a local file to remotePath over SFTP (missing parent directories are created). */
  async upload(localPath: string, remotePath: string): Promise<void> {
    checkRemotePath(remotePath)
    // node-ssh turns "\" into "/" in remote paths: refuse rather than write somewhere else
    if (remotePath.includes('\\')) throw new UnsafeValueError('remote path must not contain "\\"')
    try {
      await this.ssh.putFile(localPath, remotePath)
    } catch (err) {
      throw new SshError('other', `cannot upload ${localPath} to ${remotePath} on ${this.where}: ${messageOf(err)}`, { cause: err })
    }
  }

  close(): void {
    this.ssh.dispose()
  }

  private rawOptions(opts: ExecOptions) {
    return { signal: opts.signal, timeoutMs: opts.timeoutMs, cwd: opts.cwd, killGraceMs: this.killGraceMs, where: this.where }
  }
}

/**
 * Opens a connection with a credential from loadSecret. With a pinned host
 * key the server must show exactly that key, or nothing is sent (not even
 * the user name). Without one the key is accepted and reported on the
 * connection (hostKey, hostKeyIsNew) for the caller to pin. Failures are
 * SshErrors: 'refused', 'timeout', 'auth', 'host-key' or 'other'.
 */
export async function connect(target: SshTarget, secret: CredentialSecret, opts: ConnectOptions = {}): Promise<SshConnection> {
  const where = hostPort(target)
  const readyTimeoutMs = opts.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS
  let pinned: Buffer | null = null
  if (target.hostKey) {
    try {
      pinned = parsePublicKey(target.hostKey)
    } catch (err) {
      throw new SshError('host-key', `the stored host key of ${where} cannot be read (${messageOf(err)}); clear it to trust the server's key again`)
    }
  }
  const seen: { key: Buffer | null; problem: string | null } = { key: null, problem: null }
  const hostVerifier = (key: Buffer): boolean => {
    seen.key = Buffer.from(key)
    if (!pinned || pinned.equals(key)) return true
    seen.problem =
      `the host key of ${where} changed (expected ${fingerprint(pinned)}, got ${fingerprint(key)}); not connecting. ` +
      'If the server was reinstalled, clear its stored host key; otherwise the connection may be intercepted'
    return false
  }
  const pinnedType = pinned ? describeHostKey(pinned).type : null
  const serverHostKey = pinnedType ? hostKeyAlgorithms(pinnedType) : null
  const auth = secret.kind === 'key' ? { privateKey: secret.privateKey, passphrase: secret.passphrase } : { password: secret.password, tryKeyboard: true }
  const ssh = new NodeSSH()
  try {
    await ssh.connect({
      host: target.host,
      port: target.port,
      username: target.username,
      readyTimeout: readyTimeoutMs,
      keepaliveInterval: opts.keepaliveIntervalMs ?? DEFAULT_KEEPALIVE_MS,
      keepaliveCountMax: 4,
      hostVerifier,
      ...(serverHostKey ? { algorithms: { serverHostKey } } : {}),
      ...auth,
    })
  } catch (err) {
    ssh.dispose()
    if (pinned && !seen.problem && /no matching host key format/.test(messageOf(err))) {
      // we asked only for the pinned key's type: a server without one has a different key now
      seen.problem = `the host key of ${where} changed (expected ${fingerprint(pinned)}, but the server has no ${pinnedType} key any more); not connecting`
    }
    throw connectError(err, target, readyTimeoutMs, seen.problem)
  }
  if (!seen.key) {
    ssh.dispose()
    throw new SshError('host-key', `${where} completed the handshake without showing a host key`)
  }
  return new SshConnection(ssh, target, describeHostKey(seen.key), pinned === null, opts.killGraceMs ?? DEFAULT_KILL_GRACE_MS)
}

/** connect, hand the connection to fn, and close it whatever fn does. */
export async function withConnection<T>(target: SshTarget, secret: CredentialSecret, opts: ConnectOptions, fn: (conn: SshConnection) => Promise<T>): Promise<T> {
  const conn = await connect(target, secret, opts)
  try {
    return await fn(conn)
  } finally {
    conn.close()
  }
}
