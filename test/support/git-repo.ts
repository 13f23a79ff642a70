import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { TestContext } from 'node:test'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'

/**
 * Real git repositories for tests: a work tree in a temp dir (removed when
 * the test ends) that a GitMirrors can clone through its file:// URL.
 * Independent of the machine's git config, and every commit or annotated tag
 * is one minute after the one before, so "newest first" is deterministic.
 */

const execGit = promisify(execFile)

export const TEST_AUTHOR = { name: 'Ada Lovelace', email: 'ada@example.com' }
/** The date of the first commit; each commit or annotated tag adds a minute. */
export const FIRST_COMMIT_DATE = Date.parse('2024-05-01T10:00:00Z')

export interface TestRepo {
  /** The work tree (the repository is dir/.git). */
  dir: string
  /** file:// URL of dir, what a project's repo_url would hold. */
  url: string
  /** Writes the files (paths relative to dir, parents created), commits all changes, returns the full commit id. */
  commit(message: string, files: Record<string, string>): Promise<string>
  /** Creates a branch at HEAD without switching to it. */
  branch(name: string): Promise<void>
  /** Tags HEAD; annotated tags get `message` (default "Release <name>"). */
  tag(name: string, opts?: { annotated?: boolean; message?: string }): Promise<void>
  checkout(name: string): Promise<void>
  /** Runs git in dir and returns its stdout, trimmed. */
  run(args: string[]): Promise<string>
}

export interface CreateRepoOptions {
  /** Name of the first branch; default main. */
  branch?: string
}

/** The environment of every git run here: no system or global config, no GIT_DIR from a surrounding hook. */
function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('GIT_')) env[key] = value
  return {
    ...env,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_AUTHOR_NAME: TEST_AUTHOR.name,
    GIT_AUTHOR_EMAIL: TEST_AUTHOR.email,
    GIT_COMMITTER_NAME: TEST_AUTHOR.name,
    GIT_COMMITTER_EMAIL: TEST_AUTHOR.email,
  }
}

export async function createRepo(t: TestContext, opts: CreateRepoOptions = {}): Promise<TestRepo> {
  const dir = mkdtempSync(path.join(tmpdir(), 'longship-repo-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  let clock = FIRST_COMMIT_DATE

  const run = async (args: string[], extraEnv: NodeJS.ProcessEnv = {}) => {
    const { stdout } = await execGit('git', args, { cwd: dir, env: { ...baseEnv(), ...extraEnv } })
    return stdout.trim()
  }
  /** Author and committer (or tagger) date of the next object. */
  const tick = () => {
    const date = new Date(clock).toISOString()
    clock += 60_000
    return { GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date }
  }

  await run(['init', '--quiet', '--initial-branch', opts.branch ?? 'main'])
  return {
    dir,
    url: pathToFileURL(dir).href,
    async commit(message, files) {
      for (const [file, content] of Object.entries(files)) {
        const full = path.join(dir, file)
        mkdirSync(path.dirname(full), { recursive: true })
        writeFileSync(full, content)
      }
      await run(['add', '--all'])
      await run(['commit', '--quiet', '--allow-empty', '--message', message], tick())
      return run(['rev-parse', 'HEAD'])
    },
    async branch(name) {
      await run(['branch', name])
    },
    async tag(name, tagOpts = {}) {
      if (tagOpts.annotated) await run(['tag', '--annotate', '--message', tagOpts.message ?? `Release ${name}`, name], tick())
      else await run(['tag', name])
    },
    async checkout(name) {
      await run(['checkout', '--quiet', name])
    },
    run: (args) => run(args),
  }
}
