import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { FastifyInstance } from 'fastify'
import { buildTestApp, countRows, signIn, type Client } from './helper.ts'

/**
 * Every form and API field gets hostile or odd input. Whatever the field, the
 * answer is a clear refusal (400 naming the field, nothing written) or an
 * acceptance that stores the value and shows it escaped; never a 500.
 */

const LONG = 'x'.repeat(10_000)
const FORM_PAYLOADS: Record<string, string> = {
  empty: '',
  long: LONG,
  unicode: 'Ünïcødé-名前-🚀',
  script: '<script>alert(1)</script>',
  sql: "'; DROP TABLE servers; --",
  negative: '-1',
  huge: '99999999999999999999999',
  shell: '$(touch /tmp/longship-pwned)',
  option: '--upload-pack=touch /tmp/x',
  nul: 'a\u0000b',
}
const API_PAYLOADS: Record<string, unknown> = {
  ...FORM_PAYLOADS,
  number: 12345,
  float: 1.5,
  bool: true,
  null: null,
  array: ['a', { b: 1 }],
  object: { nested: { deeper: 1 } },
  hugeNumber: 1e300,
}

interface Target {
  kind: string
  table: string
  formUrl: string
  apiUrl?: string
  valid: (app: FastifyInstance) => Promise<Record<string, string | string[]>>
  apiValid?: (app: FastifyInstance) => Promise<Record<string, unknown>>
  fields: string[]
  /** A field whose twin must hold the same value (a password and its confirmation). */
  twins?: Record<string, string>
}

const targets: Target[] = [
  {
    kind: 'server',
    table: 'servers',
    formUrl: '/servers',
    apiUrl: '/api/servers',
    valid: async () => ({ hostname: 'ok-host', address: '10.9.9.9', port: '22', username: 'root', env: 'test', tags: 'a', notes: '' }),
    apiValid: async () => ({ hostname: 'ok-host', address: '10.9.9.9', port: 22, username: 'root', env: 'test', tags: ['a'], notes: '' }),
    fields: ['hostname', 'address', 'port', 'username', 'credential_id', 'env', 'tags', 'notes'],
  },
  {
    kind: 'project',
    table: 'projects',
    formUrl: '/projects',
    apiUrl: '/api/projects',
    valid: async () => ({ title: 'Shop', repo_url: 'https://git.example.com/shop.git', env: 'prod', deploy_path: '/srv/shop', keep_releases: '5', rollout: 'parallel', batch_size: '10' }),
    apiValid: async () => ({ title: 'Shop', repo_url: 'https://git.example.com/shop.git', env: 'prod', deploy_path: '/srv/shop', keep_releases: 5, rollout: 'batch', batch_size: 2 }),
    fields: ['title', 'repo_url', 'env', 'deploy_path', 'server_ids', 'keep_releases', 'rollout', 'batch_size', 'hook_before_deploy', 'hooks'],
  },
  {
    kind: 'user',
    table: 'users',
    formUrl: '/users',
    valid: async () => ({ username: 'newbie', display_name: 'New Bie', role: 'viewer', password: 'long enough secret', password_confirm: 'long enough secret' }),
    fields: ['username', 'display_name', 'role', 'password', 'password_confirm'],
    twins: { password: 'password_confirm' },
  },
  {
    kind: 'credential',
    table: 'credentials',
    formUrl: '/credentials',
    valid: async () => ({ name: 'deploy-password', kind: 'password', password: 'hunter22' }),
    fields: ['name', 'kind', 'password', 'private_key', 'passphrase', 'notes'],
  },
]

function assertNoRawScript(body: string, where: string) {
  assert.doesNotMatch(body, /<script>alert\(1\)<\/script>/, `${where}: user input came back unescaped`)
}

