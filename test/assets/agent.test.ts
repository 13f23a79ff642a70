import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { createAssetsRepository } from '../../server/assets/repository.ts'
import { buildTestApp, tempDir } from '../helper.ts'

const AGENT = fileURLToPath(new URL('../../bin/longship-agent.js', import.meta.url))

interface Run {
  code: number
  stdout: string
  stderr: string
}

function agent(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    // the real command as cron runs it: node on the bin entry, no tsx loader from the test runner
    execFile(process.execPath, [AGENT, ...args], { timeout: 60_000, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/' } }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0
      resolve({ code, stdout, stderr })
    })
  })
}

/** A console that answers every request with one status, like a broken proxy or a console mid-crash. */
async function brokenConsole(t: TestContext, status: number): Promise<string> {
  const server = http.createServer((_req, res) => {
    res.writeHead(status, { 'content-type': 'text/html' })
    res.end('<html><body>Internal Server Error</body></html>')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

test('the agent command against a running console', { timeout: 180_000 }, async (t) => {
  const app = await buildTestApp(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  const { token } = await createAssetsRepository(app.knex).createEnrollmentToken('test', null)
  const dir = tempDir(t, 'agent')
  const identity = path.join(dir, 'state', 'identity.json')

  await t.test('a first run reports this machine and writes the identity file', async () => {
    const run = await agent(['--server', base, '--token', token, '--identity', identity])
    assert.equal(run.code, 0, run.stderr)
    assert.match(run.stdout, /^longship-agent: reported \S+ as asset \d+: created/)
    assert.equal(run.stdout.trim().split('\n').length, 1, 'one line for cron')
    const saved = JSON.parse(readFileSync(identity, 'utf8')) as { agent_id: string; hostname: string }
    const asset = await app.knex('assets').first()
    assert.equal(asset.agent_id, saved.agent_id)
    assert.equal(asset.hostname, saved.hostname)
    assert.equal(asset.mode, 'agent')
    const facts = JSON.parse(asset.facts) as Record<string, unknown>
    for (const group of ['os', 'cpu', 'memory', 'nic']) assert.ok(facts[group], `${group} collected`)
  })

  await t.test('a second run is the same asset, matched by its agent id', async () => {
    const before = readFileSync(identity, 'utf8')
    const run = await agent(['--server', base, '--token', token, '--identity', identity, '--collectors', 'os,cpu,memory'])
    assert.equal(run.code, 0, run.stderr)
    assert.match(run.stdout, /: (unchanged|updated),/)
    assert.equal(readFileSync(identity, 'utf8'), before)
    assert.equal((await app.knex('assets').count({ n: '*' }).first())?.n, 1)
  })

  await t.test('a refused token exits 1 with one line and leaves the identity file alone', async () => {
    writeFileSync(identity, JSON.stringify({ agent_id: 'agent-kept-0001', hostname: 'old-name' }))
    const before = readFileSync(identity, 'utf8')
    const run = await agent(['--server', base, '--token', 'lse_wrong', '--identity', identity])
    assert.equal(run.code, 1)
    assert.match(run.stderr, /^longship-agent: the console answered 401: The token is not valid/)
    assert.equal(run.stderr.trim().split('\n').length, 1)
    assert.equal(readFileSync(identity, 'utf8'), before)
  })

  await t.test('a console answering 500 leaves the identity file alone, and creates none', async () => {
    const broken = await brokenConsole(t, 500)
    const before = readFileSync(identity, 'utf8')
    const run = await agent(['--server', broken, '--token', token, '--identity', identity])
    assert.equal(run.code, 1)
    assert.match(run.stderr, /the console answered 500/)
    assert.equal(readFileSync(identity, 'utf8'), before)
    const fresh = path.join(dir, 'fresh.json')
    assert.equal((await agent(['--server', broken, '--token', token, '--identity', fresh])).code, 1)
    assert.equal(existsSync(fresh), false)
  })

  await t.test('a console that is not there, and bad arguments, are one clear line', async () => {
    const down = await agent(['--server', 'http://127.0.0.1:1', '--token', token, '--identity', identity])
    assert.equal(down.code, 1)
    assert.match(down.stderr, /cannot reach http:\/\/127\.0\.0\.1:1/)
    const usage = await agent(['--server', base])
    assert.equal(usage.code, 2)
    assert.match(usage.stderr, /--token is required/)
    const collectors = await agent(['--server', base, '--token', token, '--collectors', 'os,gpu'])
    assert.equal(collectors.code, 2)
    assert.match(collectors.stderr, /unknown collector "gpu"/)
    const missing = await agent(['--server', base, '--token-file', path.join(dir, 'no-such-token')])
    assert.equal(missing.code, 2)
    assert.match(missing.stderr, /cannot read --token-file .*no-such-token/)
    writeFileSync(path.join(dir, 'empty-token'), '\n')
    const empty = await agent(['--server', base, '--token-file', path.join(dir, 'empty-token')])
    assert.equal(empty.code, 2)
    assert.match(empty.stderr, /--token-file .*empty-token is empty/)
    assert.match((await agent(['--help'])).stdout, /^usage: longship-agent /)
  })
})
