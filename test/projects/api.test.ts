import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import type { FastifyInstance } from 'fastify'
import { buildTestApp, countRows, signIn, type Client } from '../helper.ts'
import { createServersRepository } from '../../server/servers/repository.ts'
import { createUsersRepository } from '../../server/users/repository.ts'

async function addServer(app: FastifyInstance, hostname: string): Promise<number> {
  const server = await createServersRepository(app.knex).create({ hostname, address: hostname, port: 22, username: 'root', credential_id: null, env: 'test', tags: [], notes: '' })
  return server.id
}

function body(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { title: 'shop', repo_url: 'https://git.example.com/shop.git', env: 'prod', deploy_path: '/srv/shop', ...overrides }
}

async function setup(t: TestContext): Promise<{ app: FastifyInstance; admin: Awaited<ReturnType<typeof signIn>>; web: number; db: number }> {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  return { app, admin, web: await addServer(app, 'web-01'), db: await addServer(app, 'db-01') }
}

async function create(admin: Client, overrides: Record<string, unknown> = {}): Promise<Record<string, unknown> & { id: number }> {
  const res = await admin.json('POST', '/api/projects', body(overrides))
  assert.equal(res.statusCode, 201, res.body)
  return res.json()
}

test('POST /api/projects creates a project and answers 201 with its JSON', async (t) => {
  const { app, admin, web } = await setup(t)
  const res = await admin.json('POST', '/api/projects', body({ server_ids: [web], hooks: { after_deploy: 'systemctl reload shop' } }))
  assert.equal(res.statusCode, 201)
  const json = res.json()
  assert.equal(res.headers.location, `/api/projects/${json.id}`)
  assert.deepEqual(
    { ...json, id: 0, created_at: '', updated_at: '' },
    {
      id: 0,
      title: 'shop',
      repo_url: 'https://git.example.com/shop.git',
      env: 'prod',
      deploy_path: '/srv/shop',
      server_ids: [web],
      servers: [{ id: web, hostname: 'web-01' }],
      keep_releases: 5,
      rollout: 'parallel',
      batch_size: 10,
      stop_on_failure: true,
      hooks: { before_download: '', after_download: '', before_deploy: '', after_deploy: 'systemctl reload shop' },
      created_at: '',
      updated_at: '',
    },
  )
  assert.match(json.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  assert.ok(await app.knex('audit_log').where({ action: 'project.create' }).first())
})

test('GET /api/projects lists, searches and pages projects', async (t) => {
  const { admin, web } = await setup(t)
  await create(admin, { title: 'alpha', server_ids: [web] })
  await create(admin, { title: 'beta', repo_url: 'git@git.example.com:team/needle.git' })
  const all = await admin.json('GET', '/api/projects')
  assert.equal(all.statusCode, 200)
  const json = all.json()
  assert.equal(json.total, 2)
  assert.equal(json.per_page, 50)
  assert.deepEqual(json.items.map((p: { title: string }) => p.title), ['alpha', 'beta'])
  assert.deepEqual(json.items[0].servers, [{ id: web, hostname: 'web-01' }])
  const found = (await admin.json('GET', '/api/projects?q=needle')).json()
  assert.deepEqual(found.items.map((p: { title: string }) => p.title), ['beta'])
})

test('GET /api/projects/:id answers the project, 404 for unknown or non-numeric ids', async (t) => {
  const { admin } = await setup(t)
  const project = await create(admin)
  const res = await admin.json('GET', `/api/projects/${project.id}`)
  assert.equal(res.statusCode, 200)
  assert.equal(res.json().title, 'shop')
  for (const id of ['9999', 'abc', '-1']) {
    const missing = await admin.json('GET', `/api/projects/${id}`)
    assert.equal(missing.statusCode, 404, id)
    assert.equal(missing.json().error, 'Project not found')
  }
  assert.equal((await admin.json('PATCH', '/api/projects/9999', { title: 'x' })).statusCode, 404)
  assert.equal((await admin.json('DELETE', '/api/projects/9999')).statusCode, 404)
})

test('PATCH changes only the fields sent, hooks one by one', async (t) => {
  const { admin, web } = await setup(t)
  const project = await create(admin, { server_ids: [web], keep_releases: 8, hooks: { before_deploy: 'echo before', after_deploy: 'echo after' } })
  const res = await admin.json('PATCH', `/api/projects/${project.id}`, { title: 'shop-2', hooks: { after_deploy: 'echo changed' } })
  assert.equal(res.statusCode, 200, res.body)
  const json = res.json()
  assert.equal(json.title, 'shop-2')
  assert.equal(json.keep_releases, 8)
  assert.equal(json.env, 'prod')
  assert.equal(json.stop_on_failure, true)
  assert.deepEqual(json.server_ids, [web])
  assert.deepEqual(json.hooks, { before_download: '', after_download: '', before_deploy: 'echo before', after_deploy: 'echo changed' })
})

test('PATCH with server_ids replaces the set; an empty list clears it', async (t) => {
  const { app, admin, web, db } = await setup(t)
  const project = await create(admin, { server_ids: [web] })
  const replaced = await admin.json('PATCH', `/api/projects/${project.id}`, { server_ids: [db, web] })
  assert.equal(replaced.statusCode, 200)
  assert.deepEqual([...replaced.json().server_ids].sort(), [web, db].sort())
  const cleared = await admin.json('PATCH', `/api/projects/${project.id}`, { server_ids: [] })
  assert.deepEqual(cleared.json().server_ids, [])
  assert.equal(await countRows(app, 'project_servers'), 0)
})

test('DELETE answers 204 and removes the project and its links', async (t) => {
  const { app, admin, web } = await setup(t)
  const project = await create(admin, { server_ids: [web] })
  const res = await admin.json('DELETE', `/api/projects/${project.id}`)
  assert.equal(res.statusCode, 204)
  assert.equal(res.body, '')
  assert.equal(await countRows(app, 'projects'), 0)
  assert.equal(await countRows(app, 'project_servers'), 0)
  assert.equal((await admin.json('GET', `/api/projects/${project.id}`)).statusCode, 404)
  assert.ok(await app.knex('audit_log').where({ action: 'project.delete' }).first())
})

const WRONG: Array<[string, Record<string, unknown>, string]> = [
  ['keep_releases that is text', { keep_releases: 'abc' }, 'keep_releases'],
  ['keep_releases out of range', { keep_releases: 51 }, 'keep_releases'],
  ['server_ids that is a string', { server_ids: 'x' }, 'server_ids'],
  ['server_ids holding a non-id', { server_ids: [1, 'x'] }, 'server_ids'],
  ['hooks that is not an object', { hooks: 'echo hi' }, 'hooks'],
  ['hooks that is an array', { hooks: ['echo hi'] }, 'hooks'],
  ['an unknown hook', { hooks: { after_build: 'make' } }, 'hooks'],
  ['a hook that is not text', { hooks: { before_deploy: { run: 'x' } } }, 'hooks.before_deploy'],
  ['a hook over 64 KiB of multibyte text', { hooks: { before_deploy: '€'.repeat(30_000) } }, 'hooks.before_deploy'],
  ['a title that is not text', { title: ['shop'] }, 'title'],
  ['stop_on_failure that is not a boolean', { stop_on_failure: 'maybe' }, 'stop_on_failure'],
  ['an unknown rollout', { rollout: 'sideways' }, 'rollout'],
  ['a deploy path of /', { deploy_path: '/' }, 'deploy_path'],
  ['an unknown server id', { server_ids: [99999] }, 'server_ids'],
]

for (const [what, change, field] of WRONG) {
  test(`POST with ${what} is 400 with details.${field} and writes nothing`, async (t) => {
    const { app, admin } = await setup(t)
    const res = await admin.json('POST', '/api/projects', body(change))
    assert.equal(res.statusCode, 400, res.body)
    const json = res.json()
    assert.match(json.error, /Validation failed/)
    assert.equal(typeof json.details[field], 'string', JSON.stringify(json.details))
    assert.equal(await countRows(app, 'projects'), 0)
  })
}

test('PATCH with a wrong type is 400 and changes nothing', async (t) => {
  const { app, admin, web } = await setup(t)
  const project = await create(admin, { server_ids: [web] })
  const before = await app.knex('projects').where({ id: project.id }).first()
  const res = await admin.json('PATCH', `/api/projects/${project.id}`, { title: 'renamed', server_ids: 'x' })
  assert.equal(res.statusCode, 400)
  assert.equal(res.json().details.server_ids, 'Servers must be a list of ids')
  assert.deepEqual(await app.knex('projects').where({ id: project.id }).first(), before)
  assert.equal(await countRows(app, 'project_servers'), 1)
})

test('an unknown server id is 400 and names the server', async (t) => {
  const { admin, web } = await setup(t)
  const res = await admin.json('POST', '/api/projects', body({ server_ids: [web, 424242] }))
  assert.equal(res.statusCode, 400)
  assert.equal(res.json().details.server_ids, 'Server 424242 does not exist')
})

test('malformed JSON and a non-object body are 400', async (t) => {
  const { app, admin } = await setup(t)
  const headers = { 'content-type': 'application/json', accept: 'application/json', 'x-csrf-token': admin.csrf }
  const broken = await admin.request({ method: 'POST', url: '/api/projects', headers, payload: '{"title": "shop",' })
  assert.equal(broken.statusCode, 400)
  assert.match(broken.json().error, /not valid JSON/i)
  const array = await admin.json('POST', '/api/projects', [body()])
  assert.equal(array.statusCode, 400)
  assert.equal(array.json().error, 'The body must be a JSON object')
  assert.equal(await countRows(app, 'projects'), 0)
})

test('a duplicate title is 409 on create and on rename', async (t) => {
  const { app, admin } = await setup(t)
  await create(admin, { title: 'shop' })
  const other = await create(admin, { title: 'other' })
  const dup = await admin.json('POST', '/api/projects', body({ title: 'shop' }))
  assert.equal(dup.statusCode, 409)
  assert.match(dup.json().error, /already exists/)
  const renamed = await admin.json('PATCH', `/api/projects/${other.id}`, { title: 'shop' })
  assert.equal(renamed.statusCode, 409)
  assert.equal(await countRows(app, 'projects'), 2)
})

for (const role of ['viewer', 'deployer'] as const) {
  test(`a ${role} reads the API but gets 403 on POST, PATCH and DELETE`, async (t) => {
    const { app, admin } = await setup(t)
    const project = await create(admin)
    const client = await signIn(app, role)
    assert.equal((await client.json('GET', '/api/projects')).statusCode, 200)
    assert.equal((await client.json('GET', `/api/projects/${project.id}`)).statusCode, 200)
    assert.equal((await client.json('POST', '/api/projects', body({ title: 'new' }))).statusCode, 403)
    assert.equal((await client.json('PATCH', `/api/projects/${project.id}`, { title: 'changed' })).statusCode, 403)
    assert.equal((await client.json('DELETE', `/api/projects/${project.id}`)).statusCode, 403)
    assert.deepEqual(await app.knex('projects').pluck('title'), ['shop'])
  })
}

test('a session call without the CSRF header is 403 and changes nothing', async (t) => {
  const { app, admin } = await setup(t)
  const project = await create(admin)
  assert.equal((await admin.json('POST', '/api/projects', body({ title: 'new' }), { csrf: null })).statusCode, 403)
  assert.equal((await admin.json('PATCH', `/api/projects/${project.id}`, { title: 'x' }, { csrf: 'forged' })).statusCode, 403)
  assert.equal((await admin.json('DELETE', `/api/projects/${project.id}`, undefined, { csrf: null })).statusCode, 403)
  assert.deepEqual(await app.knex('projects').pluck('title'), ['shop'])
})

test('an admin API token creates a project without a session or CSRF token', async (t) => {
  const { app, admin } = await setup(t)
  const { token } = await createUsersRepository(app.knex).createToken(admin.user.id, 'ci')
  const res = await app.inject({
    method: 'POST',
    url: '/api/projects',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    payload: JSON.stringify(body({ rollout: 'serial', stop_on_failure: false })),
  })
  assert.equal(res.statusCode, 201, res.body)
  assert.equal(res.json().rollout, 'serial')
  assert.equal(res.json().stop_on_failure, false)
})

test('a stop_on_failure that is not a boolean is refused with its name in the message', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const res = await admin.json('POST', '/api/projects', { title: 'Flags', repo_url: 'https://git.example.com/flags.git', env: 'test', deploy_path: '/srv/flags', stop_on_failure: 'sometimes' })
  assert.equal(res.statusCode, 400)
  assert.equal(res.json().details.stop_on_failure, 'Stop on failure must be true or false')
})
