import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process'

/**
 * Commands run as leaders of their own process group, so that stopping one
 * (abort, timeout) also stops what it started: git's ssh, its transport
 * helpers, filters. Killing only the leader would leave those running with
 * the connection, or the pipe, still open.
 */

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref())

export interface Finished {
  code: number | null
  signal: NodeJS.Signals | null
  /** The command could not be started (ENOENT …). */
  error?: Error
}

export interface Started {
  child: ChildProcess
  finished: Promise<Finished>
}

// a console that exits mid-fetch must not leave git and ssh running on their own
const runningGroups = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of runningGroups) signalGroup(child, 'SIGKILL')
})

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return
  try {
    process.kill(-child.pid, signal)
  } catch {
    // the group is gone
  }
}

/**
 * Starts a command without a shell as the leader of a new process group
 * (and session: nothing can open a terminal to ask for a password).
 * `finished` never rejects; it settles at 'close', or shortly after 'exit'
 * should something outside the group still hold the pipes.
 */
export function startGroup(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; stdio: StdioOptions }): Started {
  const child = spawn(command, args, { ...options, detached: true })
  runningGroups.add(child)
  const finished = new Promise<Finished>((resolve) => {
    const done = (result: Finished) => {
      runningGroups.delete(child)
      resolve(result)
    }
    child.once('error', (error) => done({ code: null, signal: null, error }))
    child.once('close', (code, signal) => done({ code, signal }))
    child.once('exit', (code, signal) => void delay(1000).then(() => done({ code, signal })))
  })
  return { child, finished }
}

/** TERM to every group, KILL to those still there after the grace period; waits (bounded) for them to end. */
async function stopGroups(started: Started[], graceMs: number): Promise<void> {
  const all = Promise.all(started.map((s) => s.finished))
  for (const s of started) signalGroup(s.child, 'SIGTERM')
  if (await Promise.race([all.then(() => true), delay(graceMs).then(() => false)])) return
  for (const s of started) signalGroup(s.child, 'SIGKILL')
  await Promise.race([all, delay(graceMs)])
}

/**
 * Waits for the commands to end. On abort or timeout their groups are
 * stopped, and the call rejects (with the signal's reason, or the timeout's
 * error) only after that, so nothing is left running behind a settled call.
 */
export async function supervise(
  started: Started[],
  opts: { signal?: AbortSignal; timeoutMs?: number; timeoutError?: () => Error; killGraceMs: number },
): Promise<Finished[]> {
  let stopping: Promise<void> | null = null
  let reason: unknown = null
  const stop = (why: unknown) => {
    if (stopping) return
    reason = why
    stopping = stopGroups(started, opts.killGraceMs)
  }
  const onAbort = () => stop(opts.signal?.reason)
  opts.signal?.addEventListener('abort', onAbort, { once: true })
  if (opts.signal?.aborted) onAbort()
  const { timeoutMs, timeoutError } = opts
  const timer = timeoutMs === undefined || !timeoutError ? null : setTimeout(() => stop(timeoutError()), timeoutMs)
  try {
    const results = await Promise.all(started.map((s) => s.finished))
    if (stopping) {
      await stopping
      throw reason
    }
    return results
  } finally {
    opts.signal?.removeEventListener('abort', onAbort)
    if (timer) clearTimeout(timer)
  }
}
