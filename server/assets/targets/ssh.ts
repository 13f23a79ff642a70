import { CommandError, SshError } from '../../ssh/errors.ts'
import type { SshConnection } from '../../ssh/runner.ts'
import { shellQuote } from '../../ssh/shell-quote.ts'
import { CommandFailedError, DEFAULT_COMMAND_TIMEOUT_MS, mergeNeeds, type CollectTarget, type TargetNeeds } from '../target.ts'
import { buildBatch, patternMatcher, type BatchResult } from './batch.ts'

/**
 * sshd allows 10 sessions per connection by default (MaxSessions), and the
 * runner opens a second channel to kill a command on timeout: a few at
 * once leaves room for that when a prefetch missed and collectors fall
 * back to one command per read.
 */
const MAX_PARALLEL_EXECS = 4

/** GNU timeout's status for a command it stopped. */
const EXIT_TIMED_OUT = 124

function limiter(max: number) {
  let active = 0
  const waiting: (() => void)[] = []
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active >= max) await new Promise<void>((resolve) => waiting.push(resolve))
    active++
    try {
      return await fn()
    } finally {
      active--
      waiting.shift()?.()
    }
  }
}

/** What the target caches from a prefetch: the answers, and which questions they settle. */
interface Prefetched {
  result: BatchResult
  filePatterns: RegExp[]
  dirPatterns: RegExp[]
}

/**
 * A server reached over an open SSH connection (the console's SSH mode).
 * After prefetch() the collectors' calls are answered from one batch; a
 * path the batch covered but did not find is known to be missing, so only
 * reads nobody declared cost a round trip of their own.
 */
export function createSshTarget(conn: Pick<SshConnection, 'run'>): CollectTarget {
  const limit = limiter(MAX_PARALLEL_EXECS)
  let cache: Prefetched | null = null
  let rootAnswer: Promise<boolean> | null = null

  const exec = (command: string, timeoutMs = DEFAULT_COMMAND_TIMEOUT_MS) =>
    limit(async () => {
      try {
        return await conn.run(command, { timeoutMs })
      } catch (err) {
        if (err instanceof CommandError) throw new CommandFailedError(command, err.code, err.stderr)
        if (err instanceof SshError && err.kind === 'timeout') throw new CommandFailedError(command, null, err.message, true)
        throw err // the connection itself failed: nothing to learn about the file or command
      }
    })

  /** A read over its own round trip: a failing cat or ls is "not there", a broken connection stays an error. */
  const orNull = async <T>(attempt: Promise<T>): Promise<T | null> => {
    try {
      return await attempt
    } catch (err) {
      if (err instanceof CommandFailedError && !err.timedOut) return null
      throw err
    }
  }

  return {
    async run(command, opts = {}) {
      const known = cache?.result.commands.get(command)
      if (!known) return exec(command, opts.timeoutMs)
      if (known.code === 0) return known.stdout
      throw new CommandFailedError(command, known.code, known.stderr, known.code === EXIT_TIMED_OUT)
    },

    async readFile(path) {
      if (cache) {
        const content = cache.result.files.get(path)
        if (content !== undefined) return content
        if (cache.filePatterns.some((re) => re.test(path))) return null
      }
      return orNull(exec(`cat -- ${shellQuote(path)}`))
    },

    async listDir(path) {
      if (cache) {
        const entries = cache.result.dirs.get(path)
        if (entries !== undefined) return entries
        if (cache.dirPatterns.some((re) => re.test(path))) return null
      }
      const listing = await orNull(exec(`ls -1A -- ${shellQuote(path)}`))
      return listing === null ? null : listing.split('\n').filter(Boolean)
    },

    isRoot() {
      if (cache) return Promise.resolve(cache.result.isRoot)
      rootAnswer ??= exec('id -u').then((out) => out.trim() === '0')
      return rootAnswer
    },

    async prefetch(needs: TargetNeeds) {
      const all = mergeNeeds([needs])
      const batch = buildBatch(all)
      const output = await exec(batch.script, batch.timeoutMs)
      cache = { result: batch.parse(output), filePatterns: all.files.map(patternMatcher), dirPatterns: all.dirs.map(patternMatcher) }
    },
  }
}
