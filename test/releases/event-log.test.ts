import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import { createMasker, ReleaseLog, releaseTopic } from '../../server/releases/event-log.ts'
import { createReleasesRepository } from '../../server/releases/repository.ts'
import { createProjectsRepository } from '../../server/projects/repository.ts'
import { buildTestApp, createUser } from '../helper.ts'

/** An app with a user and a pending release of a project with no servers: a stream to write to. */
async function releaseRow(t: TestContext, username: string) {
  const app = await buildTestApp(t)
  await app.ready()
  const user = await createUser(app, username, 'deployer')
  const project = await createProjectsRepository(app.knex).create({
    title: 'shop', repo_url: '/srv/git/shop.git', env: 'test', deploy_path: '/srv/shop', keep_releases: 5, rollout: 'parallel', batch_size: 10, stop_on_failure: true,
    hook_before_download: '', hook_after_download: '', hook_before_deploy: '', hook_after_deploy: '', server_ids: [],
  })
  const repo = createReleasesRepository(app.knex)
  const id = await repo.create({ project_id: project.id, kind: 'deploy', ref: 'main', commit: null, user_id: user.id, rollback_of: null, artifact: null, hosts: [] }, 'test')
  return { app, user, repo, id }
}

test('secrets are masked in log lines: passwords, passphrases, every line of a key, and URL credentials', () => {
  const key = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\nAAAAMwAAAAtzc2gtZWQyNTUxOQAAACB\n-----END OPENSSH PRIVATE KEY-----\n'
  const mask = createMasker(['hunter2-secret', key, 'pp', ''])
  assert.equal(mask('login with hunter2-secret now'), 'login with ******** now')
  assert.equal(mask('b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ'), '********')
  assert.equal(mask('cat key: AAAAMwAAAAtzc2gtZWQyNTUxOQAAACB!'), 'cat key: ********!')
  assert.equal(mask('-----BEGIN OPENSSH PRIVATE KEY-----'), '-----BEGIN OPENSSH PRIVATE KEY-----')
  // too short to be told apart from ordinary text: left alone
  assert.equal(mask('app pp'), 'app pp')
  assert.equal(mask('fetching https://deploy:tok3n@git.example.com/shop.git'), 'fetching https://********@git.example.com/shop.git')
})

test('the release log writes events in batches before publishing them, in one numbered order', async (t) => {
  const { app, user, repo, id } = await releaseRow(t, 'ana')
  const published: number[] = []
  const stored: number[] = []
  const hub = app.hub
  const original = hub.publish.bind(hub)
  // every publish must find its row already stored: a gap is always filled from the database
  hub.publish = (name, data, seq) => {
    if (name === releaseTopic(id)) published.push(seq as number)
    return original(name, data, seq)
  }
  const insert = repo.insertEvents.bind(repo)
  let batches = 0
  repo.insertEvents = async (releaseId, events) => {
    batches++
    await insert(releaseId, events)
    stored.push(...events.map((e) => e.seq))
    assert.ok(published.every((seq) => stored.includes(seq)))
  }
  const log = new ReleaseLog(id, repo, hub, 0, createMasker(['s3cret-value']))
  for (let i = 1; i <= 2500; i++) log.log('web1', 'stdout', `line ${i} s3cret-value`)
  log.step('web1', 'upload', 'ok')
  const seq = await log.chat(user.id, 'ana', 'done?')
  await log.flush()
  assert.equal(seq, 2502)
  assert.ok(batches <= 5, `${batches} batches`)
  assert.deepEqual(published, Array.from({ length: 2502 }, (_, i) => i + 1))
  const rows = await repo.eventsAfter(id, 0, null, 10_000)
  assert.equal(rows.length, 2502)
  assert.equal(rows[0]?.body, 'line 1 ********')
  assert.equal(rows[2500]?.kind, 'step')
  assert.equal(rows[2501]?.author, 'ana')
  assert.equal(await repo.head(id), 2502)
})

test('an event the database refuses is replaced by a line saying so; the rest of the log goes on', async (t) => {
  const { app, repo, id } = await releaseRow(t, 'ben')
  const insert = repo.insertEvents.bind(repo)
  // a database that refuses one value (as MySQL's strict mode refuses a too long one)
  repo.insertEvents = async (releaseId, events) => {
    if (events.some((e) => e.body.includes('POISON'))) throw new Error('Data too long for column')
    return insert(releaseId, events)
  }
  const errors: unknown[] = []
  const log = new ReleaseLog(id, repo, app.hub, 0, undefined, (err) => errors.push(err))
  log.log(null, 'stdout', 'before')
  log.log(null, 'stdout', 'POISON')
  log.log(null, 'stdout', 'after')
  const until = Date.now() + 10_000
  while ((await repo.head(id)) < 3) {
    assert.ok(Date.now() < until, 'the log stayed stuck')
    await log.flush()
    await new Promise((r) => setTimeout(r, 50))
  }
  const rows = await repo.eventsAfter(id, 0, null, 10)
  assert.deepEqual(
    rows.map((r) => [r.seq, r.stream, r.body]),
    [
      [1, 'stdout', 'before'],
      [2, 'stderr', '(a log event could not be stored: Data too long for column)'],
      [3, 'stdout', 'after'],
    ],
  )
  assert.ok(errors.length >= 3)
})
