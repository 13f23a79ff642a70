/**
 * The one interface every collector reads a machine through. A collector
 * never knows whether it runs on the machine itself (the agent), over SSH
 * from the console, or against recorded outputs in a test: it asks for a
 * command's output, a file, a directory listing, and whether it is root.
 */
export interface CollectTarget {
  /**
   * Runs a command (a fixed string the collector wrote, never user input)
   * and resolves with its stdout when it exits 0; rejects on a non-zero
   * exit, a timeout or a missing command (CommandFailedError where the
   * target can tell).
   */
  run(command: string, opts?: { timeoutMs?: number }): Promise<string>
  /** A file's content, or null when it does not exist or cannot be read. */
  readFile(path: string): Promise<string | null>
  /** A directory's entries (names, no "." or ".."), or null when it is missing or unreadable. */
  listDir(path: string): Promise<string[] | null>
  /** Whether commands run as root (dmidecode needs it); a method because over SSH it is a question to the server. */
  isRoot(): Promise<boolean>
  /**
   * A hint, called once before the collectors run, with everything they
   * declared they will read. Targets that pay a round trip per call (SSH)
   * fetch it all at once here and answer the calls from that; the others
   * need not implement it. It must never be required for correct answers.
   */
  prefetch?(needs: TargetNeeds): Promise<void>
}

export interface PrefetchCommand {
  command: string
  /** Run only when the target is root (dmidecode), so a non-root batch does not spend time failing. */
  rootOnly?: boolean
  timeoutMs?: number
}

/**
 * What a collector will read. A "*" in a file path stands for one path
 * segment (`/sys/block/*\/size`), for facts that exist once per device.
 */
export interface TargetNeeds {
  files?: readonly string[]
  dirs?: readonly string[]
  commands?: readonly PrefetchCommand[]
}

/** Default bound on one command; dmidecode or lsblk on a sick machine (hung NFS, dead disk) must not hold a collection forever. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 15_000

/** Shell status for "command not found" (POSIX sh). */
export const EXIT_NOT_FOUND = 127

/** A command that did not exit 0: its status (null when killed), whether it timed out, and the end of its stderr. */
export class CommandFailedError extends Error {
  override readonly name = 'CommandFailedError'

  constructor(
    readonly command: string,
    readonly code: number | null,
    readonly stderr: string,
    readonly timedOut = false,
  ) {
    const detail = stderr.trim().split('\n').slice(-3).join(' | ')
    const status = timedOut ? 'timed out' : code === EXIT_NOT_FOUND ? 'is not installed (exit 127)' : code === null ? 'was killed' : `exited with ${code}`
    super(`${command} ${status}${detail ? `: ${detail}` : ''}`)
  }
}

/** Merges the needs of several collectors, each path and command once. */
export function mergeNeeds(all: readonly (TargetNeeds | undefined)[]): Required<TargetNeeds> {
  const files = new Set<string>()
  const dirs = new Set<string>()
  const commands = new Map<string, PrefetchCommand>()
  for (const needs of all) {
    for (const file of needs?.files ?? []) files.add(file)
    for (const dir of needs?.dirs ?? []) dirs.add(dir)
    for (const command of needs?.commands ?? []) {
      const seen = commands.get(command.command)
      // a command one collector needs as anyone and another only as root is needed as anyone
      commands.set(command.command, seen ? { ...seen, rootOnly: Boolean(seen.rootOnly && command.rootOnly) } : command)
    }
  }
  return { files: [...files], dirs: [...dirs], commands: [...commands.values()] }
}
