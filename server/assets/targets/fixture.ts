import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { CommandFailedError, EXIT_NOT_FOUND, type CollectTarget } from '../target.ts'

/**
 * A machine recorded in a directory, for tests:
 *
 *   <dir>/target.json   { "isRoot": true, "commands": { "<command>": <answer> } }
 *   <dir>/fs/...        the machine's files, /proc/cpuinfo at <dir>/fs/proc/cpuinfo
 *
 * An answer is { "stdout": "…" } or { "stdoutFile": "commands/x.json" } for
 * exit 0, { "code": 1, "stderr": "…" } for a failure, { "timeout": true }
 * for a command that hangs. A command not listed is not installed (127),
 * a file not present is missing or unreadable (null), as on the machine.
 * "dirs" may give directory listings; a directory not listed there is read from fs/.
 */

export interface FixtureAnswer {
  stdout?: string
  /** Relative to the fixture directory: long outputs (lsblk JSON, dmidecode) read better as files of their own. */
  stdoutFile?: string
  code?: number
  stderr?: string
  timeout?: boolean
}

export interface FixtureManifest {
  isRoot: boolean
  commands: Record<string, FixtureAnswer>
  /** Listings by path; git keeps no empty directories, and /sys/block/loop0 holds nothing a collector reads. Else fs/ is listed. */
  dirs?: Record<string, string[]>
}

export const MANIFEST = 'target.json'
export const FS_ROOT = 'fs'

export async function createFixtureTarget(dir: string): Promise<CollectTarget> {
  const manifest = JSON.parse(await readFile(path.join(dir, MANIFEST), 'utf8')) as FixtureManifest
  const fsRoot = path.resolve(dir, FS_ROOT)
  // a recorded path maps under fs/; ".." must not leave it (a test would read the real machine)
  const local = (remote: string) => {
    const resolved = path.resolve(fsRoot, '.' + path.posix.resolve('/', remote))
    return resolved === fsRoot || resolved.startsWith(fsRoot + path.sep) ? resolved : null
  }

  return {
    async run(command) {
      const answer = manifest.commands[command]
      if (!answer) throw new CommandFailedError(command, EXIT_NOT_FOUND, `sh: 1: ${command.split(' ')[0]}: not found\n`)
      if (answer.timeout) throw new CommandFailedError(command, null, '', true)
      const code = answer.code ?? 0
      if (code !== 0) throw new CommandFailedError(command, code, answer.stderr ?? '')
      return answer.stdoutFile === undefined ? (answer.stdout ?? '') : readFile(path.join(dir, answer.stdoutFile), 'utf8')
    },

    async readFile(remote) {
      const file = local(remote)
      if (!file) return null
      try {
        return await readFile(file, 'utf8')
      } catch {
        return null
      }
    },

    async listDir(remote) {
      const listed = manifest.dirs?.[remote]
      if (listed) return [...listed]
      const where = local(remote)
      if (!where) return null
      try {
        return (await readdir(where)).sort()
      } catch {
        return null
      }
    },

    async isRoot() {
      return manifest.isRoot
    },
  }
}
