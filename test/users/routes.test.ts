import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { FastifyInstance } from 'fastify'
import { buildTestApp, Client, countRows, createUser, signIn, TEST_PASSWORD } from '../helper.ts'
import { createUsersRepository } from '../../server/users/repository.ts'

// signIn leaves each client holding its session's CSRF token, valid for every form
const NEW_USER = { username: 'alice', display_name: 'Alice Liddell', role: 'deployer', password: 'wonderland-1', password_confirm: 'wonderland-1' }

/** Signs in through the real login form in a fresh browser; the status says whether it worked. */
async function loginStatus(app: FastifyInstance, username: string, password: string): Promise<number> {
  const client = new Client(app)
  await client.get('/login')
  return (await client.form('/login', { username, password })).statusCode
}

async function audited(app: FastifyInstance, action: string): Promise<Array<{ detail: string }>> {
  return app.knex('audit_log').where({ action }).select('detail')
}

test('an admin creates a user, who can then sign in', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const res = await admin.form('/users', NEW_USER)
  assert.equal(res.statusCode, 302)
  const created = await createUsersRepository(app.knex).findByUsernameWithHash('alice')
  assert.ok(created)
  assert.equal(res.headers.location, `/users/${created.id}`)
  assert.equal(created.role, 'deployer')
  assert.equal(created.display_name, 'Alice Liddell')
  assert.ok(!created.password_hash.includes('wonderland'))
  assert.equal((await audited(app, 'user.create')).length, 1)
  assert.ok(!JSON.stringify(await app.knex('audit_log').select('detail')).includes('wonderland'))
  assert.equal(await loginStatus(app, 'alice', 'wonderland-1'), 302)
})

test('the user list is searchable, sortable and counts users', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin', 'root-admin')
  await createUser(app, 'zed', 'viewer')
  await createUser(app, 'bob-builder', 'deployer')
  const all = await admin.get('/users?sort=username&dir=desc')
  assert.equal(all.statusCode, 200)
  assert.match(all.body, /3 in all/)
  assert.ok(all.body.indexOf('>zed<') < all.body.indexOf('>bob-builder<'))
  assert.match(all.body, /data-delete="\/users\/\d+\/delete"/)
  assert.match(all.body, /data-row="user-\d+"/)
  const found = await admin.get('/users?q=builder')
  assert.match(found.body, /bob-builder/)
  assert.doesNotMatch(found.body, />zed</)
  assert.match(found.body, /1 in all/)
  for (const sort of ['role', 'created_at', 'last_login_at']) assert.equal((await admin.get(`/users?sort=${sort}`)).statusCode, 200)
})

const INVALID: Array<[string, Record<string, string>, RegExp]> = [
  ['a missing username', { username: '' }, /Username is required/],
  ['a username with a space', { username: 'al ice' }, /Username may hold letters/],
  ['an unknown role', { role: 'root' }, /Role must be one of/],
  ['a short password', { password: 'short', password_confirm: 'short' }, /at least 8 characters/],
  ['passwords that differ', { password_confirm: 'wonderland-2' }, /The two passwords differ/],
  ['a display name too long', { display_name: 'x'.repeat(129) }, /Display name is too long/],
]
for (const [what, change, message] of INVALID) {
  test(`creating a user with ${what} re-renders the form with 400 and writes nothing`, async (t) => {
    const app = await buildTestApp(t)
    const admin = await signIn(app, 'admin')
    const before = await countRows(app, 'users')
    const res = await admin.form('/users', { ...NEW_USER, display_name: 'Typed <Name>', ...change })
    assert.equal(res.statusCode, 400)
    assert.match(res.body, message)
    if (!('display_name' in change)) assert.match(res.body, /value="Typed &lt;Name&gt;"/)
    assert.doesNotMatch(res.body, /wonderland/, 'passwords are not echoed back')
    assert.equal(await countRows(app, 'users'), before)
    assert.equal((await audited(app, 'user.create')).length, 0)
  })
}

test('a duplicate username says it already exists, whatever its case', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  await createUser(app, 'alice', 'viewer')
  const before = await countRows(app, 'users')
  for (const username of ['alice', 'ALICE']) {
    const res = await admin.form('/users', { ...NEW_USER, username })
    assert.equal(res.statusCode, 400)
    assert.match(res.body, /already exists/)
    assert.match(res.body, new RegExp(`value="${username}"`))
  }
  assert.equal(await countRows(app, 'users'), before)
})

test('an admin edits a user and may set a new password without the current one', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const bob = await createUser(app, 'bob', 'viewer')
  assert.match((await admin.get(`/users/${bob.id}/edit`)).body, /value="bob"/)
  const res = await admin.form(`/users/${bob.id}`, { username: 'robert', display_name: 'Robert', role: 'deployer', password: 'brand-new-pw', password_confirm: 'brand-new-pw' })
  assert.equal(res.statusCode, 302)
  const saved = await createUsersRepository(app.knex).findById(bob.id)
  assert.deepEqual([saved?.username, saved?.role], ['robert', 'deployer'])
  assert.match((await audited(app, 'user.update'))[0]?.detail ?? '', /role viewer → deployer/)
  assert.equal((await audited(app, 'user.password')).length, 1)
  assert.equal(await loginStatus(app, 'robert', 'brand-new-pw'), 302)
})

