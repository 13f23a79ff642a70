import { spawn } from 'node:child_process'
import { LineSplitter } from '../ssh/lines.ts'

export interface LocalExecOptions {
  cwd: string
  env?: Record<string, string>
  onStdout?: (line: string) => void
  onStderr?: (line: string) => void
  signal?: AbortSignal
  timeoutMs?: number
  /** After TERM the process group has this long before KILL. */
  killGraceMs?: number
}

export interface LocalExecResult {
  code: number | null
  signal: string | null
  timedOut: boolean
}

/**
 * Runs a program on the console in a process group of its own, so that a
 * cancel or a timeout kills the whole tree a hook started (a `make` and its
 * compilers, a `sleep` in a script), not only the shell. Arguments are passed
 * as an array: nothing goes through a shell unless the caller runs one on
 * purpose (a hook script is the user's own shell code).
 */
export function execLocal(file: string, args: string[], opts: LocalExecOptions): Promise<LocalExecResult> {
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) return reject(opts.signal.reason)
    const child = spawn(file, args, {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const stdout = new LineSplitter(opts.onStdout ?? (() => {}))
    const stderr = new LineSplitter(opts.onStderr ?? (() => {}))
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk))
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk))
    let timedOut = false
    let aborted = false
    let killTimer: NodeJS.Timeout | null = null
    const killGroup = (signal: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, signal)
      } catch {
        // the group is gone already
      }
    }
    const stop = () => {
      killGroup('SIGTERM')
      killTimer ??= setTimeout(() => killGroup('SIGKILL'), opts.killGraceMs ?? 5_000)
    }
    const onAbort = () => {
      aborted = true
      stop()
    }
    opts.signal?.addEventListener('abort', onAbort, { once: true })
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          timedOut = true
          stop()
        }, opts.timeoutMs)
      : null
    child.once('error', (err) => {
      opts.signal?.removeEventListener('abort', onAbort)
      if (timer) clearTimeout(timer)
      if (killTimer) clearTimeout(killTimer)
      reject(err)
    })
    child.once('close', (code, signal) => {
      opts.signal?.removeEventListener('abort', onAbort)
      if (timer) clearTimeout(timer)
      // the shell is gone; anything it left in its group goes with it
      if (aborted || timedOut) killGroup('SIGKILL')
      if (killTimer) clearTimeout(killTimer)
      stdout.end()
      stderr.end()
      if (aborted) return reject(opts.signal?.reason)
      resolve({ code, signal, timedOut })
    })
  })
}
