import { mkdir, rename, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import type { Knex } from 'knex'
import { loadSecret } from '../credentials/service.ts'
import type { GitMirrors } from '../git/mirror.ts'
import type { Project } from '../projects/repository.ts'
import type { ServersRepository, SshServer } from '../servers/repository.ts'
import { connect, type SshConnection } from '../ssh/runner.ts'
import { checkRemotePath, shellQuote } from '../ssh/shell-quote.ts'
import type { ReleaseLog } from './event-log.ts'
import { execLocal } from './local-exec.ts'
import type { HostStatus, Release, ReleaseHost, ReleasesRepository } from './repository.ts'
import type { StepState } from './steps.ts'

export interface RunnerDeps {
  knex: Knex
  repo: ReleasesRepository
  servers: ServersRepository
  mirrors: GitMirrors
  secretKey: Buffer
  dataDir: string
  /** Bound on each hook script, on the console or a server. */
  hookTimeoutMs: number
  /** Bound on connecting to a server (TCP, handshake, authentication). */
  connectTimeoutMs: number
}

/** A failure with a message fit for the log and the release's error column. */
export class StepError extends Error {}

/** Why a release stopped early: the abort reason the runner checks for. */
export class StopRequest extends Error {
  constructor(
    readonly status: 'cancelled' | 'interrupted',
    message: string,
  ) {
    super(message)
  }
}

export interface RunTarget {
  row: ReleaseHost
  server: SshServer | null
}

export interface RunContext {
  deps: RunnerDeps
  release: Release
  project: Project
  hosts: RunTarget[]
  log: ReleaseLog
  signal: AbortSignal
  /** For a rollback: the release whose directory `current` goes back to. */
  target?: Release
}

/** Remote commands other than hooks (tar, ln, rm) that still must not hang forever. */
const COMMAND_TIMEOUT_MS = 10 * 60_000

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err))
const isStop = (err: unknown): err is StopRequest => err instanceof StopRequest

function stopState(signal: AbortSignal): StepState {
  return signal.aborted ? 'cancelled' : 'failed'
}

/** Runs one node of the diagram: running, then ok or failed (or cancelled when the release was stopped). */
async function stage<T>(ctx: RunContext, host: string | null, step: string, fn: () => Promise<T>): Promise<T> {
  ctx.signal.throwIfAborted()
  ctx.log.step(host, step, 'running')
  try {
    const result = await fn()
    ctx.log.step(host, step, 'ok')
    return result
  } catch (err) {
    ctx.log.step(host, step, stopState(ctx.signal))
    throw err
  }
}

function hookEnv(ctx: RunContext, extra: Record<string, string> = {}): Record<string, string> {
  return {
    LONGSHIP_RELEASE_ID: String(ctx.release.id),
    LONGSHIP_PROJECT: ctx.project.title,
    LONGSHIP_ENV: ctx.project.env,
    LONGSHIP_REF: ctx.release.ref,
    LONGSHIP_COMMIT: ctx.release.commit ?? '',
    ...extra,
  }
}

const HOOK_LABEL = {
  before_download: 'before download',
  after_download: 'after download',
  before_deploy: 'before deploy',
  after_deploy: 'after deploy',
} as const

/** A hook on the console, in the build directory, with `sh -e` (the first failing command fails the hook). */
async function localHook(ctx: RunContext, name: 'before_download' | 'after_download', cwd: string): Promise<void> {
  const script = ctx.project[`hook_${name}`].trim()
  const label = HOOK_LABEL[name]
  if (!script) {
    ctx.log.log(null, 'info', `no ${label} hook`)
    return
  }
  ctx.log.log(null, 'info', `running the ${label} hook`)
  const result = await execLocal('/bin/sh', ['-ec', script], {
    cwd,
    env: hookEnv(ctx),
    signal: ctx.signal,
    timeoutMs: ctx.deps.hookTimeoutMs,
    onStdout: (line) => ctx.log.log(null, 'stdout', line),
    onStderr: (line) => ctx.log.log(null, 'stderr', line),
  })
  if (result.timedOut) throw new StepError(`the ${label} hook ran longer than ${Math.round(ctx.deps.hookTimeoutMs / 1000)} s and was killed`)
  if (result.code !== 0) throw new StepError(`the ${label} hook ${result.code === null ? `was killed by ${result.signal}` : `exited with ${result.code}`}`)
}