test('editing with an empty password keeps the old one', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const bob = await createUser(app, 'bob', 'viewer')
  assert.equal((await admin.form(`/users/${bob.id}`, { username: 'bob', display_name: 'B', role: 'viewer', password: '', password_confirm: '' })).statusCode, 302)
  assert.equal(await loginStatus(app, 'bob', TEST_PASSWORD), 302)
})

test('an invalid edit re-renders with 400, keeps the values and changes nothing', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const bob = await createUser(app, 'bob', 'viewer')
  await createUser(app, 'carol', 'viewer')
  const dup = await admin.form(`/users/${bob.id}`, { username: 'carol', display_name: 'Kept name', role: 'deployer' })
  assert.equal(dup.statusCode, 400)
  assert.match(dup.body, /already exists/)
  assert.match(dup.body, /value="Kept name"/)
  const short = await admin.form(`/users/${bob.id}`, { username: 'bob', display_name: 'B', role: 'viewer', password: 'short' })
  assert.equal(short.statusCode, 400)
  assert.match(short.body, /at least 8 characters/)
  const saved = await createUsersRepository(app.knex).findById(bob.id)
  assert.deepEqual([saved?.username, saved?.role], ['bob', 'viewer'])
  assert.equal((await audited(app, 'user.update')).length, 0)
})

test('an admin deletes a user after a confirmation page; the user is gone', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const bob = await createUser(app, 'bob', 'viewer')
  const confirm = await admin.get(`/users/${bob.id}/delete`)
  assert.equal(confirm.statusCode, 200)
  assert.match(confirm.body, /Delete user bob\?/)
  const res = await admin.form(`/users/${bob.id}/delete`)
  assert.equal(res.statusCode, 302)
  assert.equal(res.headers.location, '/users')
  assert.equal(await createUsersRepository(app.knex).findById(bob.id), null)
  assert.deepEqual((await audited(app, 'user.delete')).map((r) => r.detail), ['bob'])
})

test('a deleted user\'s open session no longer authenticates', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const viewer = await signIn(app, 'viewer')
  assert.equal((await viewer.get(`/users/${viewer.user.id}`)).statusCode, 200)
  assert.equal((await admin.form(`/users/${viewer.user.id}/delete`)).statusCode, 302)
  const res = await viewer.get('/servers')
  assert.equal(res.statusCode, 302)
  assert.match(String(res.headers.location), /^\/login/)
})

test('the last admin cannot be demoted', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const res = await admin.form(`/users/${admin.user.id}`, { username: admin.user.username, display_name: '', role: 'viewer' })
  assert.equal(res.statusCode, 400)
  assert.match(res.body, /At least one admin must remain/)
  assert.equal((await createUsersRepository(app.knex).findById(admin.user.id))?.role, 'admin')
})

test('an admin may be demoted while another admin remains', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const other = await createUser(app, 'other-admin', 'admin')
  assert.equal((await admin.form(`/users/${other.id}`, { username: 'other-admin', display_name: '', role: 'viewer' })).statusCode, 302)
  assert.equal((await createUsersRepository(app.knex).findById(other.id))?.role, 'viewer')
})

test('an admin cannot delete themself, and the last admin cannot be deleted', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const page = await admin.get(`/users/${admin.user.id}/delete`)
  assert.equal(page.statusCode, 409)
  assert.match(page.body, /cannot delete yourself/)
  assert.match(page.body, /At least one admin must remain/)
  const res = await admin.form(`/users/${admin.user.id}/delete`)
  assert.equal(res.statusCode, 409)
  assert.ok(await createUsersRepository(app.knex).findById(admin.user.id))
  const ajax = await admin.json('POST', `/users/${admin.user.id}/delete`)
  assert.equal(ajax.statusCode, 409)
  assert.match(ajax.json().error, /cannot delete yourself/)
})

test('viewers and deployers get 403 on every admin route', async (t) => {
  const app = await buildTestApp(t)
  const target = await createUser(app, 'target', 'viewer')
  for (const role of ['viewer', 'deployer'] as const) {
    const client = await signIn(app, role)
    for (const url of ['/users', '/users/new', `/users/${target.id}/edit`, `/users/${target.id}/delete`]) {
      assert.equal((await client.get(url)).statusCode, 403, `GET ${url} as ${role}`)
    }
    for (const url of ['/users', `/users/${target.id}`, `/users/${target.id}/delete`]) {
      assert.equal((await client.form(url, { ...NEW_USER, username: 'sneaky', role: 'admin' })).statusCode, 403, `POST ${url} as ${role}`)
    }
  }
  assert.equal((await createUsersRepository(app.knex).findById(target.id))?.role, 'viewer')
  assert.equal(await createUsersRepository(app.knex).findByUsernameWithHash('sneaky'), null)
})

