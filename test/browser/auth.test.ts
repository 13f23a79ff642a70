import { test } from 'node:test'
import assert from 'node:assert/strict'
import { openApp, signInThroughPage, skipWithoutChromium, submit } from './browser-helper.ts'
import { createUser } from '../helper.ts'

test('first-run setup signs the new admin in; after signing out, /login signs them in again', { skip: skipWithoutChromium }, async (t) => {
  const { page } = await openApp(t)

  // a console with no users sends every page to the first-run form
  await page.goto('/servers')
  assert.equal(new URL(page.url()).pathname, '/setup')
  await page.fill('input[name="username"]', 'captain')
  await page.fill('input[name="display_name"]', 'The Captain')
  await page.fill('input[name="password"]', 'a long enough password')
  await page.fill('input[name="password_confirm"]', 'a long enough password')
  await submit(page, 'form[action="/setup"] button[type="submit"]')
  assert.equal(new URL(page.url()).pathname, '/servers')
  assert.match((await page.textContent('.flash-success')) ?? '', /Welcome, captain/)
  assert.equal((await page.textContent('.who .role'))?.trim(), 'admin')

  await submit(page, 'form[action="/logout"] button[type="submit"]')
  assert.equal(new URL(page.url()).pathname, '/login')
  await page.goto('/servers')
  assert.equal(new URL(page.url()).pathname, '/login', 'a signed-out browser is sent to sign in')

  await signInThroughPage(page, 'captain', 'a long enough password')
  assert.equal(new URL(page.url()).pathname, '/servers', 'sign-in returns to the page asked for')
  assert.match((await page.textContent('.who')) ?? '', /captain/)
})

test('a wrong password keeps the browser on /login with a message', { skip: skipWithoutChromium }, async (t) => {
  const { page } = await openApp(t)
  await page.goto('/setup')
  await page.fill('input[name="username"]', 'captain')
  await page.fill('input[name="password"]', 'a long enough password')
  await page.fill('input[name="password_confirm"]', 'a long enough password')
  await submit(page, 'form[action="/setup"] button[type="submit"]')
  await submit(page, 'form[action="/logout"] button[type="submit"]')

  await page.fill('input[name="username"]', 'captain')
  await page.fill('input[name="password"]', 'not the password')
  await submit(page, 'form[action="/login"] button[type="submit"]')
  assert.equal(new URL(page.url()).pathname, '/login')
  assert.match((await page.textContent('.flash-error')) ?? '', /Wrong username or password/)
  assert.equal(await page.inputValue('input[name="username"]'), 'captain')
})

test('the setup and sign-in pages load their stylesheet and script before anyone is signed in', { skip: skipWithoutChromium }, async (t) => {
  const { page, app } = await openApp(t)
  // what the browser got for each stylesheet and script it asked for
  const assets = new Map<string, string>()
  page.on('response', (res) => {
    const type = res.request().resourceType()
    if (type !== 'stylesheet' && type !== 'script') return
    const mime = /css|javascript/.exec(res.headers()['content-type'] ?? '')?.[0] ?? res.headers()['content-type'] ?? 'none'
    assets.set(`${type} ${new URL(res.request().url()).pathname}`, `${res.status()} ${mime}`)
  })
  await page.goto('/setup')
  const onSetup = Object.fromEntries(assets)
  assets.clear()
  await createUser(app, 'captain', 'admin')
  await page.goto('/login')
  const onLogin = Object.fromEntries(assets)

  const expected = { 'stylesheet /public/css/app.css': '200 css', 'script /public/js/app.js': '200 javascript' }
  assert.deepEqual(onSetup, expected, 'on /setup')
  assert.deepEqual(onLogin, expected, 'on /login')
})
