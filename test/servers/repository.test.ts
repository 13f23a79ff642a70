import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Knex } from 'knex'
import { buildTestApp } from '../helper.ts'
import { createServersRepository, type ServerInput } from '../../server/servers/repository.ts'
import { parseListQuery } from '../../server/web/list-query.ts'

const base: ServerInput = { hostname: 'x', address: '10.0.0.1', port: 22, username: 'root', credential_id: null, env: 'prod', tags: [], notes: '' }
const SORTS = ['hostname'] as const

/** The hostnames a list search finds, and the total it reports. */
async function search(knex: Knex, q: string, page = 1): Promise<{ hosts: string[]; total: number; pages: number }> {
  const repo = createServersRepository(knex)
  const result = await repo.list(parseListQuery({ q, page: String(page) }, SORTS, 'hostname'))
  return { hosts: result.items.map((s) => s.hostname), total: result.total, pages: result.pages }
}

// On SQLite, searches of three characters or more go through the trigram
// index kept by triggers; on MariaDB through LIKE. The same answers either way.
test('a server search finds substrings of hostname, address and tags, in any case', async (t) => {
  const app = await buildTestApp(t)
  const repo = createServersRepository(app.knex)
  await repo.create({ ...base, hostname: 'web-01.fra1.example.com', address: '10.1.2.3', tags: ['frontend', 'eu-west'] })
  await repo.create({ ...base, hostname: 'db-01.ams3.example.com', address: '192.168.7.9', tags: ['pci'] })
  await repo.create({ ...base, hostname: 'Cache-01.example.com', address: 'cache.internal', tags: [] })

  assert.deepEqual((await search(app.knex, 'web-01')).hosts, ['web-01.fra1.example.com'])
  assert.deepEqual((await search(app.knex, 'EB-0')).hosts, ['web-01.fra1.example.com'], 'mid-word and case-insensitive')
  assert.deepEqual((await search(app.knex, 'cache-01')).hosts, ['Cache-01.example.com'])
  assert.deepEqual((await search(app.knex, '168.7')).hosts, ['db-01.ams3.example.com'], 'address')
  assert.deepEqual((await search(app.knex, 'u-wes')).hosts, ['web-01.fra1.example.com'], 'a tag')
  assert.deepEqual((await search(app.knex, '.example.com')).total, 3)
  assert.deepEqual((await search(app.knex, 'db')).hosts, ['db-01.ams3.example.com'], 'two characters (no trigram)')
  assert.deepEqual((await search(app.knex, 'nowhere')).hosts, [])
})

test('the search follows every create, edit and delete', async (t) => {
  const app = await buildTestApp(t)
  const repo = createServersRepository(app.knex)
  const a = await repo.create({ ...base, hostname: 'alpha.example.com', tags: ['blue'] })
  const b = await repo.create({ ...base, hostname: 'bravo.example.com', address: '10.9.9.9' })
  assert.deepEqual((await search(app.knex, 'alpha')).hosts, ['alpha.example.com'])

  await repo.update(a.id, { ...base, hostname: 'amber.example.com', tags: ['green'] })
  assert.deepEqual((await search(app.knex, 'alpha')).hosts, [], 'the old name is gone')
  assert.deepEqual((await search(app.knex, 'blue')).hosts, [], 'the old tag is gone')
  assert.deepEqual((await search(app.knex, 'amber')).hosts, ['amber.example.com'])
  assert.deepEqual((await search(app.knex, 'green')).hosts, ['amber.example.com'])

  // a write to columns the search does not cover leaves it right
  await app.knex('servers').where({ id: b.id }).update({ notes: 'moved to rack 9', host_key_fingerprint: 'SHA256:abc' })
  assert.deepEqual((await search(app.knex, '10.9.9')).hosts, ['bravo.example.com'])

  await repo.remove(b.id)
  assert.deepEqual((await search(app.knex, 'bravo')).hosts, [])
  assert.deepEqual((await search(app.knex, 'example')).hosts, ['amber.example.com'])
})

test('search text is matched literally, never as query syntax', async (t) => {
  const app = await buildTestApp(t)
  const repo = createServersRepository(app.knex)
  await repo.create({ ...base, hostname: 'web-or-db.example.com', tags: ['web'] })
  await repo.create({ ...base, hostname: 'db.example.com' })
  // (the last two would straddle two fields: hostname then address, hostname then tags)
  for (const q of ['web" OR "db', '"', '""""', 'web*', 'NEAR(web db)', 'web AND db', '-web', 'hostname:web', "db' or 1=1 --", '%', '_b.', '!%_', 'ü€😀', '\u0000abc', 'com\n10.0', 'com,web']) {
    const found = await search(app.knex, q)
    assert.deepEqual(found.hosts, [], `${JSON.stringify(q)} found ${found.hosts.join(', ')}`)
  }
  assert.deepEqual((await search(app.knex, '-or-')).hosts, ['web-or-db.example.com'])
})