test('a viewer sees their own page but gets 403 on someone else\'s', async (t) => {
  const app = await buildTestApp(t)
  const other = await createUser(app, 'other', 'viewer')
  for (const role of ['viewer', 'deployer'] as const) {
    const client = await signIn(app, role)
    const own = await client.get(`/users/${client.user.id}`)
    assert.equal(own.statusCode, 200)
    assert.match(own.body, /Change password/)
    assert.match(own.body, /API tokens/)
    assert.equal((await client.get(`/users/${other.id}`)).statusCode, 403)
    assert.equal((await client.get(`/users/999999`)).statusCode, 403, 'no hint whether an id exists')
  }
})

test('/account leads to the signed-in user\'s own page', async (t) => {
  const app = await buildTestApp(t)
  const viewer = await signIn(app, 'viewer')
  const res = await viewer.get('/account')
  assert.equal(res.statusCode, 302)
  assert.equal(res.headers.location, `/users/${viewer.user.id}`)
})

test('an admin sees any user\'s page without the password form', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const bob = await createUser(app, 'bob', 'viewer')
  const res = await admin.get(`/users/${bob.id}`)
  assert.equal(res.statusCode, 200)
  assert.match(res.body, /<h1>bob<\/h1>[\s\S]*Last login/)
  assert.doesNotMatch(res.body, /Change password/)
})

test('unknown or malformed user ids are 404', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  for (const url of ['/users/999999', '/users/999999/edit', '/users/999999/delete', '/users/abc', '/users/0']) assert.equal((await admin.get(url)).statusCode, 404, url)
  assert.equal((await admin.form('/users/999999', { ...NEW_USER })).statusCode, 404)
  assert.equal((await admin.form('/users/999999/delete')).statusCode, 404)
})

test('a form without the CSRF token is refused with 403 and changes nothing', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const bob = await createUser(app, 'bob', 'viewer')
  const before = await countRows(app, 'users')
  const auditBefore = await countRows(app, 'audit_log')
  assert.equal((await admin.form('/users', NEW_USER, { csrf: null })).statusCode, 403)
  assert.equal((await admin.form(`/users/${bob.id}`, { username: 'x', display_name: '', role: 'admin' }, { csrf: null })).statusCode, 403)
  assert.equal((await admin.form(`/users/${bob.id}/delete`, {}, { csrf: null })).statusCode, 403)
  assert.equal((await admin.form(`/users/${admin.user.id}/password`, { current_password: TEST_PASSWORD, password: 'another-pw1', password_confirm: 'another-pw1' }, { csrf: null })).statusCode, 403)
  assert.equal(await countRows(app, 'users'), before)
  assert.equal((await createUsersRepository(app.knex).findById(bob.id))?.username, 'bob')
  assert.equal(await countRows(app, 'audit_log'), auditBefore)
})

test('a user changes their password, then signs in with the new one only', async (t) => {
  const app = await buildTestApp(t)
  const viewer = await signIn(app, 'viewer')
  const res = await viewer.form(`/users/${viewer.user.id}/password`, { current_password: TEST_PASSWORD, password: 'fresh-secret-9', password_confirm: 'fresh-secret-9' })
  assert.equal(res.statusCode, 302)
  assert.match((await viewer.get(`/users/${viewer.user.id}`)).body, /Your password has been changed/)
  assert.equal((await audited(app, 'user.password')).length, 1)
  assert.equal(await loginStatus(app, viewer.user.username, TEST_PASSWORD), 401)
  assert.equal(await loginStatus(app, viewer.user.username, 'fresh-secret-9'), 302)
})

const BAD_PASSWORD_CHANGES: Array<[string, Record<string, string>, RegExp]> = [
  ['a wrong current password', { current_password: 'not-my-password' }, /The current password is wrong/],
  ['no current password', { current_password: '' }, /Current password is required/],
  ['a short new password', { password: 'short', password_confirm: 'short' }, /at least 8 characters/],
  ['new passwords that differ', { password_confirm: 'something-else' }, /The two passwords differ/],
]
for (const [what, change, message] of BAD_PASSWORD_CHANGES) {
  test(`a password change with ${what} is refused with 400 and keeps the old password`, async (t) => {
    const app = await buildTestApp(t)
    const viewer = await signIn(app, 'viewer')
    const before = (await createUsersRepository(app.knex).findWithHash(viewer.user.id))?.password_hash
    const res = await viewer.form(`/users/${viewer.user.id}/password`, { current_password: TEST_PASSWORD, password: 'fresh-secret-9', password_confirm: 'fresh-secret-9', ...change })
    assert.equal(res.statusCode, 400)
    assert.match(res.body, message)
    assert.doesNotMatch(res.body, /fresh-secret-9|not-my-password/)
    assert.equal((await createUsersRepository(app.knex).findWithHash(viewer.user.id))?.password_hash, before)
    assert.equal((await audited(app, 'user.password')).length, 0)
  })
}

test('nobody changes another user\'s password through the own-password form, not even an admin', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const bob = await createUser(app, 'bob', 'viewer')
  const res = await admin.form(`/users/${bob.id}/password`, { current_password: TEST_PASSWORD, password: 'fresh-secret-9', password_confirm: 'fresh-secret-9' })
  assert.equal(res.statusCode, 403)
  assert.match(res.body, /edit page/)
})
