import { test } from 'node:test'
import assert from 'node:assert/strict'
import { buildTestApp, countRows, signIn } from '../helper.ts'
import { createCredentialsRepository } from '../../server/credentials/repository.ts'

const routes = (id: number) => [
  ['GET', '/credentials'],
  ['GET', '/credentials/new'],
  ['POST', '/credentials'],
  ['GET', `/credentials/${id}`],
  ['GET', `/credentials/${id}/edit`],
  ['POST', `/credentials/${id}`],
  ['GET', `/credentials/${id}/delete`],
  ['POST', `/credentials/${id}/delete`],
] as const

for (const role of ['viewer', 'deployer'] as const) {
  test(`a ${role} gets 403 on every credential route`, async (t) => {
    const app = await buildTestApp(t)
    const credential = await createCredentialsRepository(app.knex).create({ name: 'c', kind: 'password', secret_encrypted: 'v1:x', fingerprint: '', notes: '' })
    const client = await signIn(app, role)
    for (const [method, url] of routes(credential.id)) {
      const res = method === 'GET' ? await client.get(url) : await client.form(url, { name: 'changed', kind: 'password', password: 'p' })
      assert.equal(res.statusCode, 403, `${method} ${url}`)
      assert.match(res.body, /This needs the admin role/)
    }
    assert.equal(await countRows(app, 'credentials'), 1)
    assert.equal((await app.knex('credentials').first('name')).name, 'c')
  })
}

test('signed out, the credential pages lead to the login page', async (t) => {
  const app = await buildTestApp(t)
  await signIn(app, 'admin')
  const res = await app.inject({ method: 'GET', url: '/credentials' })
  assert.equal(res.statusCode, 302)
  assert.match(String(res.headers.location), /^\/login/)
})

test('an unknown or malformed id is a 404 on every route that takes one', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  for (const id of ['999999', 'abc', '0']) {
    for (const [method, url] of routes(0).slice(3)) {
      const path = url.replace('/0', '/' + id)
      const res = method === 'GET' ? await admin.get(path) : await admin.form(path, { name: 'x', kind: 'password', password: 'p' })
      assert.equal(res.statusCode, 404, `${method} ${path}`)
    }
  }
})
