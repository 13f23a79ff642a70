import type { TestContext } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { buildTestApp, signIn } from '../helper.ts'
import { createServersRepository } from '../../server/servers/repository.ts'
import { createProjectsRepository, type ProjectInput } from '../../server/projects/repository.ts'

// Shared by the project page tests: direct inserts (fast) and a form that passes validation.

/** What Eta's <%= %> makes of a value, to find typed values in a re-rendered form. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string)
}

export async function addServer(app: FastifyInstance, hostname: string): Promise<number> {
  const server = await createServersRepository(app.knex).create({ hostname, address: hostname, port: 22, username: 'root', credential_id: null, env: 'test', tags: [], notes: '' })
  return server.id
}

export async function addProject(app: FastifyInstance, input: Partial<ProjectInput> = {}) {
  return app.knex.transaction((trx) =>
    createProjectsRepository(app.knex).create(
      {
        title: 'shop',
        repo_url: 'https://git.example.com/shop.git',
        env: 'test',
        deploy_path: '/srv/shop',
        keep_releases: 5,
        rollout: 'parallel',
        batch_size: 10,
        stop_on_failure: true,
        hook_before_download: '',
        hook_after_download: '',
        hook_before_deploy: '',
        hook_after_deploy: '',
        server_ids: [],
        ...input,
      },
      trx,
    ),
  )
}

/** A form that passes validation; each invalid case changes one field. */
export function validForm(overrides: Record<string, string | string[]> = {}): Record<string, string | string[]> {
  return {
    title: 'shop-frontend',
    repo_url: 'git@git.example.com:team/shop.git',
    env: 'prod',
    deploy_path: '/srv/shop',
    keep_releases: '7',
    rollout: 'batch',
    batch_size: '3',
    stop_on_failure: 'on',
    hook_before_download: '',
    hook_after_download: 'npm ci\nnpm run build',
    hook_before_deploy: '',
    hook_after_deploy: 'systemctl reload shop',
    ...overrides,
  }
}

export async function setup(t: TestContext): Promise<{ app: FastifyInstance; admin: Awaited<ReturnType<typeof signIn>>; web: number; db: number }> {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  return { app, admin, web: await addServer(app, 'web-01'), db: await addServer(app, 'db-01') }
}

