import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Knex } from 'knex'
import { createKnex, isForeignKeyViolation, isUniqueViolation } from '../../server/db/connection.ts'
import { loadConfig } from '../../server/config.ts'
import { createTestDatabase } from '../helper.ts'

const run = promisify(execFile)
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

const TABLES = [
  'servers',
  'projects',
  'project_servers',
  'credentials',
  'users',
  'api_tokens',
  'sessions',
  'releases',
  'release_hosts',
  'release_events',
  'assets',
  'asset_changes',
  'audit_log',
]

/** A fresh, empty database of the test's own, with a knex on it and its environment. */
async function freshDatabase(t: TestContext): Promise<{ knex: Knex; env: Record<string, string> }> {
  const db = await createTestDatabase(t)
  const knex = createKnex(loadConfig({ LOG_LEVEL: 'silent', ...db.env }).database)
  t.after(() => knex.destroy())
  return { knex, env: db.env }
}

async function existing(knex: Knex): Promise<string[]> {
  const found: string[] = []
  for (const table of TABLES) if (await knex.schema.hasTable(table)) found.push(table)
  return found
}

async function migrated(t: TestContext): Promise<Knex> {
  const { knex } = await freshDatabase(t)
  await knex.migrate.latest()
  return knex
}

const now = () => new Date()

test('migrations go up, all the way down and up again, creating and dropping all 13 tables', async (t) => {
  const { knex } = await freshDatabase(t)
  assert.deepEqual(await existing(knex), [])
  await knex.migrate.latest()
  assert.deepEqual(await existing(knex), TABLES)
  await knex.migrate.rollback(undefined, true)
  assert.deepEqual(await existing(knex), [])
  await knex.migrate.latest()
  assert.deepEqual(await existing(knex), TABLES)
  const [, pending] = (await knex.migrate.list()) as [unknown[], unknown[]]
  assert.equal(pending.length, 0)
})

test('foreign keys are enforced: a project_servers row naming a missing server is refused', async (t) => {
  const knex = await migrated(t)
  const [projectId] = await knex('projects').insert({ title: 'shop', repo_url: 'https://example.com/shop.git', deploy_path: '/srv/shop', created_at: now(), updated_at: now() })
  await assert.rejects(knex('project_servers').insert({ project_id: Number(projectId), server_id: 999 }), (err) => {
    assert.ok(isForeignKeyViolation(err), `not a foreign key error: ${(err as Error).message}`)
    return true
  })
  assert.equal(Number((await knex('project_servers').count({ n: '*' }).first())?.n), 0)
})

test('a server hostname is unique in the database', async (t) => {
  const knex = await migrated(t)
  const server = { hostname: 'web-01', address: '10.0.0.1', created_at: now(), updated_at: now() }
  await knex('servers').insert(server)
  await assert.rejects(knex('servers').insert({ ...server, address: '10.0.0.2' }), (err) => {
    assert.ok(isUniqueViolation(err), `not a unique violation: ${(err as Error).message}`)
    return true
  })
})

test('npm run migrate and npm run migrate:rollback work on the configured database', async (t) => {
  const { knex, env } = await freshDatabase(t)
  // the child sees only this test's database, whatever DATABASE_URL the suite runs with
  const childEnv: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'silent', ...env }
  if (!env.DATABASE_URL) delete childEnv.DATABASE_URL
  const up = await run('npm', ['run', '--silent', 'migrate'], { cwd: ROOT, env: childEnv })
  assert.match(up.stdout, /applied \d+: 20261123000001_create_users.ts, /)
  assert.deepEqual(await existing(knex), TABLES)
  const again = await run('npm', ['run', '--silent', 'migrate'], { cwd: ROOT, env: childEnv })
  assert.match(again.stdout, /already up to date/)
  const down = await run('npm', ['run', '--silent', 'migrate:rollback'], { cwd: ROOT, env: childEnv })
  assert.match(down.stdout, /rolled back \d+: /)
  assert.deepEqual(await existing(knex), [])
})
