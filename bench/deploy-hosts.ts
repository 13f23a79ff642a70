/**
 * What both halves of bench/deploy.ts share: the Debian packages it needs,
 * the loopback sshd hosts (test/support/sshd.ts, started outside node:test
 * with a cleanup list of our own), the git repository the artifact comes
 * from, and the check that a host holds a release exactly as shipped.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { startSshd, type SshHost } from '../test/support/sshd.ts'

// ---------------------------------------------------------------- cleanup

/**
 * Every undo the bench registered (sshd hosts, temp dirs, the console),
 * run newest first on the way out: at the end, on an error and on Ctrl-C.
 * startSshd takes it in place of a test's TestContext.
 */
/**
 * Ansible's ssh control masters (ControlPersist=60s) outlive the run by a
 * minute, holding sessions on hosts that are gone: `ssh -O exit` ends each
 * one now, so the bench leaves no process behind.
 */
export function stopControlMasters(dir: string): void {
  let sockets: string[]
  try {
    sockets = readdirSync(dir)
  } catch {
    return
  }
  for (const socket of sockets) spawnSync('ssh', ['-o', `ControlPath=${path.join(dir, socket)}`, '-O', 'exit', 'control-master'], { stdio: 'ignore', timeout: 5000 })
}

export class Cleanup {
  private readonly fns: Array<() => Promise<void> | void> = []
  private running: Promise<void> | null = null

  after(fn: () => Promise<void> | void): void {
    this.fns.push(fn)
  }

  /** A temp dir of our own, removed on the way out. */
  tempDir(prefix: string): string {
    const dir = mkdtempSync(path.join(tmpdir(), prefix))
    // retried: a process that was just killed (an ssh control master) may still be removing its files
    this.after(() => rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 }))
    return dir
  }

  run(): Promise<void> {
    this.running ??= (async () => {
      while (this.fns.length) {
        const fn = this.fns.pop() as () => Promise<void> | void
        try {
          await fn()
        } catch (err) {
          console.error(`cleanup: ${(err as Error).message}`)
        }
      }
      this.running = null
    })()
    return this.running
  }
}

// ---------------------------------------------------------------- packages

export class MissingPackages extends Error {}

function debianVersion(pkg: string): string | null {
  const q = spawnSync('dpkg-query', ['-W', '-f=${Status} ${Version}', pkg], { encoding: 'utf8' })
  const m = /install ok installed (\S+)/.exec(q.stdout ?? '')
  return m ? (m[1] as string) : null
}

/** Where the page check finds chromium (as test/browser does). */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/** What shows that a package the bench needs is there. */
const INSTALLED: Record<string, () => boolean> = {
  'openssh-server': () => existsSync('/usr/sbin/sshd'),
  ansible: () => !!debianVersion('ansible') && existsSync('/usr/bin/ansible-playbook'),
  // comes with ansible; listed for its version
  'ansible-core': () => !!debianVersion('ansible-core'),
  chromium: () => existsSync(CHROMIUM),
}

/**
 * openssh-server (for the loopback hosts), Debian's ansible and, for the
 * page check, chromium: installed with apt-get as scripts/test.sh does when
 * run as root; otherwise the bench says what to install and stops.
 */
export function ensurePackages(wanted: string[]): Record<string, string> {
  const missing = wanted.filter((pkg) => !(INSTALLED[pkg] as () => boolean)())
  if (missing.length) {
    if (process.getuid?.() !== 0) throw new MissingPackages(`missing ${missing.join(', ')}: install them (sudo apt-get install --no-install-recommends ${missing.join(' ')}) and run again`)
    console.log(`deploy: installing ${missing.join(', ')} (Debian packages the bench needs)...`)
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
    // another apt-get (npm test installing its packages) may hold the lock for a while
    const apt = (...args: string[]) => spawnSync('apt-get', ['-o', 'DPkg::Lock::Timeout=600', ...args], { stdio: ['ignore', 'ignore', 'inherit'], env })
    const install = () => apt('install', '-y', '-qq', '--no-install-recommends', ...missing)
    if (install().status !== 0) {
      apt('update', '-qq')
      if (install().status !== 0) throw new MissingPackages(`apt-get install ${missing.join(' ')} failed`)
    }
    const still = missing.filter((pkg) => !(INSTALLED[pkg] as () => boolean)())
    if (still.length) throw new MissingPackages(`${still.join(', ')} still missing after apt-get install`)
  }
  return Object.fromEntries(wanted.map((pkg) => [pkg, debianVersion(pkg) ?? '?']))
}

