import { test } from 'node:test'
import assert from 'node:assert/strict'
import { countRows, signIn } from '../helper.ts'
import { addProject, escapeHtml, setup, validForm } from './fixtures.ts'

const INVALID: Array<[string, Record<string, string | string[]>, string]> = [
  ['a missing title', { title: '' }, 'Title is required'],
  ['a title over 128 characters', { title: 'x'.repeat(129) }, 'Title is too long'],
  ['a title with control characters', { title: 'shop\u0007' }, 'Title must not contain control characters'],
  ['a missing repository URL', { repo_url: '' }, 'Repository URL is required'],
  ['an unsupported repository URL', { repo_url: 'ftp://example.com/x.git' }, 'Repository URL must be'],
  ['a repository URL that looks like an option', { repo_url: '-oProxyCommand=touch' }, 'Repository URL must be'],
  ['an unknown environment', { env: 'moon' }, 'Environment must be one of'],
  ['a missing deploy path', { deploy_path: '' }, 'Deploy path is required'],
  ['a relative deploy path', { deploy_path: 'srv/shop' }, 'Deploy path must be an absolute path'],
  ['a deploy path with shell characters', { deploy_path: '/srv/shop;rm -rf ~' }, 'Deploy path must be an absolute path'],
  ['a deploy path climbing out with ..', { deploy_path: '/srv/../etc' }, 'Deploy path must be an absolute path'],
  ['the root as deploy path', { deploy_path: '/' }, 'Deploy path must not be the root directory'],
  ['keep releases of 0', { keep_releases: '0' }, 'Keep releases must be between 1 and 50'],
  ['keep releases of 51', { keep_releases: '51' }, 'Keep releases must be between 1 and 50'],
  ['keep releases that is not a number', { keep_releases: 'abc' }, 'Keep releases must be a whole number'],
  ['an unknown rollout', { rollout: 'random' }, 'Rollout must be one of: parallel, serial, batch'],
  ['a batch size of 0', { batch_size: '0' }, 'Batch size must be between 1 and 1000'],
  ['a batch size over 1000', { batch_size: '1001' }, 'Batch size must be between 1 and 1000'],
  ['a hook over 65,000 characters', { hook_before_deploy: 'x'.repeat(65_001) }, 'Before deploy hook is too long'],
  ['an unknown server', { server_ids: '99999' }, 'Server 99999 does not exist'],
  ['a server id that is not a number', { server_ids: 'abc' }, 'Servers must be a list of ids'],
]

for (const [what, change, message] of INVALID) {
  test(`creating a project with ${what} re-renders 400 with the message and the values, writing nothing`, async (t) => {
    const { app, admin, web } = await setup(t)
    const form = validForm({ server_ids: String(web), ...change })
    const audited = await countRows(app, 'audit_log')
    const res = await admin.form('/projects', form)
    assert.equal(res.statusCode, 400)
    assert.ok(res.body.includes(escapeHtml(message)), `expected "${message}"`)
    for (const [name, value] of Object.entries(form)) {
      if (typeof value !== 'string' || !value || name === 'stop_on_failure' || name === 'server_ids') continue
      if (['env', 'rollout'].includes(name) && name in change) continue // a select can only show its options
      assert.ok(res.body.includes(escapeHtml(value)), `the ${name} typed is kept`)
    }
    if (!('server_ids' in change)) assert.match(res.body, new RegExp(`value="${web}" checked`))
    assert.match(res.body, /name="stop_on_failure" value="on" checked/)
    assert.equal(await countRows(app, 'projects'), 0)
    assert.equal(await countRows(app, 'project_servers'), 0)
    assert.equal(await countRows(app, 'audit_log'), audited)
  })
}

test('an invalid edit re-renders 400 and changes nothing', async (t) => {
  const { app, admin, web } = await setup(t)
  const project = await addProject(app, { server_ids: [web] })
  const before = await app.knex('projects').where({ id: project.id }).first()
  const res = await admin.form(`/projects/${project.id}`, validForm({ title: 'renamed', keep_releases: '99', server_ids: [] }))
  assert.equal(res.statusCode, 400)
  assert.match(res.body, /Keep releases must be between 1 and 50/)
  assert.match(res.body, /value="renamed"/)
  assert.deepEqual(await app.knex('projects').where({ id: project.id }).first(), before)
  assert.equal(await countRows(app, 'project_servers'), 1)
})

test('a duplicate title says it already exists on create and on edit', async (t) => {
  const { app, admin } = await setup(t)
  await addProject(app, { title: 'shop' })
  const other = await addProject(app, { title: 'other' })
  const created = await admin.form('/projects', validForm({ title: 'shop' }))
  assert.equal(created.statusCode, 400)
  assert.match(created.body, /A project titled shop already exists/)
  assert.equal(await countRows(app, 'projects'), 2)
  const edited = await admin.form(`/projects/${other.id}`, validForm({ title: 'shop' }))
  assert.equal(edited.statusCode, 400)
  assert.match(edited.body, /already exists/)
  assert.equal((await app.knex('projects').where({ id: other.id }).first()).title, 'other')
})

test('unknown and non-numeric project ids are 404 on every page', async (t) => {
  const { admin } = await setup(t)
  for (const id of ['9999', 'abc', '0', '1e3']) {
    assert.equal((await admin.get(`/projects/${id}`)).statusCode, 404, `show ${id}`)
    assert.equal((await admin.get(`/projects/${id}/edit`)).statusCode, 404, `edit ${id}`)
    assert.equal((await admin.get(`/projects/${id}/delete`)).statusCode, 404, `confirm ${id}`)
    assert.equal((await admin.form(`/projects/${id}`, validForm())).statusCode, 404, `update ${id}`)
    assert.equal((await admin.form(`/projects/${id}/delete`)).statusCode, 404, `delete ${id}`)
  }
})

for (const role of ['viewer', 'deployer'] as const) {
  test(`a ${role} can read projects but gets 403 on every mutation`, async (t) => {
    const { app } = await setup(t)
    const project = await addProject(app)
    const client = await signIn(app, role)
    assert.equal((await client.get('/projects')).statusCode, 200)
    assert.equal((await client.get(`/projects/${project.id}`)).statusCode, 200)
    for (const url of ['/projects/new', `/projects/${project.id}/edit`, `/projects/${project.id}/delete`]) {
      assert.equal((await client.get(url)).statusCode, 403, url)
    }
    assert.equal((await client.form('/projects', validForm({ title: 'new' }))).statusCode, 403)
    assert.equal((await client.form(`/projects/${project.id}`, validForm({ title: 'changed' }))).statusCode, 403)
    assert.equal((await client.form(`/projects/${project.id}/delete`)).statusCode, 403)
    const rows = await app.knex('projects').pluck('title')
    assert.deepEqual(rows, ['shop'])
  })
}

test('a missing or invalid CSRF token is refused with 403 and changes nothing', async (t) => {
  const { app, admin } = await setup(t)
  const project = await addProject(app)
  const audited = await countRows(app, 'audit_log')
  for (const csrf of [null, 'forged-token']) {
    assert.equal((await admin.form('/projects', validForm({ title: 'new' }), { csrf })).statusCode, 403)
    assert.equal((await admin.form(`/projects/${project.id}`, validForm({ title: 'changed' }), { csrf })).statusCode, 403)
    assert.equal((await admin.form(`/projects/${project.id}/delete`, {}, { csrf })).statusCode, 403)
  }
  assert.deepEqual(await app.knex('projects').pluck('title'), ['shop'])
  assert.equal(await countRows(app, 'audit_log'), audited)
})
