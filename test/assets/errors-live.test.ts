import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createAssetsRepository } from '../../server/assets/repository.ts'
import { createAssetsService } from '../../server/assets/service.ts'
import { buildTestApp, pollsHeld, signIn } from '../helper.ts'
import type { ListChangeEvent } from '../../server/realtime/live-lists.ts'

const events = (answer: { events: Array<{ json: string }> }) => answer.events.map((e) => (JSON.parse(e.json) as { data: ListChangeEvent }).data)

test('the collection errors page follows new errors live: an event per stored error, then its row', async (t) => {
  const app = await buildTestApp(t)
  const viewer = await signIn(app, 'viewer')
  const page = await viewer.get('/assets/errors')
  assert.equal(page.statusCode, 200)
  assert.match(page.body, /data-live-topic="asset-errors" data-live-cursor="0" data-live-row="\/assets\/errors\/\{id\}\/row"/)
  assert.match(page.body, /src="\/public\/js\/live-list\.js"/)

  const service = createAssetsService(app.knex, app.hub)
  const watching = app.hub.poll(viewer.user, { client: 'errors-tab-1', boot: app.hub.boot, topics: { 'asset-errors': 0 } }).answer
  await pollsHeld(app, 1)
  await service.hostFailed('ssh', 'web-9.example.com', null, 'connection refused <script>alert(1)</script>')
  const [failed] = events(await watching)
  assert.equal(failed?.action, 'created')
  assert.equal(failed?.label, 'web-9.example.com')
  const stored = await app.knex('asset_errors').where({ hostname: 'web-9.example.com' }).first()
  assert.equal(failed?.id, Number(stored.id))

  const row = await viewer.get(`/assets/errors/${failed?.id}/row`)
  assert.equal(row.statusCode, 200)
  assert.match(row.body, new RegExp(`^\\s*<tr id="asset-error-${failed?.id}" class="error-host">`))
  assert.match(row.body, /connection refused &lt;script&gt;alert\(1\)&lt;\/script&gt;/)
  assert.equal((await viewer.get('/assets/errors/999999/row')).statusCode, 404)
  assert.equal((await viewer.get('/assets/errors/nope/row')).statusCode, 404)

  // a report with two failed collectors: both errors are announced once the report is stored
  const next = app.hub.poll(viewer.user, { client: 'errors-tab-1', boot: app.hub.boot, topics: { 'asset-errors': 1 } }).answer
  await pollsHeld(app, 1)
  const outcome = await service.store({
    mode: 'agent',
    hostname: 'db-3.example.com',
    previousHostname: null,
    agentId: 'agent-errors-live-1',
    facts: {},
    errors: [
      { collector: 'disk', message: 'lsblk not found', stack: null },
      { collector: 'nic', message: 'ip not found', stack: null },
    ],
  })
  assert.equal(outcome.kind, 'created')
  let got = events(await next)
  if (got.length < 2) got = [...got, ...events(await app.hub.poll(viewer.user, { client: 'errors-tab-1', boot: app.hub.boot, topics: { 'asset-errors': 2 } }).answer)]
  const ids = (await app.knex('asset_errors').where({ hostname: 'db-3.example.com' }).orderBy('id').select('id')).map((r: { id: number }) => Number(r.id))
  assert.deepEqual(
    got.map((e) => e.id),
    ids,
  )
  assert.equal(ids.length, 2)
})

test('an error row needs a signed-in user, like the page', async (t) => {
  const app = await buildTestApp(t)
  await signIn(app, 'admin') // the console has a user, so anonymous requests go to /login, not /setup
  const [id] = await createAssetsRepository(app.knex).addErrors([{ asset_id: null, hostname: 'x.example.com', kind: 'host', message: 'down', source: 'ssh' }])
  const res = await app.inject({ method: 'GET', url: `/assets/errors/${id}/row` })
  assert.equal(res.statusCode, 302)
  assert.match(String(res.headers.location), /^\/login/)
})