/** Fetch, build and pack on the console: the artifact every host gets. */
async function build(ctx: RunContext): Promise<{ artifact: string; commit: string }> {
  const { deps, project, release, log, signal } = ctx
  const commit = await stage(ctx, null, 'fetch', async () => {
    log.log(null, 'info', `fetching ${project.repo_url}`)
    await deps.mirrors.sync(project.repo_url, { signal, onLine: (line) => log.log(null, 'info', line) })
    const resolved = await deps.mirrors.resolve(project.repo_url, release.ref)
    log.log(null, 'info', `${release.ref} is commit ${resolved}`)
    await deps.repo.update(release.id, { commit: resolved })
    release.commit = resolved
    return resolved
  })
  const work = path.join(deps.dataDir, 'builds', String(release.id))
  const src = path.join(work, 'src')
  try {
    await stage(ctx, null, 'build', async () => {
      await rm(work, { recursive: true, force: true })
      await mkdir(src, { recursive: true })
      await localHook(ctx, 'before_download', src)
      log.log(null, 'info', `exporting ${commit.slice(0, 12)} into the build directory`)
      await deps.mirrors.exportTo(project.repo_url, commit, src, { signal })
      await localHook(ctx, 'after_download', src)
    })
    const artifact = await stage(ctx, null, 'pack', async () => {
      const dir = path.join(deps.dataDir, 'artifacts', String(project.id))
      await mkdir(dir, { recursive: true })
      const file = path.join(dir, `${release.id}.tar.gz`)
      const partial = `${file}.part`
      const result = await execLocal('tar', ['-czf', partial, '-C', src, '.'], {
        cwd: work,
        signal,
        onStderr: (line) => log.log(null, 'stderr', line),
      })
      if (result.code !== 0) throw new StepError(`packing the artifact failed (tar exited with ${result.code ?? result.signal})`)
      // only a whole artifact ever carries the final name (a rollback may reuse it much later)
      await rename(partial, file)
      const size = (await stat(file)).size
      log.log(null, 'info', `artifact ${path.basename(file)}: ${(size / 1024 / 1024).toFixed(1)} MiB`)
      await deps.repo.update(release.id, { artifact: file })
      return file
    })
    return { artifact, commit }
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

/** Opens the connection to a host, pinning its key on first use. */
async function open(ctx: RunContext, server: SshServer): Promise<SshConnection> {
  const { deps, log } = ctx
  if (server.credential_id === null) throw new StepError(`${server.hostname} has no credential: pick one on its server page`)
  const secret = await loadSecret(deps.knex, deps.secretKey, server.credential_id)
  if (!secret) throw new StepError(`the credential of ${server.hostname} no longer exists`)
  const conn = await connect({ host: server.address, port: server.port, username: server.username, hostKey: server.host_key }, secret, {
    readyTimeoutMs: deps.connectTimeoutMs,
  })
  if (conn.hostKeyIsNew) {
    await deps.servers.pinHostKey(server.id, conn.hostKey.openssh, conn.hostKey.fingerprint)
    server.host_key = conn.hostKey.openssh
    log.log(server.hostname, 'info', `host key ${conn.hostKey.fingerprint} seen for the first time and pinned`)
  }
  log.log(server.hostname, 'info', `connected to ${server.username}@${conn.where} (${conn.hostKey.fingerprint})`)
  return conn
}

/**
 * The deploy path on this host, absolute. A path under "~/" is the login
 * user's home, asked from the host itself (it differs per host and user).
 */
async function basePath(ctx: RunContext, conn: SshConnection): Promise<string> {
  const configured = ctx.project.deploy_path
  if (!configured.startsWith('~')) return configured
  const home = (await conn.run('printf %s "$HOME"', { timeoutMs: COMMAND_TIMEOUT_MS, signal: ctx.signal })).trim()
  if (!home.startsWith('/')) throw new StepError(`the home directory of ${conn.target.username} on ${conn.where} is not an absolute path ("${home}")`)
  const base = configured === '~' ? home : `${home.replace(/\/+$/, '')}/${configured.slice(2)}`
  return checkRemotePath(base, { label: 'deploy path' })
}

/** Runs a command on a host with its output in the log; a non-zero exit fails with `what`. */
async function remote(ctx: RunContext, conn: SshConnection, host: string, command: string, what: string, opts: { cwd?: string; timeoutMs?: number } = {}): Promise<void> {
  const result = await conn.exec(command, {
    cwd: opts.cwd,
    signal: ctx.signal,
    timeoutMs: opts.timeoutMs ?? COMMAND_TIMEOUT_MS,
    onStdout: (line) => ctx.log.log(host, 'stdout', line),
    onStderr: (line) => ctx.log.log(host, 'stderr', line),
  })
  if (result.code !== 0) throw new StepError(`${what} ${result.code === null ? `was killed by ${result.signal}` : `exited with ${result.code}`}`)
}

async function remoteHook(ctx: RunContext, conn: SshConnection, host: string, name: 'before_deploy' | 'after_deploy', cwd: string, releaseDir: string, base: string): Promise<void> {
  const script = ctx.project[`hook_${name}`].trim()
  const label = HOOK_LABEL[name]
  if (!script) {
    ctx.log.step(host, name, 'skipped')
    return
  }
  await stage(ctx, host, name, async () => {
    const env = hookEnv(ctx, { LONGSHIP_RELEASE_DIR: releaseDir, LONGSHIP_DEPLOY_PATH: base })
    const exports = Object.entries(env)
      .map(([k, v]) => `${k}=${shellQuote(v)}`)
      .join(' ')
    ctx.log.log(host, 'info', `running the ${label} hook`)
    try {
      await remote(ctx, conn, host, `export ${exports}\nset -e\n${script}`, `the ${label} hook`, { cwd, timeoutMs: ctx.deps.hookTimeoutMs })
    } catch (err) {
      if (err instanceof Error && 'kind' in err && err.kind === 'timeout') throw new StepError(`the ${label} hook ran longer than ${Math.round(ctx.deps.hookTimeoutMs / 1000)} s and was killed`)
      throw err
    }
  })
}

/**
 * Points `current` at a release directory atomically: a symlink under a
 * temporary name, renamed over `current` (rename(2) replaces it in one step,
 * so a request never finds `current` missing or half made).
 */
function switchCommand(base: string, releaseDir: string, releaseId: number): string {
  const tmp = `${base}/.current-${releaseId}-${process.pid}`
  return `ln -sfn -- ${shellQuote(releaseDir)} ${shellQuote(tmp)} && mv -fT -- ${shellQuote(tmp)} ${shellQuote(`${base}/current`)}`
}

/**
 * Keep-N on a host: the newest `keep` release directories stay, and so do
 * the one `current` points at and the one just deployed, whatever their age.
 * Only directories named by a release number are ever touched.
 */
async function keepN(ctx: RunContext, conn: SshConnection, host: string, base: string): Promise<void> {
  const releases = `${base}/releases`
  const listing = await conn.run(`ls -1A -- ${shellQuote(releases)}; printf '\\n--current--\\n'; readlink -- ${shellQuote(`${base}/current`)} || true`, {
    timeoutMs: COMMAND_TIMEOUT_MS,
    signal: ctx.signal,
  })
  const [names = '', current = ''] = listing.split('\n--current--\n')
  const ids = names
    .split('\n')
    .filter((n) => /^\d{1,12}$/.test(n))
    .map(Number)
    .sort((a, b) => b - a)
  const keep = new Set(ids.slice(0, ctx.project.keep_releases))
  keep.add(ctx.release.id)
  const currentId = /\/releases\/(\d+)\/?$/.exec(current.trim())
  if (currentId) keep.add(Number(currentId[1]))
  const remove = ids.filter((id) => !keep.has(id))
  if (!remove.length) {
    ctx.log.log(host, 'info', `keeping ${ids.length} release(s), nothing to remove`)
    return
  }
  ctx.log.log(host, 'info', `removing old release(s) ${remove.join(', ')}`)
  await remote(ctx, conn, host, `rm -rf -- ${remove.map((id) => shellQuote(`${releases}/${id}`)).join(' ')}`, 'removing old releases')
}

async function deployHost(ctx: RunContext, conn: SshConnection, server: SshServer, artifact: string, commit: string): Promise<void> {
  const host = server.hostname
  const base = await basePath(ctx, conn)
  const releaseDir = `${base}/releases/${ctx.release.id}`
  await remote(ctx, conn, host, `mkdir -p -- ${shellQuote(`${base}/releases`)}`, 'creating the deploy path')
  await remoteHook(ctx, conn, host, 'before_deploy', base, releaseDir, base)
  const upload = `${base}/releases/.${ctx.release.id}.tar.gz`
  await stage(ctx, host, 'upload', async () => {
    // SFTP has no cancel of its own: closing the connection is what stops a transfer
    const onAbort = () => conn.close()
    ctx.signal.addEventListener('abort', onAbort, { once: true })
    try {
      await conn.upload(artifact, upload)
    } finally {
      ctx.signal.removeEventListener('abort', onAbort)
    }
    ctx.signal.throwIfAborted()
    ctx.log.log(host, 'info', `uploaded the artifact to ${upload}`)
  })
  await stage(ctx, host, 'unpack', async () => {
    const dir = shellQuote(releaseDir)
    await remote(
      ctx,
      conn,
      host,
      `rm -rf -- ${dir} && mkdir -p -- ${dir} && tar -xzf ${shellQuote(upload)} -C ${dir} && rm -f -- ${shellQuote(upload)} && printf '%s\\n' ${shellQuote(commit)} > ${shellQuote(`${releaseDir}/REVISION`)}`,
      'unpacking the artifact',
    )
    ctx.log.log(host, 'info', `unpacked into ${releaseDir}, REVISION ${commit.slice(0, 12)}`)
  })
  await stage(ctx, host, 'switch', async () => {
    await remote(ctx, conn, host, switchCommand(base, releaseDir, ctx.release.id), 'switching current')
    ctx.log.log(host, 'info', `current -> ${releaseDir}`)
  })
  await remoteHook(ctx, conn, host, 'after_deploy', releaseDir, releaseDir, base)
  await stage(ctx, host, 'cleanup', () => keepN(ctx, conn, host, base))
}

async function rollbackHost(ctx: RunContext, conn: SshConnection, server: SshServer): Promise<void> {
  const target = ctx.target as Release
  const host = server.hostname
  const base = await basePath(ctx, conn)
  const releaseDir = `${base}/releases/${target.id}`
  await stage(ctx, host, 'switch', async () => {
    const check = await conn.exec(`test -d ${shellQuote(releaseDir)}`, { signal: ctx.signal, timeoutMs: COMMAND_TIMEOUT_MS })
    if (check.code !== 0) {
      // a server added since, or a directory removed by hand: the kept artifact puts it back without a rebuild
      if (!target.artifact) throw new StepError(`${releaseDir} is not on ${host} and release #${target.id} has no kept artifact`)
      ctx.log.log(host, 'info', `${releaseDir} is not on this host: unpacking the kept artifact of release #${target.id}`)
      const upload = `${base}/releases/.${target.id}.tar.gz`
      await remote(ctx, conn, host, `mkdir -p -- ${shellQuote(`${base}/releases`)}`, 'creating the deploy path')
      await conn.upload(target.artifact, upload)
      const dir = shellQuote(releaseDir)
      await remote(
        ctx,
        conn,
        host,
        `mkdir -p -- ${dir} && tar -xzf ${shellQuote(upload)} -C ${dir} && rm -f -- ${shellQuote(upload)} && printf '%s\\n' ${shellQuote(target.commit ?? '')} > ${shellQuote(`${releaseDir}/REVISION`)}`,
        'unpacking the artifact',
      )
    }
    await remote(ctx, conn, host, switchCommand(base, releaseDir, ctx.release.id), 'switching current')
    ctx.log.log(host, 'info', `current -> ${releaseDir} (release #${target.id}, ${target.commit?.slice(0, 12) ?? target.ref})`)
  })
}

/** One host from connect to the end; never throws: the outcome is the host's status. */
async function runHost(ctx: RunContext, target: RunTarget, work: (conn: SshConnection, server: SshServer) => Promise<void>): Promise<HostStatus> {
  const { deps, log } = ctx
  const host = target.row.hostname
  await deps.repo.updateHost(target.row.id, { status: 'running', started_at: new Date() })
  log.step(host, 'host', 'running')
  let conn: SshConnection | null = null
  let status: HostStatus = 'success'
  let error: string | null = null
  try {
    const server = target.server
    if (!server) throw new StepError(`${host} was deleted since the release started`)
    conn = await stage(ctx, host, 'connect', () => open(ctx, server))
    await work(conn, server)
    log.log(host, 'info', `${host} done`)
  } catch (err) {
    status = ctx.signal.aborted ? 'cancelled' : 'failed'
    error = isStop(err) || ctx.signal.aborted ? null : messageOf(err)
    if (error) log.log(host, 'stderr', `${host} failed: ${error}`)
    else log.log(host, 'info', `${host} stopped: ${messageOf(ctx.signal.reason)}`)
  } finally {
    conn?.close()
  }
  await deps.repo.updateHost(target.row.id, { status, error, finished_at: new Date() })
  // the host's own badge on open pages ("host" is not a diagram node)
  log.step(host, 'host', status)
  return status
}

/**
 * Runs hosts by the project's rollout: all at once up to a cap (parallel),
 * one by one (serial), or in waves of N that each finish before the next
 * starts (batch). With stop-on-failure, a failed host stops further hosts
 * from starting; those already running finish (a half-switched fleet is
 * worse than a finished one).
 */
async function rollout(ctx: RunContext, each: (target: RunTarget) => Promise<HostStatus>): Promise<{ failed: number; skipped: number }> {
  const { project, hosts } = ctx
  const size = Math.max(1, project.batch_size)
  let failed = 0
  let halted = false
  const runOne = async (target: RunTarget) => {
    if (halted || ctx.signal.aborted) return
    const status = await each(target)
    if (status === 'failed') {
      failed++
      if (project.stop_on_failure) halted = true
    }
  }
  if (project.rollout === 'batch') {
    for (let i = 0; i < hosts.length && !halted && !ctx.signal.aborted; i += size) {
      const wave = hosts.slice(i, i + size)
      ctx.log.log(null, 'info', `wave ${i / size + 1}: ${wave.map((h) => h.row.hostname).join(', ')}`)
      await Promise.all(wave.map(runOne))
    }
  } else {
    const cap = project.rollout === 'serial' ? 1 : size
    let next = 0
    const worker = async () => {
      while (next < hosts.length && !halted && !ctx.signal.aborted) await runOne(hosts[next++] as RunTarget)
    }
    await Promise.all(Array.from({ length: Math.min(cap, hosts.length) }, worker))
  }
  const skipped = await skipRest(ctx, halted ? 'a host failed and the project stops on the first failure' : null)
  return { failed, skipped }
}

/** Hosts that never started: skipped (with why), their nodes left for the page to grey out. */
async function skipRest(ctx: RunContext, why: string | null): Promise<number> {
  const rest = (await ctx.deps.repo.hosts(ctx.release.id)).filter((h) => h.status === 'pending')
  if (!rest.length) return 0
  const status: HostStatus = ctx.signal.aborted ? 'cancelled' : 'skipped'
  for (const host of rest) await ctx.deps.repo.updateHost(host.id, { status, finished_at: new Date() })
  ctx.log.log(null, 'info', `${rest.length} host(s) not started: ${why ?? messageOf(ctx.signal.reason)}`)
  return rest.length
}

/** A deploy from fetch to the last host; throws when the release failed as a whole. */
export async function runDeploy(ctx: RunContext): Promise<void> {
  if (!ctx.hosts.length) throw new StepError('the project has no servers: add some on its page')
  const { artifact, commit } = await build(ctx)
  const { failed } = await rollout(ctx, (target) => runHost(ctx, target, (conn, server) => deployHost(ctx, conn, server, artifact, commit)))
  ctx.signal.throwIfAborted()
  if (failed) throw new StepError(`${failed} of ${ctx.hosts.length} host(s) failed`)
}

/** A rollback: `current` back to the target release on every host, no build. */
export async function runRollback(ctx: RunContext): Promise<void> {
  const target = ctx.target
  if (!target) throw new StepError('nothing to roll back to')
  if (!ctx.hosts.length) throw new StepError('the project has no servers: add some on its page')
  await stage(ctx, null, 'prepare', async () => {
    ctx.log.log(null, 'info', `rolling back to release #${target.id} (${target.ref}, ${target.commit?.slice(0, 12) ?? 'no commit'})`)
  })
  const { failed } = await rollout(ctx, (t) => runHost(ctx, t, (conn, server) => rollbackHost(ctx, conn, server)))
  ctx.signal.throwIfAborted()
  if (failed) throw new StepError(`${failed} of ${ctx.hosts.length} host(s) failed`)
}
