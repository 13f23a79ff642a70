import { createHash, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import { simpleGit } from 'simple-git'
import { LineSplitter } from '../ssh/lines.ts'
import { type Finished, startGroup, supervise } from './process-group.ts'
import { listBranches, listTags, reader, recentCommits, revParseCommit, type CommitInfo, type RefInfo } from './queries.ts'
import { isCommitId, validateRef } from './refs.ts'
import { SharedSync } from './shared-sync.ts'

/**
 * Local bare mirrors of the repositories releases are built from: the
 * network is touched only by sync(); listing, resolving and exporting read
 * the mirror.
 *
 * Clone, fetch and archive are spawned in process groups of their own
 * (process-group.ts) rather than through simple-git: simple-git stops a
 * command with SIGINT to git alone, which leaves the ssh (or
 * git-remote-https) git started running, holding the connection open. The
 * local, short reads go through simple-git.
 */

export type { CommitInfo, RefInfo } from './queries.ts'

export type GitErrorKind = 'timeout' | 'unreachable' | 'unknown-ref' | 'other'

/** What went wrong with a repository, in words a deployer can act on; never holds a URL's credentials. */
export class GitError extends Error {
  override readonly name = 'GitError'

  constructor(
    readonly kind: GitErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

export interface GitMirrorsOptions {
  /** Where the mirrors live, e.g. path.join(DATA_DIR, 'mirrors'); created when missing. */
  dir: string
  /** Bound on one clone or fetch; default 120 s. */
  fetchTimeoutMs?: number
  /** After TERM (abort, timeout) the process group has this long before KILL; default 2 s. */
  killGraceMs?: number
}

export interface SyncOptions {
  /** Aborting stops the clone or fetch (once no other caller waits for it) and rejects with the signal's reason. */
  signal?: AbortSignal
  /** git's messages, line by line, credentials masked. */
  onLine?: (line: string) => void
}

const DEFAULT_FETCH_TIMEOUT_MS = 120_000
const DEFAULT_KILL_GRACE_MS = 2_000
const STDERR_LINES_KEPT = 20

/**
 * `-c` settings for every clone, fetch and archive. No credential helper: the
 * URL's own credentials are the only ones used, and a `store` helper in the
 * user's config would otherwise write them to ~/.git-credentials. gc --auto
 * stays in the foreground, inside the process group the timeout can stop.
 */
const GIT_CONFIG = ['-c', 'credential.helper=', '-c', 'gc.autoDetach=false']

/** Set by a hook or a shell inside a repository, these would point git at another one. */
const REPO_LOCATION_VARS = /^GIT_(DIR|WORK_TREE|INDEX_FILE|OBJECT_DIRECTORY|ALTERNATE_OBJECT_DIRECTORIES|COMMON_DIR|NAMESPACE|PREFIX)$/

/** Nothing may wait for a password: no terminal prompt, no askpass program, ssh in batch mode. */
function gitEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (!REPO_LOCATION_VARS.test(key) && key !== 'SSH_ASKPASS') env[key] = value
  }
  return {
    ...env,
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: '', // empty (not unset) also overrides core.askPass and SSH_ASKPASS
    GIT_SSH_COMMAND: 'ssh -o BatchMode=yes',
    LC_ALL: 'C', // English messages, which networkError reads
  }
}

const SSH_SCHEMES = new Set(['ssh', 'git+ssh', 'ssh+git'])
const USERINFO = /([a-z][a-z0-9+.-]*):\/\/([^\s/?#'"]*)@/gi

/**
 * The URL as it may be shown or logged: "https://user:token@host/x" becomes
 * "https://***@host/x". A plain ssh user name ("ssh://git@host/x") is kept:
 * ssh URLs carry no password, and the name helps to see what was used.
 */
export function maskUrl(url: string): string {
  return url.replace(USERINFO, (_match, scheme: string, userinfo: string) =>
    SSH_SCHEMES.has(scheme.toLowerCase()) && !userinfo.includes(':') ? `${scheme}://${userinfo}@` : `${scheme}://***@`,
  )
}

/** maskUrl over free text (git's messages), and any copy of the URL's password git may have decoded. */
function redact(text: string, url: string): string {
  let out = maskUrl(text)
  const password = /^[a-z][a-z0-9+.-]*:\/\/[^\s/?#@]*:([^\s/?#]*)@/i.exec(url)?.[1]
  if (password) {
    for (const secret of new Set([password, safeDecode(password)])) if (secret.length >= 3) out = out.split(secret).join('***')
  }
  return out
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}

function checkUrl(url: string): void {
  if (typeof url !== 'string' || url.trim() === '') throw new GitError('other', 'the repository URL is empty')
  // "--" protects git's own options only: the URL's parts go on to ssh and transport helpers (CVE-2017-1000117)
  if (url.startsWith('-')) throw new GitError('other', 'a repository URL must not start with "-"')
  if (/[\x00-\x1f\x7f]/.test(url)) throw new GitError('other', `the repository URL ${maskUrl(JSON.stringify(url))} contains control characters`)
}

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err))
const seconds = (ms: number) => Math.round(ms / 100) / 10

/** Lines git prints around every failure, which would push the one that says what failed out of the message. */
const BOILERPLATE = /^(Cloning into |Please make sure you have the correct access rights|and the repository exists)/

/** The last lines a command printed to stderr, for error messages. */
class StderrTail {
  private readonly lines: string[] = []
  readonly splitter = new LineSplitter((line) => {
    if (line.trim() === '' || BOILERPLATE.test(line)) return
    this.lines.push(line.trim())
    if (this.lines.length > STDERR_LINES_KEPT) this.lines.shift()
  })

  text(count = 3): string {
    this.splitter.end()
    return this.lines
      .slice(-count)
      .join(' | ')
      .replace(/\.+$/, '')
  }
}

const UNREACHABLE =
  /could not resolve|name or service not known|name resolution|connection refused|timed out|no route to host|network is unreachable|failed to connect|connection reset|connection closed|kex_exchange_identification|host key verification failed|permission denied|authentication failed|could not read (username|password)|terminal prompts disabled|access denied|repository not found|not found|does not appear to be a git repository|could not read from remote repository|unable to access|does not exist/i

function networkError(action: string, maskedUrl: string, detail: string, finished: Finished): GitError {
  if (finished.error) return new GitError('other', `${action} ${maskedUrl} failed: cannot run git (${finished.error.message})`, { cause: finished.error })
  const status = finished.code === null ? `git was killed by ${finished.signal ?? 'a signal'}` : `git exited with ${finished.code}`
  if (UNREACHABLE.test(detail)) {
    return new GitError(
      'unreachable',
      `${action} ${maskedUrl} failed: ${detail || status}. Check the URL, that this server can reach the host, ` +
        'and that its SSH key (or the token in the URL) may read the repository',
    )
  }
  return new GitError('other', `${action} ${maskedUrl} failed (${status})${detail ? `: ${detail}` : ''}`)
}

export class GitMirrors {
  readonly dir: string
  private readonly fetchTimeoutMs: number
  private readonly killGraceMs: number
  private readonly syncs = new Map<string, SharedSync>()

  constructor(opts: GitMirrorsOptions) {
    this.dir = path.resolve(opts.dir)
    this.fetchTimeoutMs = opts.fetchTimeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS
    this.killGraceMs = opts.killGraceMs ?? DEFAULT_KILL_GRACE_MS
  }

  /** <dir>/<first 16 hex digits of sha256(url)>.git: one mirror per URL string, named without its credentials. */
  mirrorPath(repoUrl: string): string {
    return path.join(this.dir, `${createHash('sha256').update(repoUrl).digest('hex').slice(0, 16)}.git`)
  }

  /**
   * Brings the mirror up to date with the repository: clones it the first
   * time, then fetches every ref, dropping the ones deleted there. Bounded
   * by fetchTimeoutMs (GitError 'timeout'); failures to reach or read the
   * repository are GitError 'unreachable'.
   */
  sync(repoUrl: string, opts: SyncOptions = {}): Promise<void> {
    try {
      checkUrl(repoUrl)
      opts.signal?.throwIfAborted()
    } catch (err) {
      return Promise.reject(err)
    }
    const key = this.mirrorPath(repoUrl)
    const current = this.syncs.get(key)
    if (current && !current.stopping) return current.join(opts)
    // a run being stopped still owns the mirror (and its temp clone) until its processes are gone
    const previous = current?.done.catch(() => {})
    const created = new SharedSync(async (signal, emit) => {
      await previous
      signal.throwIfAborted()
      await this.runSync(repoUrl, signal, emit)
    })
    this.syncs.set(key, created)
    void created.done
      .finally(() => {
        if (this.syncs.get(key) === created) this.syncs.delete(key)
      })
      .catch(() => {})
    return created.join(opts)
  }

  /** Branches and tags (newest first) and the latest commits across branches, from the mirror; empty before the first sync. */
  async listRefs(repoUrl: string, opts: { commits?: number } = {}): Promise<{ branches: RefInfo[]; tags: RefInfo[]; commits: CommitInfo[] }> {
    const mirror = this.mirrorPath(repoUrl)
    if (!existsSync(mirror)) return { branches: [], tags: [], commits: [] }
    const git = reader(mirror)
    try {
      const [branches, tags] = await Promise.all([listBranches(git), listTags(git)])
      const commits = branches.length > 0 ? await recentCommits(git, opts.commits ?? 30) : []
      return { branches, tags, commits }
    } catch (err) {
      throw new GitError('other', `reading the mirror of ${maskUrl(repoUrl)} failed: ${messageOf(err)}`, { cause: err })
    }
  }

  /**
   * The full commit id a branch, tag (peeled) or commit id (possibly
   * abbreviated) names in the mirror, looked up in that order. The ref is
   * checked with validateRef before git sees it.
   */
  async resolve(repoUrl: string, ref: string): Promise<string> {
    const checked = validateRef(ref)
    if (!checked.ok) throw new GitError('unknown-ref', checked.error)
    const name = checked.ref
    const masked = maskUrl(repoUrl)
    const git = reader(this.existingMirror(repoUrl))
    const candidates = [`refs/heads/${name}`, `refs/tags/${name}`]
    if (isCommitId(name)) candidates.push(name.toLowerCase())
    for (const candidate of candidates) {
      try {
        return await revParseCommit(git, candidate)
      } catch (err) {
        if (/ambiguous/i.test(messageOf(err))) {
          throw new GitError('unknown-ref', `${name} matches more than one commit in ${masked}: give more digits`, { cause: err })
        }
      }
    }
    throw new GitError('unknown-ref', `no branch, tag or commit ${name} in ${masked}`)
  }

  /**
   * Writes the files of a commit into dir, an existing empty directory:
   * `git archive` (which honours export-ignore and export-subst) piped into
   * `tar -x`. Aborting stops both and rejects with the signal's reason.
   */
  async exportTo(repoUrl: string, commit: string, dir: string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    if (!isCommitId(commit)) throw new GitError('unknown-ref', `${JSON.stringify(commit)} is not a commit id`)
    const masked = maskUrl(repoUrl)
    const mirror = this.existingMirror(repoUrl)
    opts.signal?.throwIfAborted()
    let entries: string[]
    try {
      entries = await readdir(dir)
    } catch (err) {
      throw new GitError('other', `cannot export into ${dir}: ${messageOf(err)}`, { cause: err })
    }
    if (entries.length > 0) throw new GitError('other', `cannot export into ${dir}: the directory is not empty`)
    let sha: string
    try {
      sha = await revParseCommit(reader(mirror), commit.toLowerCase())
    } catch (err) {
      throw new GitError('unknown-ref', `no commit ${commit} in ${masked}`, { cause: err })
    }
    opts.signal?.throwIfAborted()

    const archive = startGroup('git', [...GIT_CONFIG, 'archive', '--format=tar', sha], { cwd: mirror, env: gitEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
    const tar = startGroup('tar', ['-x', '-f', '-', '-C', dir, '--no-same-owner'], { stdio: ['pipe', 'ignore', 'pipe'] })
    const archiveErr = new StderrTail()
    const tarErr = new StderrTail()
    archive.child.stderr?.on('data', (chunk: Buffer) => archiveErr.splitter.push(chunk))
    tar.child.stderr?.on('data', (chunk: Buffer) => tarErr.splitter.push(chunk))
    tar.child.stdin?.on('error', () => {}) // EPIPE when tar ends first: its exit status tells why
    if (archive.child.stdout && tar.child.stdin) archive.child.stdout.pipe(tar.child.stdin)
    else tar.child.stdin?.end()

    const [archived, unpacked] = await supervise([archive, tar], { signal: opts.signal, killGraceMs: this.killGraceMs })
    const short = sha.slice(0, 12)
    if (archived?.error || archived?.code !== 0) {
      const why = archived?.error?.message ?? (archiveErr.text() || `git exited with ${archived?.code ?? archived?.signal}`)
      throw new GitError('other', `git archive of ${short} from ${masked} failed: ${redact(why, repoUrl)}`)
    }
    if (unpacked?.error || unpacked?.code !== 0) {
      const why = unpacked?.error?.message ?? (tarErr.text() || `tar exited with ${unpacked?.code ?? unpacked?.signal}`)
      throw new GitError('other', `unpacking ${short} into ${dir} failed: ${why}`)
    }
  }

  private existingMirror(repoUrl: string): string {
    const mirror = this.mirrorPath(repoUrl)
    if (!existsSync(mirror)) throw new GitError('other', `${maskUrl(repoUrl)} has not been fetched yet: sync it first`)
    return mirror
  }

  private async runSync(repoUrl: string, signal: AbortSignal, emit: (line: string) => void): Promise<void> {
    const target = this.mirrorPath(repoUrl)
    await mkdir(this.dir, { recursive: true })
    if (existsSync(target)) {
      // by URL, not by the "origin" remote, whose stored URL has its credentials masked
      await this.network('fetching', repoUrl, ['fetch', '--prune', '--no-write-fetch-head', '--', repoUrl, '+refs/*:refs/*'], { cwd: target, signal, emit })
      return
    }
    await this.removeLeftovers(target)
    // cloned aside and renamed into place: a killed clone never leaves a half mirror behind
    const temp = `${target}.tmp-${randomBytes(4).toString('hex')}`
    try {
      await this.network('cloning', repoUrl, ['clone', '--mirror', '--', repoUrl, temp], { signal, emit })
      // the mirror's config would otherwise keep the URL's token in plain text
      await simpleGit({ baseDir: temp }).addConfig('remote.origin.url', maskUrl(repoUrl))
      try {
        await rename(temp, target)
      } catch (err) {
        if (!existsSync(target)) throw err // else another process cloned it meanwhile: theirs is as good
      }
    } finally {
      await rm(temp, { recursive: true, force: true })
    }
  }

  /** Temp clones of this URL from a run that was killed before its cleanup (syncs of one URL never overlap in one process). */
  private async removeLeftovers(target: string): Promise<void> {
    const prefix = `${path.basename(target)}.tmp-`
    // another console process on the same DATA_DIR may be cloning right now: only a temp clone older than
    // any clone may run (the fetch timeout, plus slack) is certainly abandoned
    const abandonedBefore = Date.now() - this.fetchTimeoutMs - 60_000
    for (const entry of await readdir(this.dir)) {
      if (!entry.startsWith(prefix)) continue
      const where = path.join(this.dir, entry)
      const info = await stat(where).catch(() => null)
      if (info && info.mtimeMs < abandonedBefore) await rm(where, { recursive: true, force: true })
    }
  }

  private async network(
    action: 'cloning' | 'fetching',
    repoUrl: string,
    args: string[],
    opts: { cwd?: string; signal: AbortSignal; emit: (line: string) => void },
  ): Promise<void> {
    const masked = maskUrl(repoUrl)
    const tail = new StderrTail()
    const emit = (line: string) => opts.emit(redact(line, repoUrl))
    const stdout = new LineSplitter(emit)
    const stderr = new LineSplitter(emit)
    const started = startGroup('git', [...GIT_CONFIG, ...args], { cwd: opts.cwd, env: gitEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
    started.child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk))
    started.child.stderr?.on('data', (chunk: Buffer) => {
      stderr.push(chunk)
      tail.splitter.push(chunk)
    })
    const timeoutError = () =>
      new GitError(
        'timeout',
        `${action} ${masked} took longer than ${seconds(this.fetchTimeoutMs)} s and was stopped; check that this server can reach the host`,
      )
    let finished: Finished | undefined
    try {
      ;[finished] = await supervise([started], { signal: opts.signal, timeoutMs: this.fetchTimeoutMs, timeoutError, killGraceMs: this.killGraceMs })
    } finally {
      stdout.end()
      stderr.end()
    }
    if (!finished || finished.error || finished.code !== 0) {
      throw networkError(action, masked, redact(tail.text(), repoUrl), finished ?? { code: null, signal: null })
    }
  }
}
