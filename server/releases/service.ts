import { setMaxListeners } from 'node:events'
import { rm } from 'node:fs/promises'
import path from 'node:path'
import type { Knex } from 'knex'
import type { Config } from '../config.ts'
import { loadSecret } from '../credentials/service.ts'
import { GitMirrors, maskUrl } from '../git/mirror.ts'
import { validateRef } from '../git/refs.ts'
import { createProjectsRepository, type Project } from '../projects/repository.ts'
import type { Hub } from '../realtime/hub.ts'
import { createServersRepository } from '../servers/repository.ts'
import type { User } from '../users/repository.ts'
import { HttpError, notFound } from '../web/errors.ts'
import { hasRole } from '../web/auth.ts'
import { createMasker, eventJson, ReleaseLog, releaseTopic } from './event-log.ts'
import { createReleasesRepository, FINISHED, ProjectLockedError, type Release, type ReleaseStatus } from './repository.ts'
import { runDeploy, runRollback, StopRequest, type RunContext, type RunnerDeps, type RunTarget } from './runner.ts'

/** How often a running release renews its lock and looks for a cancel asked on another instance. */
const HEARTBEAT_MS = 5_000
/** A lock whose heartbeat is this old belongs to a console that died. */
const STALE_MS = 60_000
export const CHAT_MAX = 2_000

interface Running {
  release: Release
  controller: AbortController
  log: ReleaseLog
  done: Promise<void>
}

export interface ReleaseServiceOptions {
  knex: Knex
  hub: Hub
  config: Pick<Config, 'dataDir' | 'secretKey' | 'hookTimeoutMs' | 'connectTimeoutMs' | 'gitTimeoutMs' | 'instanceId'>
  onError?: (err: unknown, message: string) => void
}

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err))

export function lockedMessage(err: ProjectLockedError): string {
  const who = err.holder.username ? ` by ${err.holder.username}` : ''
  return `Release #${err.holder.release_id}${who} is still running on this project; wait for it to finish or cancel it`
}

/**
 * Starting, running, cancelling and recovering releases. Runs happen in this
 * process, in the background of the request that started them; every state
 * change is in the database, so any instance's pages show it, and the event
 * stream of each release goes through the hub (topic release:<id>).
 */
