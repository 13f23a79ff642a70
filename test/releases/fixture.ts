import { existsSync, readFileSync, readlinkSync, readdirSync } from 'node:fs'
import path from 'node:path'
import type { TestContext } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../server/app.ts'
import type { Config } from '../../server/config.ts'
import { createProjectsRepository, type Project, type ProjectInput } from '../../server/projects/repository.ts'
import type { Release } from '../../server/releases/repository.ts'
import type { Server } from '../../server/servers/repository.ts'
import type { User } from '../../server/users/repository.ts'
import { createRepo, type TestRepo } from '../support/git-repo.ts'
import { startSshds, type SshHost, type SshdOptions } from '../support/sshd.ts'
import { serversFor } from '../support/servers.ts'
import { createUser, testConfig } from '../helper.ts'

export interface DeployFixture {
  app: FastifyInstance
  config: Config
  hosts: SshHost[]
  servers: Server[]
  repo: TestRepo
  project: Project
  admin: User
  /** Starts a deploy as the admin and waits for it to end. */
  deploy(ref: string): Promise<Release>
  /** Waits for a release run by this app to end and returns it as stored. */
  settled(id: number): Promise<Release>
  /** The deploy path on a host's disk (each loopback sshd has its own HOME). */
  deployPath(host: SshHost): string
  /** What `current` points at on a host, as a release number; null when missing. */
  currentOn(host: SshHost): number | null
  /** Release directories present on a host, numerically sorted. */
  releasesOn(host: SshHost): number[]
  /** The whole stored log of a release as text lines "host|stream|body". */
  logOf(id: number): Promise<string[]>
  update(fields: Partial<ProjectInput>): Promise<void>
}

/**
 * A console on its own database with `n` real loopback sshd servers (one key
 * credential each), a real git repository with a commit on main, and a
 * project deploying it to `~/app` on every server.
 */
export async function deployFixture(t: TestContext, opts: { hosts?: number; project?: Partial<ProjectInput>; sshd?: SshdOptions; env?: Record<string, string>; config?: Config } = {}): Promise<DeployFixture> {
  const hosts = await startSshds(t, opts.hosts ?? 3, opts.sshd ?? {})
  const config = opts.config ?? (await testConfig(t, opts.env ?? {}))
  const app = await buildApp(config, { logger: false })
  t.after(() => app.close())
  await app.ready()
  const repo = await createRepo(t)
  await repo.commit('first version', { 'index.html': '<h1>v1</h1>\n', 'app/main.txt': 'one\n' })
  const servers = await serversFor(app, config.secretKey, hosts, (i) => `web${i + 1}`)
  const projects = createProjectsRepository(app.knex)
  let project = await projects.create({
    title: `shop ${hosts[0]?.port ?? 0}`,
    repo_url: repo.url,
    env: 'test',
    deploy_path: '~/app',
    keep_releases: 3,
    rollout: 'parallel',
    batch_size: 10,
    stop_on_failure: true,
    hook_before_download: '',
    hook_after_download: '',
    hook_before_deploy: '',
    hook_after_deploy: '',
    server_ids: servers.map((s) => s.id),
    ...opts.project,
  })
  const admin = await createUser(app, `admin-${hosts[0]?.port ?? 0}`, 'admin')
  const deployPath = (host: SshHost) => path.join(host.dir, 'home', 'app')

  const fixture: DeployFixture = {
    app,
    config,
    hosts,
    servers,
    repo,
    get project() {
      return project
    },
    admin,
    async deploy(ref) {
      const release = await app.releases.start(admin, project.id, ref)
      return fixture.settled(release.id)
    },
    async settled(id) {
      await app.releases.settled(id)
      return (await app.releases.repo.findById(id)) as Release
    },
    deployPath,
    currentOn(host) {
      const link = path.join(deployPath(host), 'current')
      if (!existsSync(link)) return null
      const match = /\/releases\/(\d+)$/.exec(readlinkSync(link))
      return match ? Number(match[1]) : null
    },
    releasesOn(host) {
      const dir = path.join(deployPath(host), 'releases')
      if (!existsSync(dir)) return []
      return readdirSync(dir)
        .filter((n) => /^\d+$/.test(n))
        .map(Number)
        .sort((a, b) => a - b)
    },
    async logOf(id) {
      const events = await app.releases.repo.eventsAfter(id, 0, null, 1_000_000)
      return events.filter((e) => e.kind === 'log').map((e) => `${e.host ?? ''}|${e.stream}|${e.body}`)
    },
    async update(fields) {
      project = (await projects.update(project.id, fields)) as Project
    },
  }
  return fixture
}

export function fileOn(fixture: DeployFixture, host: SshHost, relative: string): string {
  return readFileSync(path.join(fixture.deployPath(host), relative), 'utf8')
}
