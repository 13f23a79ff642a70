import { test } from 'node:test'
import assert from 'node:assert/strict'
import { isCommitId, validateRef } from '../../server/git/refs.ts'

test('validateRef accepts branches, tags and commit ids, trimmed', () => {
  for (const ref of ['main', 'release/2.1', 'feature/JIRA-12_login', 'v1.4.0', 'a1b2c3d', '0123456789abcdef0123456789abcdef01234567', 'x-y.z']) {
    assert.deepEqual(validateRef(ref), { ok: true, ref })
  }
  assert.deepEqual(validateRef('  main\n'), { ok: true, ref: 'main' })
})

test('validateRef refuses what could be read as an option, a command or a revision expression', () => {
  const hostile = [
    '--upload-pack=touch /tmp/x',
    '$(touch /tmp/x)',
    '`touch /tmp/x`',
    'main;touch /tmp/x',
    'main|cat',
    'main&&x',
    'a b',
    '../x',
    'x..y',
    '-x',
    'main~1',
    'main^',
    'main^{tree}',
    'HEAD@{1}',
    'main:secret.txt',
    'ma*n',
    'ma?n',
    'm[a]in',
    'back\\slash',
    'tab\there',
    'nul\0byte',
    'new\nline',
    'ünïcode',
    '@',
  ]
  for (const ref of hostile) {
    const result = validateRef(ref)
    assert.equal(result.ok, false, `${JSON.stringify(ref)} was accepted`)
  }
})

test("validateRef applies git's own ref name rules", () => {
  for (const ref of ['/main', 'main/', 'a//b', 'main.', '.hidden', 'a/.b', 'main.lock', 'a.lock/b', 'x..y']) {
    assert.equal(validateRef(ref).ok, false, `${JSON.stringify(ref)} was accepted`)
  }
  assert.equal(validateRef('a.b/c.d').ok, true)
  assert.equal(validateRef('locked').ok, true)
})

test('validateRef refuses empty, non-string and overlong input with a message for the person who typed it', () => {
  assert.deepEqual(validateRef('   '), { ok: false, error: 'Give a branch, tag or commit id' })
  assert.deepEqual(validateRef(undefined), { ok: false, error: 'Give a branch, tag or commit id' })
  assert.deepEqual(validateRef(42), { ok: false, error: 'Give a branch, tag or commit id' })
  assert.deepEqual(validateRef('a'.repeat(256)), { ok: false, error: 'A ref is at most 255 characters long' })
  assert.equal(validateRef('a'.repeat(255)).ok, true)
  assert.deepEqual(validateRef('-x'), {
    ok: false,
    error: "A ref is a branch, tag or commit id: letters, digits, '.', '_', '-' and '/'; it must not start with '-'",
  })
})

test('isCommitId takes 7 to 40 hex digits, or 64', () => {
  assert.equal(isCommitId('a1b2c3d'), true)
  assert.equal(isCommitId('A1B2C3D4'), true)
  assert.equal(isCommitId('0'.repeat(40)), true)
  assert.equal(isCommitId('f'.repeat(64)), true)
  assert.equal(isCommitId('a1b2c3'), false)
  assert.equal(isCommitId('0'.repeat(41)), false)
  assert.equal(isCommitId('0'.repeat(63)), false)
  assert.equal(isCommitId('main'), false)
  assert.equal(isCommitId('g1b2c3d'), false)
})
