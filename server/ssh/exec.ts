import { randomBytes } from 'node:crypto'
import type { EventEmitter } from 'node:events'
import type { Duplex, Readable } from 'node:stream'
import { SshError } from './errors.ts'
import { checkRemotePath, shellQuote } from './shell-quote.ts'

/** The parts of ssh2's Client and ClientChannel used here; ssh2 ships no types of its own. */
export interface Ssh2Channel extends Duplex {
  stderr: Readable
  close(): void
  signal(name: string): void
}
export interface Ssh2Client extends EventEmitter {
  exec(command: string, callback: (err: Error | undefined, channel: Ssh2Channel) => void): void
}

export interface ExecResult {
  /** The exit status; null when the command was ended by a signal. */
  code: number | null
  /** "SIGTERM", "SIGKILL" … when the command was ended by a signal. */
  signal: string | null
}

export interface RawExecOptions {
  signal?: AbortSignal
  timeoutMs?: number
  cwd?: string
  /** How long TERM has before KILL follows, and KILL before the channel is dropped. */
  killGraceMs: number
  /** host:port, for messages. */
  where: string
}

export interface RawSinks {
  stdout(chunk: Buffer): void
  stderr(chunk: Buffer): void
}

/**
 * The command as sent. sshd starts a command without a pty in a session of
 * its own (setsid), so the login shell's pid is also the process group of
 * everything the command starts; the shell prints it behind a random marker
 * and then execs /bin/sh on the command, keeping that pid. Killing the group
 * is the only way to stop a remote command for real: closing the channel or
 * the connection leaves a `sleep` or a hook's children running (sshd sends no
 * SIGHUP without a pty). stdin is /dev/null, so a command that reads it gets
 * end of file at once while our side of the channel stays open for signal
 * requests. Requires a POSIX login shell (sh, bash, dash, zsh).
 */
function wrap(command: string, marker: string, cwd: string | undefined): string {
  const cd = cwd === undefined ? '' : `cd -- ${shellQuote(checkRemotePath(cwd, { label: 'working directory' }))} && `
  return `printf '%s%s\\n' '${marker}' "$$" && ${cd}exec /bin/sh -c ${shellQuote(command)} </dev/null`
}

/** Takes the marker line out of stdout and passes the rest on unchanged. */
class PgidReader {
  private pending: Buffer | null = Buffer.alloc(0)
  private settle: (pgid: number | null) => void = () => {}
  readonly known = new Promise<number | null>((resolve) => (this.settle = resolve))

  constructor(
    private readonly marker: string,
    private readonly pass: (chunk: Buffer) => void,
  ) {}

  push(chunk: Buffer): void {
    if (this.pending === null) return this.pass(chunk)
    const data = Buffer.concat([this.pending, chunk])
    const at = data.indexOf(this.marker)
    const nl = at === -1 ? -1 : data.indexOf(0x0a, at)
    if (nl === -1) {
      // a login script printing this much before the marker: give the output back, killing will not be possible
      if (data.length > 64 * 1024) this.end(data)
      else this.pending = data
      return
    }
    const digits = data.subarray(at + this.marker.length, nl).toString('latin1')
    this.pending = null
    // never 0 or 1: `kill -- -1` would signal every process of the user
    this.settle(/^\d+$/.test(digits) && Number(digits) > 1 ? Number(digits) : null)
    if (at > 0) this.pass(data.subarray(0, at))
    if (nl + 1 < data.length) this.pass(data.subarray(nl + 1))
  }

  end(rest: Buffer | null = this.pending): void {
    this.pending = null
    if (rest?.length) this.pass(rest)
    this.settle(null)
  }
}

/**
 * Starts a command. `attach` runs inside ssh2's callback, before any await:
 * a fast command's exit-status can arrive in the same read as the exec reply,
 * and ssh2 emits 'exit' at once, to whoever listens by then (stream data
 * waits in the buffer; events do not).
 */
function openChannel(client: Ssh2Client, command: string, where: string, attach: (channel: Ssh2Channel) => void = () => {}): Promise<Ssh2Channel> {
  return new Promise((resolve, reject) => {
    const fail = (err: unknown) => reject(new SshError('other', `cannot start a command on ${where}: ${err instanceof Error ? err.message : String(err)}`, { cause: err }))
    try {
      client.exec(command, (err, channel) => {
        if (err) return fail(err)
        attach(channel)
        resolve(channel)
      })
    } catch (err) {
      fail(err) // ssh2 throws "Not connected" synchronously
    }
  })
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref())

