import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse } from 'acorn'

const PUBLIC_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../public')

/** Every script the browser is served, relative to public/. */
const scripts = readdirSync(PUBLIC_DIR, { recursive: true, encoding: 'utf8' })
  .filter((file) => file.endsWith('.js'))
  .sort()

// what IE11 and old ESR consoles lack, or what the spec forbids in favour of XMLHttpRequest long polling
const FORBIDDEN = ['fetch(', 'WebSocket', 'EventSource', 'Promise']

test('public/ has scripts to check', () => {
  assert.ok(scripts.length > 0, 'no .js file under public/')
})

test('every public/**/*.js parses as ES5 script', () => {
  const failures: string[] = []
  for (const file of scripts) {
    try {
      parse(readFileSync(path.join(PUBLIC_DIR, file), 'utf8'), { ecmaVersion: 5, sourceType: 'script' })
    } catch (err) {
      failures.push(`public/${file}: ${(err as Error).message}`)
    }
  }
  assert.deepEqual(failures, [], `not ES5:\n${failures.join('\n')}`)
})

test('no public script mentions fetch(, WebSocket, EventSource or Promise', () => {
  const failures: string[] = []
  for (const file of scripts) {
    const source = readFileSync(path.join(PUBLIC_DIR, file), 'utf8')
    for (const word of FORBIDDEN) if (source.includes(word)) failures.push(`public/${file} mentions ${word}`)
  }
  assert.deepEqual(failures, [])
})
