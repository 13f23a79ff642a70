import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { FastifyInstance } from 'fastify'
import { buildTestApp, Client, signIn, TEST_PASSWORD } from '../helper.ts'

async function secondBrowser(app: FastifyInstance, username: string, password = TEST_PASSWORD): Promise<Client> {
  const client = new Client(app)
  await client.get('/login')
  const res = await client.form('/login', { username, password })
  assert.equal(res.statusCode, 302)
  await client.get('/servers')
  return client
}

test('changing your password signs out your other sessions and keeps this one', async (t) => {
  const app = await buildTestApp(t)
  const me = await signIn(app, 'viewer')
  const elsewhere = await secondBrowser(app, me.user.username)
  const res = await me.form(`/users/${me.user.id}/password`, { current_password: TEST_PASSWORD, password: 'a brand new secret', password_confirm: 'a brand new secret' })
  assert.equal(res.statusCode, 302)
  assert.equal((await me.get('/servers')).statusCode, 200)
  const other = await elsewhere.get('/servers')
  assert.equal(other.statusCode, 302)
  assert.match(String(other.headers.location), /^\/login/)
})

test('an admin setting a password signs that user out everywhere', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const user = await signIn(app, 'deployer')
  const res = await admin.form(`/users/${user.user.id}`, { username: user.user.username, display_name: '', role: 'deployer', password: 'reset by the admin', password_confirm: 'reset by the admin' })
  assert.equal(res.statusCode, 302)
  assert.equal((await user.get('/servers')).statusCode, 302)
  assert.equal((await admin.get('/servers')).statusCode, 200)
})

test('deleting a user removes their sessions from the store', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const user = await signIn(app, 'viewer')
  assert.equal(Number((await app.knex('sessions').where({ user_id: user.user.id }).count({ n: '*' }).first())?.n), 1)
  assert.equal((await admin.form(`/users/${user.user.id}/delete`)).statusCode, 302)
  assert.equal(Number((await app.knex('sessions').where({ user_id: user.user.id }).count({ n: '*' }).first())?.n), 0)
  assert.equal((await user.get('/servers')).statusCode, 302)
})
