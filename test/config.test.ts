import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { ConfigError, loadConfig } from '../server/config.ts'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'longship-config-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

test('loadConfig defaults: port 3000, SQLite under DATA_DIR, info logs, insecure cookie, 5 login failures', (t) => {
  const dir = tempDir(t)
  const config = loadConfig({ DATA_DIR: dir })
  assert.equal(config.port, 3000)
  assert.equal(config.host, '127.0.0.1')
  assert.equal(config.dataDir, dir)
  assert.deepEqual(config.database, { client: 'sqlite', filename: path.join(dir, 'longship.sqlite') })
  assert.equal(config.logLevel, 'info')
  assert.equal(config.cookieSecure, false)
  assert.equal(config.loginMaxFailures, 5)
  assert.equal(config.bodyLimit, 1024 * 1024)
})

test('loadConfig writes generated session-secret and secret-key files with mode 0600 and reuses them', (t) => {
  const dir = tempDir(t)
  const first = loadConfig({ DATA_DIR: dir })
  for (const file of ['session-secret', 'secret-key']) {
    const stat = statSync(path.join(dir, file))
    assert.equal(stat.mode & 0o777, 0o600, `${file} mode ${(stat.mode & 0o777).toString(8)}`)
  }
  assert.equal(readFileSync(path.join(dir, 'session-secret'), 'utf8').trim(), first.sessionSecret)
  assert.ok(first.sessionSecret.length >= 32)
  assert.equal(first.secretKey.length, 32)
  const second = loadConfig({ DATA_DIR: dir })
  assert.equal(second.sessionSecret, first.sessionSecret)
  assert.ok(second.secretKey.equals(first.secretKey))
})

test('secrets given in the environment win over generated files', (t) => {
  const dir = tempDir(t)
  const key = 'ab'.repeat(32)
  const config = loadConfig({ DATA_DIR: dir, SESSION_SECRET: 's'.repeat(40), SECRET_KEY: key })
  assert.equal(config.sessionSecret, 's'.repeat(40))
  assert.equal(config.secretKey.toString('hex'), key)
})

const BAD: Array<[string, string, string]> = [
  ['PORT', 'abc', 'PORT'],
  ['PORT', '70000', 'PORT'],
  ['DATABASE_URL', 'postgres://x/y', 'DATABASE_URL'],
  ['DATABASE_URL', 'mysql://host', 'DATABASE_URL'],
  ['SECRET_KEY', 'short', 'SECRET_KEY'],
  ['SESSION_SECRET', 'short', 'SESSION_SECRET'],
  ['LOG_LEVEL', 'loud', 'LOG_LEVEL'],
  ['COOKIE_SECURE', 'maybe', 'COOKIE_SECURE'],
  ['REDIS_URL', 'http://127.0.0.1:6379', 'REDIS_URL'],
  ['REDIS_URL', 'not a url', 'REDIS_URL'],
  ['REDIS_PREFIX', 'has space', 'REDIS_PREFIX'],
  ['WORKERS', '0', 'WORKERS'],
  ['WORKERS', '2', 'WORKERS=2 needs REDIS_URL'],
]
for (const [name, value, named] of BAD) {
  test(`${name}=${value} throws a ConfigError naming ${named}`, (t) => {
    const dir = tempDir(t)
    assert.throws(
      () => loadConfig({ DATA_DIR: dir, [name]: value }),
      (err) => err instanceof ConfigError && err.message.includes(named),
    )
  })
}

/** Runs the real start command and waits for it to exit. */
function start(t: TestContext, env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const dir = tempDir(t)
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? dir, DATA_DIR: dir, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    t.after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill()
    })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stderr }))
  })
}

function assertOneLine(stderr: string, prefix: string): void {
  const lines = stderr.trimEnd().split('\n')
  assert.equal(lines.length, 1, `one line, got:\n${stderr}`)
  assert.ok(lines[0]?.startsWith(prefix), `starts with ${prefix}: ${lines[0]}`)
  assert.doesNotMatch(stderr, /\n\s+at /)
}

test('npm start on an unreachable database prints one clear line and exits 1', async (t) => {
  const { code, stderr } = await start(t, { DATABASE_URL: 'mysql://root@127.0.0.1:1/x' })
  assert.equal(code, 1)
  assertOneLine(stderr, 'longship: DATABASE_URL')
})

test('npm start with PORT=abc prints one clear line and exits 1', async (t) => {
  const { code, stderr } = await start(t, { PORT: 'abc' })
  assert.equal(code, 1)
  assertOneLine(stderr, 'longship: PORT')
})

test('REDIS_URL and WORKERS: off by default, read when given', (t) => {
  const dir = tempDir(t)
  const plain = loadConfig({ DATA_DIR: dir })
  assert.equal(plain.redis, null)
  assert.equal(plain.workers, 1)
  const shared = loadConfig({ DATA_DIR: dir, REDIS_URL: 'redis://127.0.0.1:6379', REDIS_PREFIX: 'team-a', WORKERS: '2' })
  assert.deepEqual(shared.redis, { url: 'redis://127.0.0.1:6379', prefix: 'team-a' })
  assert.equal(shared.workers, 2)
  assert.equal(loadConfig({ DATA_DIR: dir, REDIS_URL: 'redis://127.0.0.1:6379' }).redis?.prefix, 'longship')
})

test('npm start with an unreachable Redis prints one clear line and exits 1', async (t) => {
  const { code, stderr } = await start(t, { REDIS_URL: 'redis://127.0.0.1:1' })
  assert.equal(code, 1)
  assertOneLine(stderr, 'longship: REDIS_URL: cannot use Redis at 127.0.0.1:1')
})

test('npm start with WORKERS=2 and an unreachable Redis stops every worker and exits 1', async (t) => {
  const { code, stderr } = await start(t, { WORKERS: '2', REDIS_URL: 'redis://127.0.0.1:1' })
  assert.equal(code, 1)
  assert.match(stderr, /^longship: REDIS_URL: cannot use Redis at 127\.0\.0\.1:1/)
  assert.doesNotMatch(stderr, /\n\s+at /)
})
