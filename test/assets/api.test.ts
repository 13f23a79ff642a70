import { test } from 'node:test'
import assert from 'node:assert/strict'
import { collectAll, type Facts } from '../../server/assets/collectors/index.ts'
import { createUsersRepository } from '../../server/users/repository.ts'
import { buildTestApp, countRows, signIn } from '../helper.ts'
import { fixture } from './support/targets.ts'

const HOSTILE = '<script>alert("x")</script>&<img src=x onerror=alert(1)>'

test('POST /api/assets: an agent reports with an enrollment token', async (t) => {
  const app = await buildTestApp(t, { BODY_LIMIT: '65536' })
  await app.ready()
  const admin = await signIn(app, 'admin')
  await admin.get('/assets/enroll')
  const created = await admin.form('/assets/enroll', { name: 'dc1 cron' })
  assert.equal(created.statusCode, 201)
  const token = /<code id="new-token">([^<]+)<\/code>/.exec(created.body)?.[1] as string
  assert.match(token, /^lse_/)
  assert.equal(created.headers['cache-control'], 'no-store')
  // the one command to run on a server, with this token, pointing back at this console
  assert.match(/<pre class="mono" id="install-command">([^<]+)<\/pre>/.exec(created.body)?.[1] ?? '', new RegExp(`^curl -fsSL http://[^/]+/agent/install\\.sh \\| sudo LONGSHIP_TOKEN=${token} sh$`))
  const stored = await app.knex('enrollment_tokens').first()
  assert.notEqual(stored.token_hash, token, 'only the hash is stored')

  const facts: Facts = (await collectAll(await fixture('debian12-vm'))).facts
  const post = (body: unknown, auth: string | null = token, raw = false) =>
    app.inject({
      method: 'POST',
      url: '/api/assets',
      headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${auth}` } : {}) },
      payload: raw ? (body as string) : JSON.stringify(body),
    })
  const report = { agent_id: 'agent-0001', hostname: 'db1', previous_hostname: null, facts, errors: [] }

  await t.test('a good report creates the asset (201), the next one updates it (200)', async () => {
    const first = await post({ ...report, unknown_field: 1, facts: { ...facts, gpu: { model: 'ignored' } } })
    assert.equal(first.statusCode, 201, first.body)
    assert.equal(first.json().result, 'created')
    const second = await post({ ...report, previous_hostname: 'db1' })
    assert.equal(second.statusCode, 200)
    assert.equal(second.json().result, 'unchanged')
    const asset = await app.knex('assets').first()
    assert.equal(JSON.parse(asset.facts).gpu, undefined, 'unknown fact groups are dropped')
    assert.ok((await app.knex('enrollment_tokens').first()).last_used_at)
  })

  await t.test('bad JSON is 400, a wrong type 400 with the field named, nothing stored', async () => {
    const before = await countRows(app, 'asset_errors')
    const broken = await post('{"agent_id": "agent-0001", ', token, true)
    assert.equal(broken.statusCode, 400)
    assert.match(broken.json().error, /not valid JSON/)
    const typed = await post({ ...report, facts: { ...facts, cpu: { ...facts.cpu, cores: 'eight' } } })
    assert.equal(typed.statusCode, 400)
    assert.match(typed.json().error, /facts\.cpu\.cores must be a whole number/)
    for (const body of [[], 'text', null, { ...report, hostname: 'bad host' }, { ...report, facts: [] }, { ...report, errors: [{ collector: 1 }] }, { ...report, facts: { disk: [{ name: 'a\u0000b', sizeBytes: 1 }] } }]) {
      const res = await post(body)
      assert.equal(res.statusCode, 400, `${JSON.stringify(body).slice(0, 80)} → ${res.statusCode} ${res.body}`)
    }
    assert.equal(await countRows(app, 'asset_errors'), before)
  })

  await t.test('a wrong, missing or viewer token is refused; an admin API token is accepted', async () => {
    assert.equal((await post(report, 'lse_wrong')).statusCode, 401)
    assert.equal((await post(report, null)).statusCode, 401)
    const users = createUsersRepository(app.knex)
    const viewer = await signIn(app, 'viewer')
    const viewerToken = (await users.createToken(viewer.user.id, 'mine')).token
    assert.equal((await post(report, viewerToken)).statusCode, 403)
    const adminToken = (await users.createToken(admin.user.id, 'ops')).token
    assert.equal((await post({ ...report, previous_hostname: 'db1' }, adminToken)).statusCode, 200)
  })

  await t.test('an oversized report is 413', async () => {
    const res = await post({ ...report, padding: 'x'.repeat(70_000) })
    assert.equal(res.statusCode, 413)
  })

  await t.test('hostile strings from an agent are escaped on every page', async () => {
    const evil = structuredClone(facts)
    if (evil.os) evil.os.prettyName = HOSTILE
    if (evil.disk?.[0]) evil.disk[0].model = HOSTILE
    const res = await post({ ...report, previous_hostname: 'db1', facts: evil, errors: [{ collector: 'nic', message: HOSTILE, stack: HOSTILE }] })
    assert.equal(res.statusCode, 200, res.body)
    const id = res.json().asset_id as number
    for (const url of ['/assets', `/assets/${id}`, `/assets/${id}/details`, `/assets/${id}/row`, '/assets/errors']) {
      const page = await admin.get(url)
      assert.equal(page.statusCode, 200, url)
      assert.ok(!page.body.includes('<script>alert'), `${url} has the raw script`)
      assert.ok(!page.body.includes('<img src=x'), `${url} has the raw img`)
      assert.ok(page.body.includes('&lt;script&gt;'), `${url} shows the text escaped`)
    }
  })

  await t.test('a revoked enrollment token is refused', async () => {
    await admin.get('/assets/enroll')
    const res = await admin.form(`/assets/enroll/${stored.id}/revoke`)
    assert.equal(res.statusCode, 302)
    assert.equal((await post(report)).statusCode, 401)
  })

  await t.test('enrollment needs an admin and the CSRF token', async () => {
    const deployer = await signIn(app, 'deployer')
    assert.equal((await deployer.form('/assets/enroll', { name: 'x' })).statusCode, 403)
    assert.equal((await admin.form('/assets/enroll', { name: 'x' }, { csrf: null })).statusCode, 403)
  })
})

test('CSV export and import of the inventory', async (t) => {
  const app = await buildTestApp(t)
  await app.ready()
  const admin = await signIn(app, 'admin')
  await admin.get('/assets/import')

  const csv = [
    'hostname,address,port,username,env,tags,notes',
    'web1,10.0.0.1,22,deploy,prod,"web eu",first',
    'web2,10.0.0.2,2222,deploy,test,,"=1+1, a formula, and ""quotes""\nover two lines"',
    '',
  ].join('\r\n')

  await t.test('an import creates the servers; the export reads back the same', async () => {
    const res = await admin.form('/assets/import', { csv })
    assert.equal(res.statusCode, 302, res.body.slice(0, 500))
    const rows = await app.knex('servers').orderBy('hostname')
    assert.deepEqual(
      rows.map((r: Record<string, unknown>) => [r.hostname, r.address, r.port, r.env, r.tags, r.notes]),
      [
        ['web1', '10.0.0.1', 22, 'prod', ',web,eu,', 'first'],
        ['web2', '10.0.0.2', 2222, 'test', '', '=1+1, a formula, and "quotes"\nover two lines'],
      ],
    )
    const exported = await admin.get('/assets.csv')
    assert.equal(exported.statusCode, 200)
    assert.match(String(exported.headers['content-type']), /^text\/csv/)
    assert.match(exported.body, /^hostname,address,port,username,credential,env,tags,notes,os,cpu,memory,disks,ips,mode,collected_at\r\n/)
    assert.match(exported.body, /"'=1\+1/, 'a formula is defused for spreadsheets')

    // the export imports back unchanged, through the text/csv door scripts use
    const before = await app.knex('servers').orderBy('hostname')
    const again = await admin.request({ method: 'POST', url: '/assets/import', payload: exported.body, headers: { 'content-type': 'text/csv', 'x-csrf-token': admin.csrf } })
    assert.equal(again.statusCode, 200, again.body)
    assert.deepEqual(again.json().updated, 2)
    const after = await app.knex('servers').orderBy('hostname')
    assert.deepEqual(
      after.map((r: Record<string, unknown>) => ({ ...r, updated_at: null })),
      before.map((r: Record<string, unknown>) => ({ ...r, updated_at: null })),
    )
  })

  await t.test('one bad line rejects the whole file, every problem listed by line', async () => {
    const bad = [
      'hostname,address,port,env',
      'web3,10.0.0.3,22,test',
      'web1,10.9.9.9,22,prod',
      'bad host,10.0.0.4,22,test',
      'web5,10.0.0.5,99999,test',
      'web6,10.0.0.6,22,nowhere',
      'web3,10.0.0.7,22,test',
    ].join('\n')
    const servers = await countRows(app, 'servers')
    const res = await admin.form('/assets/import', { csv: bad })
    assert.equal(res.statusCode, 400)
    for (const line of [4, 5, 6, 7]) assert.match(res.body, new RegExp(`line ${line}:`))
    assert.doesNotMatch(res.body, /line [23]:/)
    assert.equal(await countRows(app, 'servers'), servers, 'nothing created')
    assert.equal((await app.knex('servers').where({ hostname: 'web1' }).first()).address, '10.0.0.1', 'nothing updated')
  })

  await t.test('the page\'s multipart form takes an uploaded file', async () => {
    const boundary = '----longship-test'
    const part = (name: string, value: string, file = '') =>
      `--${boundary}\r\ncontent-disposition: form-data; name="${name}"${file ? `; filename="${file}"\r\ncontent-type: text/csv` : ''}\r\n\r\n${value}\r\n`
    const payload = part('_csrf', admin.csrf) + part('csv_file', 'hostname,address\nweb8,10.0.0.8\n', 'inventory.csv') + part('csv', '') + `--${boundary}--\r\n`
    const res = await admin.request({ method: 'POST', url: '/assets/import', payload, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } })
    assert.equal(res.statusCode, 302, res.body.slice(0, 300))
    assert.equal((await app.knex('servers').where({ hostname: 'web8' }).first())?.address, '10.0.0.8')
  })

  await t.test('an unclosed quote or a missing column is a clear 400', async () => {
    const res = await admin.request({ method: 'POST', url: '/assets/import', payload: 'hostname,address\n"web9,10.0.0.9\n', headers: { 'content-type': 'text/csv', 'x-csrf-token': admin.csrf } })
    assert.equal(res.statusCode, 400)
    assert.match(JSON.stringify(res.json().details), /never closed/)
    const noAddress = await admin.form('/assets/import', { csv: 'hostname\nweb9\n' })
    assert.equal(noAddress.statusCode, 400)
    assert.match(noAddress.body, /no &quot;address&quot; column|no "address" column/)
  })

  await t.test('Prometheus service discovery lists every server with its labels', async () => {
    const res = await admin.json('GET', '/api/sd/prometheus')
    assert.equal(res.statusCode, 200)
    const groups = res.json() as Array<{ targets: string[]; labels: Record<string, string> }>
    assert.deepEqual(groups.map((g) => g.targets), [['10.0.0.1:9100'], ['10.0.0.2:9100'], ['10.0.0.8:9100']])
    assert.equal(groups[0]?.labels.env, 'prod')
    assert.equal(groups[0]?.labels.hostname, 'web1')
    assert.equal(groups[0]?.labels.__meta_longship_tags, ',web,eu,')
    assert.equal((await admin.json('GET', '/api/sd/prometheus?port=9256')).json()[0].targets[0], '10.0.0.1:9256')
    assert.equal((await admin.json('GET', '/api/sd/prometheus?port=nope')).statusCode, 400)
  })
})