// ---------------------------------------------------------------- hosts

export interface Host extends SshHost {
  /** Its own HOME (sshd_config's SetEnv), where `~/app` lands. */
  home: string
  /** The generated user key as a file (sshd.ts keeps it in the host's dir). */
  keyFile: string
}

/** n loopback sshds in parallel, each stopped (with its temp dir) by `cleanup`. */
export async function startHosts(cleanup: Cleanup, n: number): Promise<Host[]> {
  // sshd.ts registers each host's stop as soon as its dir exists, so a host that
  // fails half-way is stopped too; allSettled lets every start finish first
  const settled = await Promise.allSettled(Array.from({ length: n }, () => startSshd(cleanup)))
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected')
  if (failed) throw failed.reason
  return settled.map((s) => {
    const host = (s as PromiseFulfilledResult<SshHost>).value
    return Object.assign(host, { home: path.join(host.dir, 'home'), keyFile: path.join(host.dir, 'user_key') })
  })
}

// ---------------------------------------------------------------- the artifact's repository

export interface Repo {
  dir: string
  /** What the console clones (an absolute path, which the project form accepts). */
  url: string
  commit: string
  /** Relative path -> sha256 and size of every file committed. */
  files: Map<string, { sha256: string; size: number }>
  bytes: number
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex')

/**
 * A real git repository whose tree is `mb` MB of random bytes (incompressible,
 * so the tar.gz is as big) in four files plus a few small text files, the
 * shape of an application with some big assets.
 */
export function makeRepo(parent: string, mb: number): Repo {
  const dir = path.join(parent, 'repo')
  mkdirSync(path.join(dir, 'assets'), { recursive: true })
  mkdirSync(path.join(dir, 'src'))
  const files = new Map<string, { sha256: string; size: number }>()
  const put = (rel: string, data: Buffer) => {
    writeFileSync(path.join(dir, rel), data)
    files.set(rel, { sha256: sha256(data), size: data.length })
  }
  const total = Math.round(mb * 1_000_000)
  const parts = 4
  for (let i = 0; i < parts; i++) {
    put(`assets/blob-${i + 1}.bin`, randomBytes(Math.floor(total / parts)))
  }
  put('README.md', Buffer.from('# bench app\n\nShipped by bench/deploy.ts.\n'))
  put('src/app.sh', Buffer.from('#!/bin/sh\necho "bench app"\n'))
  put('.gitignore', Buffer.from('node_modules/\n'))
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=bench', '-c', 'user.email=bench@example.com', '-c', 'init.defaultBranch=main', ...args], {
      cwd: dir,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    }).trim()
  git('init', '-q')
  git('add', '-A')
  git('commit', '-q', '-m', 'bench artifact')
  return { dir, url: dir, commit: git('rev-parse', 'HEAD'), files, bytes: [...files.values()].reduce((a, f) => a + f.size, 0) }
}

// ---------------------------------------------------------------- checking a host

/**
 * That `<home>/<deployDir>` holds the release as shipped: current → the
 * release's directory, REVISION holds the commit, and every file of the
 * repository is there with the same bytes. Throws with what is wrong.
 */
export function verifyHost(host: Host, deployDir: string, releaseDir: string, repo: Repo): void {
  const root = path.join(host.home, deployDir)
  const expected = path.join(root, 'releases', releaseDir)
  const where = `host :${host.port} ${deployDir}`
  const current = path.join(root, 'current')
  let stat
  try {
    stat = lstatSync(current)
  } catch {
    throw new Error(`${where}: no current`)
  }
  if (!stat.isSymbolicLink()) throw new Error(`${where}: current is not a symlink`)
  const target = realpathSync(current)
  if (target !== realpathSync(expected)) throw new Error(`${where}: current → ${readlinkSync(current)}, not releases/${releaseDir}`)
  const revision = readFileSync(path.join(expected, 'REVISION'), 'utf8').trim()
  // the full hash, or an abbreviation of it
  if (revision.length < 7 || !(revision.startsWith(repo.commit) || repo.commit.startsWith(revision))) throw new Error(`${where}: REVISION holds ${revision.slice(0, 80)}, not ${repo.commit}`)
  for (const [rel, want] of repo.files) {
    const file = path.join(expected, rel)
    if (!existsSync(file)) throw new Error(`${where}: ${rel} is missing from releases/${releaseDir}`)
    const data = readFileSync(file)
    if (data.length !== want.size || sha256(data) !== want.sha256) throw new Error(`${where}: ${rel} differs (${data.length} bytes, ${want.size} committed)`)
  }
}
