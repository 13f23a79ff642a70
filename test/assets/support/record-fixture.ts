/**
 * Records what the collectors read on this machine as a fixture for the
 * fixture target:  node --import tsx test/assets/support/record-fixture.ts <dir>
 * Only what a collection actually touched is kept, so the fixture answers
 * the same collection the same way on any machine.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { collectAll } from '../../../server/assets/collectors/index.ts'
import { CommandFailedError, type CollectTarget } from '../../../server/assets/target.ts'
import { createLocalTarget } from '../../../server/assets/targets/local.ts'
import { FS_ROOT, MANIFEST, type FixtureManifest } from '../../../server/assets/targets/fixture.ts'

export function recording(inner: CollectTarget, dir: string): { target: CollectTarget; save(): Promise<void> } {
  const manifest: FixtureManifest = { isRoot: false, commands: {}, dirs: {} }
  const used = new Set<string>()
  // commands/lsblk.txt, commands/ip.txt …: named by the program, numbered when one runs twice
  const fileFor = (command: string) => {
    const program = command.split(' ')[0]?.replace(/[^a-z0-9-]/gi, '') || 'command'
    let name = `commands/${program}.txt`
    for (let n = 2; used.has(name); n++) name = `commands/${program}-${n}.txt`
    used.add(name)
    return name
  }
  const target: CollectTarget = {
    async run(command, opts) {
      try {
        const stdout = await inner.run(command, opts)
        if (stdout.length > 200) {
          const file = fileFor(command)
          mkdirSync(path.join(dir, 'commands'), { recursive: true })
          writeFileSync(path.join(dir, file), stdout)
          manifest.commands[command] = { stdoutFile: file }
        } else manifest.commands[command] = { stdout }
        return stdout
      } catch (err) {
        // a missing command stays out of the manifest: the fixture target answers 127 for it
        if (err instanceof CommandFailedError && err.code !== 127) {
          manifest.commands[command] = err.timedOut ? { timeout: true } : { code: err.code ?? 1, stderr: err.stderr }
        }
        throw err
      }
    },
    async readFile(file) {
      const content = await inner.readFile(file)
      if (content !== null) {
        const local = path.join(dir, FS_ROOT, file)
        mkdirSync(path.dirname(local), { recursive: true })
        writeFileSync(local, content)
      }
      return content
    },
    async listDir(where) {
      const entries = await inner.listDir(where)
      if (entries !== null) (manifest.dirs as Record<string, string[]>)[where] = [...entries].sort()
      return entries
    },
    async isRoot() {
      manifest.isRoot = await inner.isRoot()
      return manifest.isRoot
    },
  }
  return {
    target,
    async save() {
      manifest.isRoot = await inner.isRoot()
      if (!Object.keys(manifest.dirs ?? {}).length) delete manifest.dirs
      writeFileSync(path.join(dir, MANIFEST), JSON.stringify(manifest, null, 2) + '\n')
    },
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const dir = process.argv[2]
  if (!dir) throw new Error('usage: record-fixture.ts <fixture dir>')
  mkdirSync(dir, { recursive: true })
  const { target, save } = recording(createLocalTarget(), dir)
  const { errors } = await collectAll(target)
  await save()
  for (const error of errors) console.error(`${error.collector}: ${error.message}`)
}