export function createReleaseService(opts: ReleaseServiceOptions) {
  const { knex, hub, config } = opts
  const onError = opts.onError ?? (() => {})
  const repo = createReleasesRepository(knex)
  const projects = createProjectsRepository(knex)
  const servers = createServersRepository(knex)
  const mirrors = new GitMirrors({ dir: path.join(config.dataDir, 'mirrors'), fetchTimeoutMs: config.gitTimeoutMs })
  const deps: RunnerDeps = {
    knex,
    repo,
    servers,
    mirrors,
    secretKey: config.secretKey,
    dataDir: config.dataDir,
    hookTimeoutMs: config.hookTimeoutMs,
    connectTimeoutMs: config.connectTimeoutMs,
  }
  const running = new Map<number, Running>()
  const bootedAt = Date.now()
  // logs of finished releases that received chat: one writer per release keeps seqs unique
  const idleLogs = new Map<number, Promise<ReleaseLog>>()
  let stopped = false

  hub.registerKind({
    name: 'release',
    // viewers read every release; the topic exists only for numbers that are releases
    authorize: async (_user, topic) => {
      const id = Number(topic.slice('release:'.length))
      return Number.isSafeInteger(id) && id > 0 && !!(await repo.findById(id))
    },
    backfill: async (topic, after, upTo, limit) => {
      const events = await repo.eventsAfter(Number(topic.slice('release:'.length)), after, upTo, limit)
      return events.map((e) => {
        const { seq, ...data } = eventJson(e)
        return { seq, data }
      })
    },
    head: (topic) => repo.head(Number(topic.slice('release:'.length))),
  })

  // set once the releases a dead console left behind were dealt with; until then each heartbeat tries again
  let recovered = false
  const heartbeat = setInterval(() => {
    if (!recovered) void recover().catch((err) => onError(err, 'marking interrupted releases failed'))
    const ids = [...running.keys()]
    if (!ids.length) return
    repo
      .heartbeat(config.instanceId, ids)
      .then((cancelled) => {
        for (const id of cancelled) running.get(id)?.controller.abort(new StopRequest('cancelled', 'cancelled'))
      })
      .catch((err) => onError(err, 'release heartbeat failed'))
  }, HEARTBEAT_MS)
  heartbeat.unref()

  async function masker(project: Project, serverIds: number[]) {
    const secrets: string[] = []
    const targets = await servers.forSsh(serverIds)
    const credentialIds = new Set(targets.map((s) => s.credential_id).filter((id): id is number => id !== null))
    for (const id of credentialIds) {
      try {
        const secret = await loadSecret(knex, config.secretKey, id)
        if (secret?.kind === 'password') secrets.push(secret.password)
        if (secret?.kind === 'key') secrets.push(secret.privateKey, secret.passphrase ?? '')
      } catch {
        // an unreadable credential fails its host later, with its own message
      }
    }
    const url = /^[a-z][a-z0-9+.-]*:\/\/([^@/\s]+)@/i.exec(project.repo_url)
    if (url?.[1]) secrets.push(...url[1].split(':').filter((s) => s.length >= 4))
    return createMasker(secrets)
  }

  /** Marks a release that can no longer run as interrupted, with a line saying why, and frees its lock. */
  async function interrupt(id: number, why: string): Promise<void> {
    const log = new ReleaseLog(id, repo, hub, await repo.head(id))
    log.log(null, 'info', why)
    log.status('interrupted')
    await log.flush()
    await repo.update(id, { status: 'interrupted', error: why, finished_at: new Date() })
    await repo.closeHosts(id, 'cancelled')
    await repo.releaseLock(id)
  }

  /** At start: releases left running by a console that stopped are marked interrupted, their locks freed. */
  async function recover(): Promise<number> {
    const ids = await repo.orphaned(config.instanceId, new Date(Date.now() - STALE_MS))
    for (const id of ids) await interrupt(id, 'interrupted: the console stopped while this release was running')
    recovered = true
    return ids.length
  }

  async function execute(release: Release, project: Project, target: Release | undefined): Promise<void> {
    const hostRows = await repo.hosts(release.id)
    const sshServers = new Map((await servers.forSsh(hostRows.map((h) => h.server_id).filter((id): id is number => id !== null))).map((s) => [s.id, s]))
    const hosts: RunTarget[] = hostRows.map((row) => ({ row, server: row.server_id === null ? null : (sshServers.get(row.server_id) ?? null) }))
    const log = new ReleaseLog(release.id, repo, hub, await repo.head(release.id), await masker(project, [...sshServers.keys()]), (err) => onError(err, 'writing a release log failed'))
    const controller = new AbortController()
    // every running command of every host listens to this one signal: hundreds at once is expected, not a leak
    setMaxListeners(0, controller.signal)
    const entry: Running = { release, controller, log, done: Promise.resolve() }
    running.set(release.id, entry)
    entry.done = (async () => {
      const startedAt = new Date()
      await repo.update(release.id, { status: 'running', started_at: startedAt })
      release.status = 'running'
      log.status('running')
      const what = release.kind === 'rollback' ? `rollback of ${project.title} to release #${target?.id}` : `deploy of ${release.ref} to ${project.title}`
      log.log(null, 'info', `${what} started by ${release.username ?? 'someone'} on ${hosts.length} host(s), rollout ${project.rollout}${project.rollout === 'serial' ? '' : ` ${project.batch_size}`}`)
      const ctx: RunContext = { deps, release, project, hosts, log, signal: controller.signal, target }
      let status: ReleaseStatus = 'success'
      let error: string | null = null
      try {
        await (release.kind === 'rollback' ? runRollback(ctx) : runDeploy(ctx))
      } catch (err) {
        const reason: unknown = controller.signal.aborted ? controller.signal.reason : err
        if (reason instanceof StopRequest) {
          status = reason.status
          error = reason.message
        } else {
          status = 'failed'
          error = messageOf(reason)
          if (!(reason instanceof Error) || reason.name === 'Error' || reason.name === 'TypeError') onError(reason, `release ${release.id} failed`)
        }
      }
      const seconds = ((Date.now() - startedAt.getTime()) / 1000).toFixed(1)
      log.log(null, status === 'success' ? 'info' : 'stderr', status === 'success' ? `finished in ${seconds} s` : `${status} after ${seconds} s: ${error}`)
      log.status(status)
      await log.flush()
      await repo.closeHosts(release.id, status === 'success' ? 'skipped' : 'cancelled')
      await repo.update(release.id, { status, error, finished_at: new Date() })
      await repo.releaseLock(release.id)
      if (release.kind === 'deploy') await pruneArtifacts(project).catch((e) => onError(e, 'pruning artifacts failed'))
    })()
      .catch((err) => onError(err, `release ${release.id} could not be closed`))
      .finally(() => running.delete(release.id))
  }

  /** Keep-N on the console: artifacts of the newest kept successful releases stay for rollback, the rest go. */
  async function pruneArtifacts(project: Project): Promise<void> {
    let kept = 0
    for (const item of await repo.artifacts(project.id)) {
      if (item.status === 'success' && kept < project.keep_releases) {
        kept++
        continue
      }
      if (item.status === 'running' || item.status === 'pending') continue
      await rm(item.artifact, { force: true })
      await repo.update(item.id, { artifact: null })
    }
  }

  async function createLocked(input: Parameters<typeof repo.create>[0]): Promise<number> {
    try {
      return await repo.create(input, config.instanceId)
    } catch (err) {
      if (!(err instanceof ProjectLockedError)) throw err
      // a lock left by a console that died: this instance before its restart (taken before this process
      // started; a lock taken since is a start still on its way to running), or another whose heartbeat stopped
      const holder = err.holder
      const oursFromBefore = holder.owner === config.instanceId && holder.acquired_at.getTime() < bootedAt && !running.has(holder.release_id)
      if (!oursFromBefore && holder.heartbeat_at.getTime() > Date.now() - STALE_MS) throw err
      await interrupt(holder.release_id, 'interrupted: the console running it stopped (its lock went stale)')
      return repo.create(input, config.instanceId)
    }
  }

  async function projectWithHosts(projectId: number): Promise<{ project: Project; hosts: Array<{ server_id: number; hostname: string }> }> {
    const project = await projects.findById(projectId)
    if (!project) throw notFound('project')
    return { project, hosts: project.servers.map((s) => ({ server_id: s.id, hostname: s.hostname })) }
  }

  async function launch(id: number, project: Project, target?: Release): Promise<Release> {
    const release = (await repo.findById(id)) as Release
    await execute(release, project, target)
    return release
  }

  return {
    repo,
    mirrors,

    isRunningHere: (id: number) => running.has(id),

    /** Starts a deploy of a ref; 400 for a bad ref, 409 (ProjectLockedError) when one runs. */
    async start(user: User, projectId: number, rawRef: unknown): Promise<Release> {
      if (!hasRole(user, 'deployer')) throw new HttpError(403, 'Starting a release needs the deployer role')
      if (stopped) throw new HttpError(503, 'The console is shutting down')
      const ref = validateRef(rawRef)
      if (!ref.ok) throw new HttpError(400, ref.error, { ref: ref.error })
      const { project, hosts } = await projectWithHosts(projectId)
      if (!hosts.length) throw new HttpError(400, `${project.title} has no servers: add some on its page first`)
      const id = await createLocked({ project_id: project.id, kind: 'deploy', ref: ref.ref, commit: null, user_id: user.id, rollback_of: null, artifact: null, hosts })
      return launch(id, project)
    },

    /** Rolls a project back to one of its kept successful releases. */
    async rollback(user: User, projectId: number, targetId: number): Promise<Release> {
      if (!hasRole(user, 'deployer')) throw new HttpError(403, 'Rolling back needs the deployer role')
      if (stopped) throw new HttpError(503, 'The console is shutting down')
      const { project, hosts } = await projectWithHosts(projectId)
      const target = (await repo.successful(project.id, project.keep_releases)).find((r) => r.id === targetId)
      if (!target) throw new HttpError(400, `Release #${targetId} is not one of the last ${project.keep_releases} successful releases of ${project.title}`, { target: 'not kept' })
      if (!hosts.length) throw new HttpError(400, `${project.title} has no servers`)
      const id = await createLocked({ project_id: project.id, kind: 'rollback', ref: target.ref, commit: target.commit, user_id: user.id, rollback_of: target.id, artifact: null, hosts })
      return launch(id, project, target)
    },

    /** Cancels a running release: here at once, on another instance at its next heartbeat. */
    async cancel(user: User, id: number): Promise<Release> {
      if (!hasRole(user, 'deployer')) throw new HttpError(403, 'Cancelling a release needs the deployer role')
      const release = await repo.findById(id)
      if (!release) throw notFound('release')
      if (FINISHED.has(release.status)) throw new HttpError(409, `Release #${id} already ended (${release.status})`)
      await repo.requestCancel(id, user.id)
      const here = running.get(id)
      if (here) {
        here.log.log(null, 'info', `cancel asked by ${user.username}: stopping the running commands and skipping the hosts not started`)
        here.controller.abort(new StopRequest('cancelled', `cancelled by ${user.username}`))
      }
      return (await repo.findById(id)) as Release
    },

    /** Waits for a release run by this instance to end (tests, shutdown). */
    async settled(id: number): Promise<void> {
      await running.get(id)?.done
    },

    /** A teammate's message in the release's stream. */
    async chat(user: User, id: number, raw: unknown): Promise<number> {
      const release = await repo.findById(id)
      if (!release) throw notFound('release')
      const body = typeof raw === 'string' ? raw.replace(/\r\n?/g, '\n').trim() : ''
      if (!body) throw new HttpError(400, 'Write a message', { body: 'Write a message' })
      if (body.includes('\0')) throw new HttpError(400, 'The message holds a NUL character', { body: 'NUL character' })
      if ([...body].length > CHAT_MAX) throw new HttpError(400, `A message is at most ${CHAT_MAX} characters`, { body: 'too long' })
      const live = running.get(id)
      if (live) return live.log.chat(user.id, user.username, body)
      let log = idleLogs.get(id)
      if (!log) {
        log = repo.head(id).then((head) => new ReleaseLog(id, repo, hub, head))
        idleLogs.set(id, log)
        // a release running again here (never: ids are not reused) or much chat: keep the map small
        if (idleLogs.size > 1000) idleLogs.delete(idleLogs.keys().next().value as number)
      }
      return (await log).chat(user.id, user.username, body)
    },

    recover,

    /** On close: running releases are stopped and marked interrupted, their commands killed, locks freed. */
    async stop(): Promise<void> {
      stopped = true
      clearInterval(heartbeat)
      for (const entry of running.values()) entry.controller.abort(new StopRequest('interrupted', 'the console was shut down'))
      await Promise.all([...running.values()].map((e) => e.done))
    },

    topic: releaseTopic,
    maskUrl,
  }
}

export type ReleaseService = ReturnType<typeof createReleaseService>