async function checkForm(app: FastifyInstance, admin: Client, target: Target, field: string, name: string, value: string) {
  const where = `${target.kind} form ${field}=${name}`
  const before = await countRows(app, target.table)
  const twin = target.twins?.[field]
  const res = await admin.form(target.formUrl, { ...(await target.valid(app)), [field]: value, ...(twin ? { [twin]: value } : {}) })
  assert.ok([302, 400].includes(res.statusCode), `${where}: status ${res.statusCode}`)
  assertNoRawScript(res.body, where)
  if (res.statusCode === 400) {
    assert.match(res.body, new RegExp(`id="e-${field}"`), `${where}: no message beside the field`)
    assert.equal(await countRows(app, target.table), before, `${where}: a refused form wrote a row`)
    return
  }
  const created = String(res.headers.location)
  const shown = await admin.get(created)
  assert.equal(shown.statusCode, 200, where)
  assertNoRawScript(shown.body, where)
  const list = await admin.get(target.formUrl)
  assertNoRawScript(list.body, where)
  // keep the table small and unique names free for the next payload (the signed-in admin stays)
  await app.knex(target.table).where('id', Number(created.split('/').pop())).del()
}

async function checkApi(app: FastifyInstance, admin: Client, target: Target, field: string, name: string, value: unknown) {
  const where = `${target.kind} API ${field}=${name}`
  const before = await countRows(app, target.table)
  const res = await admin.json('POST', target.apiUrl as string, { ...(await (target.apiValid as Target['apiValid'] & object)(app)), [field]: value })
  assert.ok([201, 400].includes(res.statusCode), `${where}: status ${res.statusCode} ${res.body.slice(0, 200)}`)
  const json = res.json()
  if (res.statusCode === 400) {
    assert.equal(typeof json.error, 'string', where)
    assert.ok(json.details && typeof json.details[field] === 'string', `${where}: no message for the field in details`)
    assert.equal(await countRows(app, target.table), before, `${where}: a refused call wrote a row`)
    return
  }
  const id = json.id
  // PATCH may read null or "" differently from POST (absent there means "default"), but it
  // must answer as clearly: 200, or 400 naming the field
  const patch = await admin.json('PATCH', `${target.apiUrl}/${id}`, { [field]: value })
  assert.ok(patch.statusCode === 200 || (patch.statusCode === 400 && typeof patch.json().details?.[field] === 'string'), `${where}: PATCH answered ${patch.statusCode} ${patch.body.slice(0, 200)}`)
  await app.knex(target.table).where('id', id).del()
}

for (const target of targets) {
  test(`every ${target.kind} form field refuses bad input clearly or stores it escaped`, async (t) => {
    const app = await buildTestApp(t)
    const admin = await signIn(app, 'admin')
    for (const field of target.fields) {
      for (const [name, value] of Object.entries(FORM_PAYLOADS)) await checkForm(app, admin, target, field, name, value)
    }
  })

  if (target.apiUrl) {
    test(`every ${target.kind} API field refuses bad input clearly or stores it`, async (t) => {
      const app = await buildTestApp(t)
      const admin = await signIn(app, 'admin')
      for (const field of target.fields) {
        for (const [name, value] of Object.entries(API_PAYLOADS)) await checkApi(app, admin, target, field, name, value)
      }
    })
  }
}

test('hostile values for a server are refused with the expected messages', async (t) => {
  const app = await buildTestApp(t)
  const admin = await signIn(app, 'admin')
  const base = { hostname: 'ok-host', address: '10.9.9.9', port: '22', username: 'root', env: 'test' }
  const cases: Array<[string, string, RegExp]> = [
    ['hostname', '', /Hostname is required/],
    ['hostname', LONG, /Hostname is too long/],
    ['hostname', "'; DROP TABLE servers; --", /Hostname must be letters/],
    ['hostname', '$(touch /tmp/x)', /Hostname must be letters/],
    ['address', '--oProxyCommand=x', /Address must be an IP address or a DNS name/],
    ['port', '-1', /Port must be between 1 and 65535/],
    ['port', '99999999999999999999999', /Port must be a whole number/],
    ['username', '-oProxyCommand=touch', /SSH user must be a login name/],
    ['notes', LONG + LONG, /Notes is too long/],
  ]
  for (const [field, value, message] of cases) {
    const res = await admin.form('/servers', { ...base, [field]: value })
    assert.equal(res.statusCode, 400, `${field}=${value.slice(0, 20)}`)
    assert.match(res.body, message)
  }
  assert.equal(await countRows(app, 'servers'), 0)
})