/** Sends a signal to a process group over a second channel (the first one is busy with the command). */
async function signalGroup(client: Ssh2Client, pgid: number, signal: 'TERM' | 'KILL', where: string, boundMs: number): Promise<void> {
  let closed: Promise<unknown> = Promise.resolve()
  try {
    const channel = await openChannel(client, `kill -s ${signal} -- -${pgid} 2>/dev/null`, where, (channel) => {
      closed = new Promise((resolve) => channel.once('close', resolve))
      channel.on('error', () => {})
      channel.resume()
      channel.stderr.resume()
      channel.end()
    })
    await Promise.race([closed, delay(boundMs)])
    channel.close()
  } catch {
    // the connection is gone: the caller drops the channel
  }
}

/**
 * Runs a command, handing its output on in chunks, and resolves with how it
 * ended once the channel closes. On abort or timeout the remote process group
 * gets TERM, then KILL after killGraceMs, and the promise rejects (with the
 * signal's reason, or an SshError of kind 'timeout') only after that.
 *
 * Each signal goes two ways at once: an SSH signal request, which OpenSSH
 * 7.9+ answers with killpg on the session without starting anything, and
 * `kill -- -PGID` from a second command, for root logins (sshd refuses the
 * request without privilege separation, which root sessions run without) and
 * servers that ignore it. The grace period counts from sending both.
 */
export async function execRemote(client: Ssh2Client, command: string, sinks: RawSinks, opts: RawExecOptions): Promise<ExecResult> {
  const marker = `longship-pgid-${randomBytes(6).toString('hex')}:`
  const wrapped = wrap(command, marker, opts.cwd) // refuses a bad cwd before anything is sent
  opts.signal?.throwIfAborted()

  let exit: ExecResult | null = null
  let closed = false
  let markClosed = () => {}
  const done = new Promise<void>((resolve) => {
    markClosed = () => {
      closed = true
      resolve()
    }
  })
  const pgid = new PgidReader(marker, (chunk) => sinks.stdout(chunk))
  const channel = await openChannel(client, wrapped, opts.where, (channel) => {
    channel.once('close', markClosed)
    channel.on('data', (chunk: Buffer) => pgid.push(chunk))
    channel.stderr.on('data', (chunk: Buffer) => sinks.stderr(chunk))
    // ssh2 passes (code) for exit-status, (null, signalName, coreDumped, message) for exit-signal
    channel.on('exit', (code: number | null, signal?: string) => (exit = { code: code ?? null, signal: signal ?? null }))
    channel.on('error', () => {}) // a dropped connection also closes the channel, which is what is reported
  })

  const closedWithin = (ms: number) => Promise.race([done.then(() => true), delay(ms).then(() => closed)])
  let stopping = false
  let stopReason: unknown = null
  const signalSession = (signal: 'TERM' | 'KILL') => {
    try {
      channel.signal(signal)
    } catch {
      // the channel is closing already
    }
  }
  const stop = async (reason: unknown) => {
    // after exit-status the group may be empty and its number free for reuse: never signal it then
    if (stopping || closed || exit !== null) return
    stopping = true
    stopReason = reason
    const group = await Promise.race([pgid.known, delay(opts.killGraceMs).then(() => null)])
    for (const signal of ['TERM', 'KILL'] as const) {
      if (closed) return
      signalSession(signal)
      if (group !== null) void signalGroup(client, group, signal, opts.where, opts.killGraceMs)
      if (await closedWithin(opts.killGraceMs)) return
    }
    // nothing more can be done from here (a process that left the group, a dead link): stop waiting for it
    channel.close()
    if (!(await closedWithin(opts.killGraceMs))) markClosed()
  }

  const onAbort = () => void stop(opts.signal?.reason)
  opts.signal?.addEventListener('abort', onAbort, { once: true })
  // an abort while the channel was opening fired before anyone listened: the command has started, stop it now
  if (opts.signal?.aborted) onAbort()
  const timeoutMs = opts.timeoutMs
  const timer =
    timeoutMs === undefined
      ? null
      : setTimeout(() => {
          const seconds = Math.round(timeoutMs / 100) / 10
          void stop(new SshError('timeout', `the command on ${opts.where} ran longer than ${seconds} s and was stopped`))
        }, timeoutMs)
  try {
    await done
  } finally {
    opts.signal?.removeEventListener('abort', onAbort)
    if (timer) clearTimeout(timer)
    pgid.end()
  }
  if (stopping) throw stopReason
  const result = exit as ExecResult | null
  if (!result) throw new SshError('other', `the connection closed before the command on ${opts.where} finished`)
  return result
}
