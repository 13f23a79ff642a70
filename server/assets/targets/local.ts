import { spawn } from 'node:child_process'
import { readdir, readFile } from 'node:fs/promises'
import { CommandFailedError, DEFAULT_COMMAND_TIMEOUT_MS, type CollectTarget } from '../target.ts'

/** Largest stdout kept from one command; a collector's commands print kilobytes, so more means something is wrong. */
const MAX_OUTPUT_BYTES = 16 * 1024 * 1024

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return
  try {
    // the negative pid reaches the whole group: the shell and whatever it started (a pipeline, a hung child)
    process.kill(-pid, 'SIGKILL')
  } catch {
    // the group is gone already
  }
}

/** The machine this process runs on: what the agent collects from. */
export function createLocalTarget(): CollectTarget {
  return {
    run(command, opts = {}) {
      const timeoutMs = opts.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS
      return new Promise((resolve, reject) => {
        // spawn rather than execFile: execFile drops `detached`, and only a shell leading its own process
        // group lets a timeout kill what it started too (a pipeline, a dmidecode stuck on /dev/mem)
        const child = spawn('/bin/sh', ['-c', command], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
        const out: Buffer[] = []
        const err: Buffer[] = []
        let outBytes = 0
        let timedOut = false
        let tooLong = false
        child.stdout.on('data', (chunk: Buffer) => {
          outBytes += chunk.length
          if (outBytes <= MAX_OUTPUT_BYTES) out.push(chunk)
          else if (!tooLong) {
            tooLong = true
            killGroup(child.pid)
          }
        })
        child.stderr.on('data', (chunk: Buffer) => err.push(chunk))
        const timer = setTimeout(() => {
          timedOut = true
          killGroup(child.pid)
        }, timeoutMs)
        child.once('error', (e) => {
          clearTimeout(timer)
          reject(new CommandFailedError(command, null, e.message))
        })
        // 'close' waits for the pipes too, so output written just before exit is not lost
        child.once('close', (code) => {
          clearTimeout(timer)
          const stderr = Buffer.concat(err).toString('utf8')
          if (tooLong) return reject(new CommandFailedError(command, null, `printed more than ${MAX_OUTPUT_BYTES} bytes`))
          if (code === 0 && !timedOut) return resolve(Buffer.concat(out).toString('utf8'))
          reject(new CommandFailedError(command, code, stderr, timedOut))
        })
      })
    },

    async readFile(path) {
      try {
        return await readFile(path, 'utf8')
      } catch {
        // missing, a directory, EACCES for root-only DMI files, EINVAL for a down link's speed: all "no value"
        return null
      }
    },

    async listDir(path) {
      try {
        return await readdir(path)
      } catch {
        return null
      }
    },

    async isRoot() {
      return process.getuid?.() === 0
    },
  }
}