test('a search pages and counts like the whole list', async (t) => {
  const app = await buildTestApp(t)
  const repo = createServersRepository(app.knex)
  for (let i = 0; i < 60; i++) await repo.create({ ...base, hostname: `node-${String(i).padStart(2, '0')}.example.com` })
  await repo.create({ ...base, hostname: 'other.example.com' })
  const first = await search(app.knex, 'node-')
  assert.equal(first.total, 60)
  assert.equal(first.pages, 2)
  assert.equal(first.hosts.length, 50)
  const second = await search(app.knex, 'node-', 2)
  assert.deepEqual(second.hosts, Array.from({ length: 10 }, (_, i) => `node-${50 + i}.example.com`))
  const past = await search(app.knex, 'node-', 9)
  assert.equal(past.hosts.length, 10, 'a page past the end shows the last one')
})

test('servers stored before the search index existed are found once it is built', async (t) => {
  // SQLite's index is migration 20 (FTS5), MariaDB's is 21 (the gram table); each does nothing on the other
  const app = await buildTestApp(t)
  await app.knex.migrate.down({ name: '20261124000021_add_server_search_grams.ts' })
  await app.knex.migrate.down({ name: '20261124000020_add_servers_search_index.ts' })
  await app.knex('servers').insert({ ...base, hostname: 'early.example.com', tags: ',first,', created_at: new Date(), updated_at: new Date() })
  await app.knex.migrate.latest()
  assert.deepEqual((await search(app.knex, 'early')).hosts, ['early.example.com'])
  assert.deepEqual((await search(app.knex, 'firs')).hosts, ['early.example.com'])
})

test('the index only narrows a search: a server holding every trigram of the query, but not the query, is not found', async (t) => {
  const app = await buildTestApp(t)
  const repo = createServersRepository(app.knex)
  // holds abc, bca and cab, the trigrams of "abcab", in three places
  await repo.create({ ...base, hostname: 'abc.bca.cab.example.com', address: '10.0.0.9', tags: ['abcd'] })
  await repo.create({ ...base, hostname: 'xabcabx.example.com' })
  assert.deepEqual((await search(app.knex, 'abcab')).hosts, ['xabcabx.example.com'])
  // the hostname holds its start and the address its end; no one field holds it all
  assert.deepEqual((await search(app.knex, 'cab.example.com10.0')).hosts, [])
})

test('a search finds what a substring match finds, for long queries and many servers', async (t) => {
  const app = await buildTestApp(t)
  const repo = createServersRepository(app.knex)
  const roles = ['web', 'db', 'cache', 'queue', 'worker']
  const servers: Array<{ hostname: string; address: string; tags: string[] }> = []
  for (let i = 0; i < 40; i++) {
    const s = { hostname: `${roles[i % roles.length]}-${100 + i}.${i % 2 ? 'fra1' : 'AMS3'}.example.com`, address: `10.${i % 3}.${i}.${200 - i}`, tags: [`rack-${i % 4}`, i % 5 ? 'prod' : 'PCI-zone'] }
    servers.push(s)
    await repo.create({ ...base, ...s })
  }
  const contains = (s: (typeof servers)[number], q: string) => [s.hostname, s.address, `,${s.tags.join(',')},`].some((v) => v.toLowerCase().includes(q.toLowerCase()))
  // short and long, mid-word, every field, a query longer than the four grams the join uses
  const queries = ['web-1', 'eb-10', 'ams3.example', 'AMS3.EXAMPLE.COM', '.fra1.exa', 'worker-139.fra1.example.com', 'queue-103.fra1', 'ueue-1', '10.1.', '.1.19', '10.2.38.16', 'rack-3', 'ck-2,pr', 'pci-zo', 'e-10', 'cache-1', '0.ams3', 'db-101.fra1.example.co']
  for (const q of queries) {
    const expected = servers.filter((s) => contains(s, q)).map((s) => s.hostname).sort()
    const found = await search(app.knex, q)
    assert.deepEqual(found.hosts, expected.slice(0, 50), q)
    assert.equal(found.total, expected.length, q)
  }
})
