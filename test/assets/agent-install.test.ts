import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { createAssetsRepository } from '../../server/assets/repository.ts'
import { buildTestApp, tempDir } from '../helper.ts'
import { shell, type ShellRun } from './support/shell.ts'

/** The README's command, with the options a test needs to stay out of /opt, /etc and the real cron. */
function install(base: string, args: string, env: Record<string, string> = {}): Promise<ShellRun> {
  return shell(`curl -fsSL '${base}/agent/install.sh' | sh -s -- ${args}`, env)
}

function scriptValue(script: string, name: string): string {
  return new RegExp(`^${name}=(.*)$`, 'm').exec(script)?.[1] ?? ''
}

test('the agent installs with one command from a running console', { timeout: 300_000 }, async (t) => {
  const app = await buildTestApp(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  const { token } = await createAssetsRepository(app.knex).createEnrollmentToken('install test', null)

  await t.test('the install script names this console and the checksum of the agent it serves', async () => {
    const script = await fetch(`${base}/agent/install.sh`)
    assert.equal(script.status, 200)
    assert.match(script.headers.get('content-type') ?? '', /^text\/plain/)
    const text = await script.text()
    assert.equal(scriptValue(text, 'SERVER'), `'${base}'`)
    assert.doesNotMatch(text, new RegExp(token), 'no token is baked into a public script')
    const syntax = await shell('sh -n', {}, text)
    assert.equal(syntax.code, 0, syntax.stderr)

    const agent = await fetch(`${base}/agent/longship-agent.mjs`)
    assert.equal(agent.status, 200)
    const code = Buffer.from(await agent.arrayBuffer())
    const sha256 = createHash('sha256').update(code).digest('hex')
    assert.equal(scriptValue(text, 'AGENT_SHA256'), sha256)
    assert.equal(agent.headers.get('etag'), `"${sha256}"`)
    assert.match(code.toString('utf8', 0, 20), /^#!\/usr\/bin\/env node/)
  })

  const dir = tempDir(t, 'install')
  const prefix = path.join(dir, 'agent')
  const cronFile = path.join(dir, 'cron.d', 'longship-agent')
  mkdirSync(path.dirname(cronFile))
  const user = (await shell('id -un')).stdout.trim()

  await t.test('it installs a self-contained agent, reports at once and schedules cron', async () => {
    const run = await install(base, `--prefix ${prefix} --cron-file ${cronFile}`, { LONGSHIP_TOKEN: token })
    assert.equal(run.code, 0, run.stderr)
    assert.match(run.stdout, /^longship-agent: reported \S+ as asset \d+: created/m)
    assert.match(run.stdout, /installed in .*; cron runs it every 15 minutes/)

    const asset = await app.knex('assets').first()
    assert.equal(asset.mode, 'agent')
    const identity = JSON.parse(readFileSync(path.join(prefix, 'identity.json'), 'utf8')) as { agent_id: string }
    assert.equal(asset.agent_id, identity.agent_id)

    // one file and a wrapper: no node_modules, nothing from this checkout
    assert.deepEqual(readdirSync(prefix).sort(), ['identity.json', 'longship-agent', 'longship-agent.mjs', 'token'])
    assert.equal(readFileSync(path.join(prefix, 'token'), 'utf8'), `${token}\n`)
    assert.equal(statSync(path.join(prefix, 'token')).mode & 0o777, 0o600)
    const wrapper = readFileSync(path.join(prefix, 'longship-agent'), 'utf8')
    assert.doesNotMatch(wrapper, new RegExp(token), 'the token stays in its file, out of ps and the crontab')
    assert.match(wrapper, /^exec '\/\S+\/node' /m, 'cron has a bare PATH: node by its full path')
    assert.match(wrapper, /--token-file /)

    const cron = readFileSync(cronFile, 'utf8')
    const line = cron.split('\n').find((l) => !l.startsWith('#') && l.trim())
    assert.match(line ?? '', new RegExp(`^([0-9]|1[0-4])-59/15 \\* \\* \\* \\* ${user} ${prefix}/longship-agent >/dev/null$`))
    assert.equal(statSync(cronFile).mode & 0o777, 0o644)

    // what cron will run, run by hand: the same asset again
    const again = await shell(`${prefix}/longship-agent`)
    assert.equal(again.code, 0, again.stderr)
    assert.match(again.stdout, new RegExp(`as asset ${String(asset.id)}: (unchanged|updated)`))
  })

  await t.test('running it again upgrades in place, keeps the token and stays the same asset', async () => {
    const identity = readFileSync(path.join(prefix, 'identity.json'), 'utf8')
    const run = await install(base, `--prefix ${prefix} --cron-file ${cronFile} --every 5 --collectors os,cpu,memory`)
    assert.equal(run.code, 0, run.stderr)
    assert.match(run.stdout, /every 5 minutes/)
    assert.equal(readFileSync(path.join(prefix, 'identity.json'), 'utf8'), identity)
    assert.equal((await app.knex('assets').count({ n: '*' }).first())?.n, 1)
    assert.match(readFileSync(cronFile, 'utf8'), /^[0-4]-59\/5 \* \* \* \* /m)
    assert.match(readFileSync(path.join(prefix, 'longship-agent'), 'utf8'), / --collectors os,cpu,memory "\$@"$/m)
  })

  await t.test('a refused token fails the first report and schedules nothing', async () => {
    const other = tempDir(t, 'install')
    const otherCron = path.join(other, 'cron')
    const run = await install(base, `--prefix ${other}/agent --cron-file ${otherCron}`, { LONGSHIP_TOKEN: 'lse_not_a_real_token' })
    assert.equal(run.code, 1)
    assert.match(run.stderr, /the console answered 401/)
    assert.match(run.stderr, /nothing was scheduled/)
    assert.equal(existsSync(otherCron), false)
    assert.equal(existsSync(path.join(other, 'agent', 'identity.json')), false)
  })

  await t.test('an agent that does not match the checksum is not installed', async () => {
    // a console upgraded between the two downloads, or a proxy that mangles the file
    const imposter = http.createServer((_req, res) => res.end('console.log("not the agent")\n'))
    await new Promise<void>((resolve) => imposter.listen(0, '127.0.0.1', resolve))
    t.after(() => new Promise<void>((resolve) => imposter.close(() => resolve())))
    const other = tempDir(t, 'install')
    const run = await install(base, `--prefix ${other} --no-cron --server http://127.0.0.1:${(imposter.address() as AddressInfo).port}`, { LONGSHIP_TOKEN: token })
    assert.equal(run.code, 1)
    assert.match(run.stderr, /does not match this script's checksum/)
    assert.deepEqual(readdirSync(other), [], 'no agent, no half download')
  })

  await t.test('bad options are refused with the usage, before anything is written', async () => {
    const other = tempDir(t, 'install')
    for (const [args, message] of [
      ['--every 0', /--every must be a whole number of minutes from 1 to 60/],
      ['--every 5m', /--every must be/],
      ['--server ftp://example.com', /--server must be an http/],
      ["--prefix '/tmp/a b'", /may hold letters, digits/],
      ['--collectors "os;reboot"', /--collectors is a comma-separated list/],
      ['--frobnicate', /unknown argument --frobnicate/],
      ['--token', /--token needs a value/],
    ] as const) {
      const run = await install(base, `--prefix ${other}/agent ${args}`, { LONGSHIP_TOKEN: token })
      assert.equal(run.code, 2, `${args}: ${run.stderr}`)
      assert.match(run.stderr, message)
      assert.match(run.stderr, /usage: install\.sh/)
    }
    const quoted = await install(base, `--prefix ${other}/agent`, { LONGSHIP_TOKEN: "lse_x'; touch /tmp/pwned #" })
    assert.equal(quoted.code, 2)
    assert.match(quoted.stderr, /characters a Longship token never has/)
    assert.deepEqual(readdirSync(other), [])
  })

  await t.test('a missing or old Node.js is named, with what to do', async () => {
    const other = tempDir(t, 'install')
    const fakeBin = path.join(other, 'bin')
    mkdirSync(fakeBin)
    writeFileSync(path.join(fakeBin, 'node'), '#!/bin/sh\n[ "$1" = --version ] && echo v16.20.2\nexit 1\n')
    chmodSync(path.join(fakeBin, 'node'), 0o755)
    const old = await install(base, `--prefix ${other}/agent`, { LONGSHIP_TOKEN: token, PATH: `${fakeBin}:/usr/local/bin:/usr/bin:/bin` })
    assert.equal(old.code, 1)
    assert.match(old.stderr, /Node\.js 18 or later is needed; \S+\/bin\/node is v16\.20\.2/)
    const script = await (await fetch(`${base}/agent/install.sh`)).text()
    // no node anywhere on PATH: only the shell's own directory with the tools the script uses
    const noNode = path.join(other, 'no-node')
    mkdirSync(noNode)
    await shell(`ln -s "$(command -v sh)" ${noNode}/sh`)
    const none = await shell(`${noNode}/sh -s -- --prefix ${other}/agent`, { LONGSHIP_TOKEN: token, PATH: noNode }, script)
    assert.equal(none.code, 1)
    assert.match(none.stderr, /'node' is not on PATH \(Debian\/Ubuntu: apt-get install nodejs\)/)
  })

  await t.test('without root and without a prefix it says how to go on', async () => {
    const script = await (await fetch(`${base}/agent/install.sh`)).text()
    // as root (CI), drop to nobody the way a plain user would run it
    const asUser = process.getuid?.() === 0 ? 'setpriv --reuid=65534 --regid=65534 --clear-groups sh -s' : 'sh -s'
    const run = await shell(asUser, { LONGSHIP_TOKEN: token }, script)
    assert.equal(run.code, 1)
    assert.match(run.stderr, /run as root \(sudo sh\), or pass --prefix DIR --no-cron/)
  })

  await t.test('--uninstall removes the agent, its token and cron entry, and keeps the identity', async () => {
    const run = await install(base, `--prefix ${prefix} --cron-file ${cronFile} --uninstall`)
    assert.equal(run.code, 0, run.stderr)
    assert.deepEqual(readdirSync(prefix), ['identity.json'])
    assert.equal(existsSync(cronFile), false)
  })

  await t.test('a Host header cannot get out of the quotes in the script', async () => {
    const res = await app.inject({ method: 'GET', url: '/agent/install.sh', headers: { host: "x'$(touch${ifs}pwned)'" } })
    assert.equal(res.statusCode, 200)
    const line = /^SERVER=.*$/m.exec(res.body)?.[0] ?? ''
    const run = await shell(`${line}\nprintf %s "$SERVER"`)
    assert.equal(run.code, 0, run.stderr)
    assert.equal(run.stdout, "http://x'$(touch${ifs}pwned)'")
    const bad = await app.inject({ method: 'GET', url: '/agent/install.sh', headers: { host: 'a b' } })
    assert.equal(bad.statusCode, 400)
  })
})

