import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, existsSync } from 'node:fs'
import path from 'node:path'
import { connect } from '../../server/ssh/runner.ts'
import { checkRemotePath, shellJoin, shellQuote, UnsafeValueError } from '../../server/ssh/shell-quote.ts'
import { sshdSkipReason, startSshd } from '../support/sshd.ts'
import { keySecret } from './fixtures.ts'

test('shellQuote wraps in single quotes and writes a quote as \'\\\'\'', () => {
  assert.equal(shellQuote('plain'), "'plain'")
  assert.equal(shellQuote(''), "''")
  assert.equal(shellQuote("it's"), "'it'\\''s'")
  assert.equal(shellJoin(['ln', '-sfn', '--', 'a b', "c'd"]), "'ln' '-sfn' '--' 'a b' 'c'\\''d'")
})

test('shellQuote refuses NUL, which a remote command line cannot carry', () => {
  assert.throws(() => shellQuote('a\0b'), UnsafeValueError)
})

test('checkRemotePath refuses empty paths, NUL, line breaks and a leading dash', () => {
  for (const bad of ['', 'a\0b', 'a\nb', 'a\rb', '-rf', '--help']) assert.throws(() => checkRemotePath(bad), UnsafeValueError, JSON.stringify(bad))
  assert.equal(checkRemotePath("/srv/it's here/$(x)"), "/srv/it's here/$(x)")
})

test('checkRemotePath with absolute: true refuses relative paths and names the field', () => {
  assert.throws(() => checkRemotePath('srv/app', { absolute: true, label: 'deploy path' }), /^UnsafeValueError: deploy path must be absolute/)
  assert.equal(checkRemotePath('/srv/app', { absolute: true }), '/srv/app')
})

test('hostile values reach a real remote shell as plain text and run nothing', { skip: sshdSkipReason() }, async (t) => {
  const host = await startSshd(t)
  const conn = await connect(host, keySecret(host))
  t.after(() => conn.close())
  const marker = path.join(host.dir, 'pwned')
  const hostile = [
    `$(touch ${marker})`,
    `\`touch ${marker}\``,
    `; touch ${marker}`,
    `; rm -rf ${host.remoteRoot}`,
    `' ; touch ${marker} ; '`,
    `"; touch ${marker}; "`,
    `\\'; touch ${marker}; #`,
    `'"'"'`,
    `&& touch ${marker} || touch ${marker}`,
    `| touch ${marker}`,
    `> ${marker}`,
    `$HOME ~ * ? [a] {a,b} $((1+1)) \${PATH}`,
    `multi\nline\n$(touch ${marker})\n`,
    '-n',
    '--help',
    '',
    '  spaces at both ends  ',
    'tab\there',
    'ünïcødé ✓ 𝄞',
    '%s %d %% \\n \\0',
    "it's",
  ]

  await t.test('printf %s with a quoted value prints the value exactly', async () => {
    // one remote command (each one costs a login shell): a printf per value, NUL between them
    const output = await conn.run(hostile.map((value) => `printf %s ${shellQuote(value)}`).join("; printf '\\0'; "))
    assert.deepEqual(output.split('\0'), hostile)
  })

  await t.test('shellJoin passes every value as one argument', async () => {
    assert.equal(await conn.run(shellJoin(['printf', '%s|', ...hostile])), hostile.map((v) => `${v}|`).join(''))
  })

  await t.test('a hostile cwd is a directory name, not code', async () => {
    assert.equal(await conn.run('pwd', { cwd: `${host.remoteRoot}/$(touch ${marker})` }).catch(() => 'cd failed'), 'cd failed')
  })

  await t.test('a cwd with a newline is refused before it reaches the shell', async () => {
    await assert.rejects(conn.run('true', { cwd: `/tmp\n; touch ${marker}` }), UnsafeValueError)
  })

  await t.test('nothing was executed: no marker file, the remote root untouched', () => {
    assert.equal(existsSync(marker), false)
    assert.deepEqual(readdirSync(host.remoteRoot), [])
  })
})
