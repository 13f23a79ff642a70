import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import path from 'node:path'
import { promisify } from 'node:util'
import { GitError, GitMirrors, maskUrl } from '../../server/git/mirror.ts'
import { createRepo, FIRST_COMMIT_DATE, TEST_AUTHOR } from '../support/git-repo.ts'
import { isRunning } from '../support/sshd.ts'
import { tempDir } from '../helper.ts'

const execGit = promisify(execFile)
const minute = (n: number) => new Date(FIRST_COMMIT_DATE + n * 60_000).toISOString()

function mirrorsFor(t: TestContext, opts: { fetchTimeoutMs?: number } = {}): GitMirrors {
  return new GitMirrors({ dir: path.join(tempDir(t, 'mirrors'), 'mirrors'), killGraceMs: 1000, ...opts })
}

async function waitUntil(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const start = Date.now()
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`still not true after ${timeoutMs} ms: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/** Pids of processes whose command line contains text (git and ssh show the repository URL or path there). */
function processesMentioning(text: string): number[] {
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text) && isRunning(Number(entry))) pids.push(Number(entry))
    } catch {
      // ended meanwhile
    }
  }
  return pids
}

/** A TCP server that accepts connections and never says a word: an SSH host that hangs. */
async function silentServer(t: TestContext): Promise<{ port: number; connected: Promise<net.Socket> }> {
  const sockets = new Set<net.Socket>()
  let connect: (socket: net.Socket) => void = () => {}
  const connected = new Promise<net.Socket>((resolve) => (connect = resolve))
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('error', () => {})
    socket.resume() // read (and drop) what comes, or the peer's end would never be noticed
    connect(socket)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => {
    for (const socket of sockets) socket.destroy()
    server.close()
  })
  return { port: (server.address() as net.AddressInfo).port, connected }
}

/** Resolves when the client side of the connection is gone (its process ended); fails after 3 s. */
async function peerGone(socket: net.Socket): Promise<void> {
  if (socket.closed) return
  let timer: NodeJS.Timeout | undefined
  await Promise.race([
    new Promise<void>((resolve) => socket.once('close', () => resolve())),
    new Promise<never>((_resolve, reject) => (timer = setTimeout(() => reject(new Error('the client still holds its connection after 3 s')), 3000))),
  ]).finally(() => clearTimeout(timer))
}

/**
 * git's smart HTTP protocol (git http-backend as CGI) behind Basic auth:
 * serves the repositories under root to user:password, 401 to anyone else.
 */
async function httpGitServer(t: TestContext, root: string, user: string, password: string): Promise<number> {
  const expected = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`
  const server = http.createServer((req, res) => {
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"' }).end()
      return
    }
    const url = new URL(req.url ?? '/', 'http://localhost')
    const cgi = spawn('git', ['http-backend'], {
      env: {
        PATH: process.env.PATH,
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: '1',
        GIT_CONFIG_NOSYSTEM: '1',
        GIT_CONFIG_GLOBAL: '/dev/null',
        REQUEST_METHOD: req.method,
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        HTTP_CONTENT_ENCODING: req.headers['content-encoding'] ?? '',
        GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
        REMOTE_USER: user,
        REMOTE_ADDR: '127.0.0.1',
      },
    })
    req.pipe(cgi.stdin)
    const out: Buffer[] = []
    cgi.stdout.on('data', (chunk: Buffer) => out.push(chunk))
    cgi.on('close', () => {
      const all = Buffer.concat(out)
      const split = all.indexOf('\r\n\r\n')
      const headers: Record<string, string> = {}
      for (const line of all.subarray(0, split).toString('latin1').split('\r\n')) {
        const colon = line.indexOf(':')
        if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim()
      }
      const status = Number(/^\d+/.exec(headers.status ?? '200')?.[0] ?? 200)
      delete headers.status
      res.writeHead(status, headers).end(all.subarray(split + 4))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => {
    server.closeAllConnections()
    server.close()
  })
  return (server.address() as net.AddressInfo).port
}

test('sync clones a repository, and later syncs fetch new commits, branches and tags', async (t) => {
  const repo = await createRepo(t)
  const first = await repo.commit('first', { 'a.txt': 'one\n' })
  const mirrors = mirrorsFor(t)

  await mirrors.sync(repo.url)
  assert.ok(existsSync(path.join(mirrors.mirrorPath(repo.url), 'HEAD')))
  let refs = await mirrors.listRefs(repo.url)
  assert.deepEqual(
    refs.branches.map((b) => [b.name, b.commit]),
    [['main', first]],
  )
  assert.deepEqual(refs.tags, [])

  const second = await repo.commit('second', { 'a.txt': 'two\n' })
  await repo.tag('v2')
  await repo.branch('hotfix')
  const lines: string[] = []
  await mirrors.sync(repo.url, { onLine: (line) => lines.push(line) })
  refs = await mirrors.listRefs(repo.url)
  assert.deepEqual(refs.branches.map((b) => b.name).sort(), ['hotfix', 'main'])
  assert.equal(refs.branches.find((b) => b.name === 'main')?.commit, second)
  assert.deepEqual(
    refs.tags.map((tag) => [tag.name, tag.commit]),
    [['v2', second]],
  )
  assert.ok(
    lines.some((line) => line.includes('hotfix')),
    `fetch output: ${lines.join('\n')}`,
  )
  assert.match(mirrors.mirrorPath(repo.url), /\/[0-9a-f]{16}\.git$/)
})

test('sync drops branches and tags deleted in the repository', async (t) => {
  const repo = await createRepo(t)
  await repo.commit('first', { 'a.txt': 'one\n' })
  await repo.branch('old-feature')
  await repo.tag('v0-broken')
  const mirrors = mirrorsFor(t)
  await mirrors.sync(repo.url)
  assert.equal((await mirrors.listRefs(repo.url)).branches.length, 2)

  await repo.run(['branch', '-D', 'old-feature'])
  await repo.run(['tag', '-d', 'v0-broken'])
  await mirrors.sync(repo.url)
  const refs = await mirrors.listRefs(repo.url)
  assert.deepEqual(
    refs.branches.map((b) => b.name),
    ['main'],
  )
  assert.deepEqual(refs.tags, [])
})

test('listRefs lists branches and tags newest first, annotated tags peeled to their commit', async (t) => {
  const repo = await createRepo(t)
  const c1 = await repo.commit('initial import', { 'a.txt': '1\n' }) // minute 0
  await repo.tag('v1.0') // lightweight: dated by its commit
  await repo.branch('stable')
  const c2 = await repo.commit('add search', { 'a.txt': '2\n' }) // minute 1
  await repo.tag('v1.1', { annotated: true, message: 'Search release\n\nLong notes' }) // minute 2
  await repo.checkout('stable')
  const c3 = await repo.commit('fix typo on stable', { 'b.txt': 'b\n' }) // minute 3
  await repo.run(['tag', '--annotate', '--message', 'a tag of a tag', 'v1.1-again', 'v1.1'])
  const mirrors = mirrorsFor(t)
  await mirrors.sync(repo.url)

  const refs = await mirrors.listRefs(repo.url)
  const { branches } = refs
  // peeled through both tags; dated now, by the machine's clock
  assert.deepEqual(
    refs.tags.filter((tag) => tag.name === 'v1.1-again').map((tag) => [tag.commit, tag.summary]),
    [[c2, 'a tag of a tag']],
  )
  const tags = refs.tags.filter((tag) => tag.name !== 'v1.1-again')
  assert.deepEqual(branches, [
    { name: 'stable', commit: c3, date: minute(3), summary: 'fix typo on stable' },
    { name: 'main', commit: c2, date: minute(1), summary: 'add search' },
  ])
  assert.deepEqual(tags, [
    { name: 'v1.1', commit: c2, date: minute(2), summary: 'Search release' },
    { name: 'v1.0', commit: c1, date: minute(0), summary: 'initial import' },
  ])
})

test('listRefs lists recent commits across branches, newest first, with short hash, author, date and summary', async (t) => {
  const repo = await createRepo(t)
  const c1 = await repo.commit('one', { 'a.txt': '1\n' })
  await repo.branch('feature')
  const c2 = await repo.commit('two on main', { 'a.txt': '2\n' })
  await repo.checkout('feature')
  const c3 = await repo.commit('three on feature', { 'f.txt': 'f\n' })
  await repo.checkout('main')
  const c4 = await repo.commit('four on main', { 'a.txt': '4\n' })
  const mirrors = mirrorsFor(t)
  await mirrors.sync(repo.url)

  const { commits } = await mirrors.listRefs(repo.url)
  assert.deepEqual(
    commits.map((c) => [c.hash, c.summary, c.date]),
    [
      [c4, 'four on main', minute(3)],
      [c3, 'three on feature', minute(2)],
      [c2, 'two on main', minute(1)],
      [c1, 'one', minute(0)],
    ],
  )
  for (const c of commits) {
    assert.equal(c.author, TEST_AUTHOR.name)
    assert.ok(c.short.length >= 7 && c.hash.startsWith(c.short), `${c.short} abbreviates ${c.hash}`)
  }
  const limited = await mirrors.listRefs(repo.url, { commits: 2 })
  assert.deepEqual(
    limited.commits.map((c) => c.hash),
    [c4, c3],
  )
})

test('listRefs of a repository never synced is empty and touches no network', async (t) => {
  const mirrors = mirrorsFor(t)
  assert.deepEqual(await mirrors.listRefs('ssh://git@192.0.2.1/never.git'), { branches: [], tags: [], commits: [] })
})

test('resolve finds a branch, a tag (peeled), a short and a full commit id', async (t) => {
  const repo = await createRepo(t)
  const c1 = await repo.commit('one', { 'a.txt': '1\n' })
  await repo.tag('v1', { annotated: true })
  await repo.branch('release/1.x')
  const c2 = await repo.commit('two', { 'a.txt': '2\n' })
  const mirrors = mirrorsFor(t)
  await mirrors.sync(repo.url)

  assert.equal(await mirrors.resolve(repo.url, 'main'), c2)
  assert.equal(await mirrors.resolve(repo.url, ' release/1.x '), c1)
  assert.equal(await mirrors.resolve(repo.url, 'v1'), c1)
  assert.equal(await mirrors.resolve(repo.url, c1.slice(0, 7)), c1)
  assert.equal(await mirrors.resolve(repo.url, c1.slice(0, 10).toUpperCase()), c1)
  assert.equal(await mirrors.resolve(repo.url, c2), c2)
})

test('resolve of a ref the repository does not have fails with GitError unknown-ref', async (t) => {
  const repo = await createRepo(t)
  await repo.commit('one', { 'a.txt': '1\n' })
  const mirrors = mirrorsFor(t)
  await mirrors.sync(repo.url)

  for (const ref of ['nope', 'deadbeef', 'a'.repeat(40)]) {
    await assert.rejects(mirrors.resolve(repo.url, ref), (err: unknown) => {
      assert.ok(err instanceof GitError)
      assert.equal(err.kind, 'unknown-ref')
      assert.equal(err.message, `no branch, tag or commit ${ref} in ${repo.url}`)
      return true
    })
  }
  // a tree's id is not something to release
  const tree = await repo.run(['rev-parse', 'HEAD^{tree}'])
  await assert.rejects(mirrors.resolve(repo.url, tree), { name: 'GitError', kind: 'unknown-ref' })
})

test('hostile refs and URLs are refused before git runs', async (t) => {
  const repo = await createRepo(t)
  await repo.commit('one', { 'a.txt': '1\n' })
  const mirrors = mirrorsFor(t)
  await mirrors.sync(repo.url)
  const marker = path.join(tempDir(t, 'marker'), 'pwned')

  for (const ref of [`--upload-pack=touch ${marker}`, `$(touch ${marker})`, `main;touch ${marker}`, 'a b', '../x', 'x..y', '-x', 'main^{tree}']) {
    await assert.rejects(mirrors.resolve(repo.url, ref), (err: unknown) => {
      assert.ok(err instanceof GitError, String(err))
      assert.equal(err.kind, 'unknown-ref')
      assert.doesNotMatch(err.message, /no branch, tag or commit/, 'refused before any lookup')
      return true
    })
  }
  await assert.rejects(mirrors.sync(`--upload-pack=touch ${marker}`), { name: 'GitError', message: 'a repository URL must not start with "-"' })
  await assert.rejects(mirrors.exportTo(repo.url, `--output=${marker}`, tempDir(t, 'out')), { name: 'GitError', kind: 'unknown-ref' })
  assert.equal(existsSync(marker), false)
})

test('a fetch that gets no answer fails with GitError timeout and leaves no git or ssh running', async (t) => {
  for (const scheme of ['ssh', 'https']) {
    const { port, connected } = await silentServer(t)
    const name = `hangs-${port}.git`
    const [url, shown] =
      scheme === 'ssh'
        ? [`ssh://deploy@127.0.0.1:${port}/${name}`, `ssh://deploy@127.0.0.1:${port}/${name}`]
        : [`https://deploy:s3cr3t-pw@127.0.0.1:${port}/${name}`, `https://***@127.0.0.1:${port}/${name}`]
    const mirrors = mirrorsFor(t, { fetchTimeoutMs: 1500 })
    const start = Date.now()

    await assert.rejects(mirrors.sync(url), (err: unknown) => {
      assert.ok(err instanceof GitError, String(err))
      assert.equal(err.kind, 'timeout')
      assert.equal(err.message, `cloning ${shown} took longer than 1.5 s and was stopped; check that this server can reach the host`)
      return true
    })
    assert.ok(Date.now() - start < 4500, `${scheme}: took ${Date.now() - start} ms`)
    await peerGone(await connected) // the transport reached the server, and is gone now
    await waitUntil(() => processesMentioning(name).length === 0, 2000, `no process mentions ${name}`)
    assert.deepEqual(readdirSync(mirrors.dir), [], 'no half mirror left behind')
  }
})

test('aborting a sync stops git, rejects with the reason and leaves no half mirror', async (t) => {
  const { port, connected } = await silentServer(t)
  const name = `aborted-${port}.git`
  const mirrors = mirrorsFor(t)
  const controller = new AbortController()
  const run = mirrors.sync(`ssh://127.0.0.1:${port}/${name}`, { signal: controller.signal })
  const socket = await connected
  controller.abort()
  await assert.rejects(run, { name: 'AbortError' })
  await peerGone(socket)
  await waitUntil(() => processesMentioning(name).length === 0, 2000, `no process mentions ${name}`)
  assert.deepEqual(readdirSync(mirrors.dir), [])
})

test('one caller aborting does not stop a sync that another caller waits for', async (t) => {
  const { port, connected } = await silentServer(t)
  const url = `ssh://127.0.0.1:${port}/shared-${port}.git`
  const mirrors = mirrorsFor(t, { fetchTimeoutMs: 1500 })
  const impatient = new AbortController()
  const first = mirrors.sync(url, { signal: impatient.signal })
  const second = mirrors.sync(url)
  await connected
  impatient.abort()
  await assert.rejects(first, { name: 'AbortError' })
  // had the abort stopped the shared run, the second caller would get its AbortError too
  await assert.rejects(second, { name: 'GitError', kind: 'timeout' })
})

test('concurrent syncs of one repository leave one sound mirror', async (t) => {
  const repo = await createRepo(t)
  await repo.commit('one', { 'a.txt': '1\n' })
  const mirrors = mirrorsFor(t)
  const other = new GitMirrors({ dir: mirrors.dir }) // a second console process on the same data dir

  await Promise.all([mirrors.sync(repo.url), mirrors.sync(repo.url), mirrors.sync(repo.url), other.sync(repo.url)])
  const head = await repo.commit('two', { 'a.txt': '2\n' })
  await repo.tag('v2', { annotated: true })
  await Promise.all([mirrors.sync(repo.url), mirrors.sync(repo.url), mirrors.sync(repo.url)])

  assert.deepEqual(readdirSync(mirrors.dir), [path.basename(mirrors.mirrorPath(repo.url))])
  await execGit('git', ['fsck', '--strict', '--no-progress'], { cwd: mirrors.mirrorPath(repo.url) })
  assert.equal(await mirrors.resolve(repo.url, 'v2'), head)
})

test('errors and output never show the credentials of a URL', async (t) => {
  assert.equal(maskUrl('https://deploy:tok3n@git.example.com/shop.git'), 'https://***@git.example.com/shop.git')
  assert.equal(maskUrl('https://tok3n@git.example.com/shop.git'), 'https://***@git.example.com/shop.git')
  assert.equal(maskUrl('https://a:p@ss@git.example.com/x'), 'https://***@git.example.com/x')
  assert.equal(maskUrl('ssh://git@git.example.com/shop.git'), 'ssh://git@git.example.com/shop.git')
  assert.equal(maskUrl('ssh://git:pw@git.example.com/shop.git'), 'ssh://***@git.example.com/shop.git')
  assert.equal(maskUrl('git@git.example.com:shop.git'), 'git@git.example.com:shop.git')
  assert.equal(maskUrl('/srv/git/shop.git'), '/srv/git/shop.git')

  const root = tempDir(t, 'http-root')
  const port = await httpGitServer(t, root, 'deploy', 'right-pw')
  const mirrors = mirrorsFor(t)
  const lines: string[] = []
  const url = `http://deploy:wr0ng-pw@127.0.0.1:${port}/shop.git`
  await assert.rejects(mirrors.sync(url, { onLine: (line) => lines.push(line) }), (err: unknown) => {
    assert.ok(err instanceof GitError, String(err))
    assert.equal(err.kind, 'unreachable')
    assert.ok(err.message.startsWith(`cloning http://***@127.0.0.1:${port}/shop.git failed: `), err.message)
    assert.doesNotMatch(err.message, /wr0ng-pw/)
    return true
  })
  assert.ok(lines.length > 0)
  assert.doesNotMatch(lines.join('\n'), /wr0ng-pw/)

  const closed = await new Promise<number>((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const free = (probe.address() as net.AddressInfo).port
      probe.close(() => resolve(free))
    })
  })
  await assert.rejects(mirrors.sync(`https://deploy:n0body-pw@127.0.0.1:${closed}/x.git`), (err: unknown) => {
    assert.ok(err instanceof GitError)
    assert.equal(err.kind, 'unreachable')
    assert.match(err.message, /^cloning https:\/\/\*\*\*@127\.0\.0\.1:\d+\/x\.git failed: .*Check the URL/)
    assert.doesNotMatch(err.message, /n0body-pw/)
    return true
  })
})

test('a repository behind HTTP credentials syncs, and its mirror keeps no copy of them', async (t) => {
  const repo = await createRepo(t)
  await repo.commit('one', { 'a.txt': '1\n' })
  const root = tempDir(t, 'http-root')
  await execGit('git', ['clone', '--quiet', '--bare', repo.dir, path.join(root, 'shop.git')])
  const port = await httpGitServer(t, root, 'deploy', 's3cr3t-t0ken')
  const url = `http://deploy:s3cr3t-t0ken@127.0.0.1:${port}/shop.git`
  const mirrors = mirrorsFor(t)

  await mirrors.sync(url)
  const head = await repo.commit('two', { 'a.txt': '2\n' })
  await repo.run(['push', '--quiet', path.join(root, 'shop.git'), 'main'])
  await mirrors.sync(url) // fetches with the URL's credentials, not the stored remote
  assert.equal(await mirrors.resolve(url, 'main'), head)

  const { stdout } = await execGit('grep', ['-rl', 's3cr3t-t0ken', mirrors.dir]).catch((err: { stdout: string; code: number }) => {
    assert.equal(err.code, 1, 'grep found nothing')
    return err
  })
  assert.equal(stdout, '', `files holding the token: ${stdout}`)
})

test('exportTo writes the files of that commit only, and honours export-ignore', async (t) => {
  const repo = await createRepo(t)
  const first = await repo.commit('v1', {
    'index.html': '<h1>v1</h1>\n',
    'app/lib/util.js': 'export const one = 1\n',
    'tests/spec.js': 'spec\n',
    '.gitattributes': 'tests export-ignore\n',
  })
  await repo.commit('v2', { 'index.html': '<h1>v2</h1>\n', 'later.txt': 'not in v1\n' })
  const mirrors = mirrorsFor(t)
  await mirrors.sync(repo.url)

  const out = tempDir(t, 'export')
  await mirrors.exportTo(repo.url, first, out)
  assert.deepEqual(readdirSync(out, { recursive: true }).map(String).sort(), ['.gitattributes', 'app', 'app/lib', 'app/lib/util.js', 'index.html'])
  assert.equal(readFileSync(path.join(out, 'index.html'), 'utf8'), '<h1>v1</h1>\n')
})

test('exportTo refuses a directory that is not empty, and an unknown commit', async (t) => {
  const repo = await createRepo(t)
  const head = await repo.commit('v1', { 'a.txt': '1\n' })
  const mirrors = mirrorsFor(t)
  await mirrors.sync(repo.url)
  const out = tempDir(t, 'export')
  mkdirSync(path.join(out, 'old'))

  await assert.rejects(mirrors.exportTo(repo.url, head, out), { name: 'GitError', message: `cannot export into ${out}: the directory is not empty` })
  await assert.rejects(mirrors.exportTo(repo.url, 'b'.repeat(40), tempDir(t, 'export')), {
    name: 'GitError',
    kind: 'unknown-ref',
    message: `no commit ${'b'.repeat(40)} in ${repo.url}`,
  })
  await assert.rejects(mirrors.exportTo('file:///never/synced', head, tempDir(t, 'export')), { name: 'GitError', message: 'file:///never/synced has not been fetched yet: sync it first' })
})

test('aborting an export stops git archive and everything it started', async (t) => {
  const repo = await createRepo(t)
  const head = await repo.commit('v1', { '.gitattributes': 'slow.txt filter=slow\n', 'slow.txt': 'x\n', 'fast.txt': 'y\n' })
  const mirrors = mirrorsFor(t)
  await mirrors.sync(repo.url)
  // a smudge filter that hangs stands in for a huge archive: git archive runs it for slow.txt
  const pidFile = path.join(tempDir(t, 'filter'), 'pid')
  await execGit('git', ['config', '--file', path.join(mirrors.mirrorPath(repo.url), 'config'), 'filter.slow.smudge', `echo $$ > ${pidFile}; exec sleep 300`])

  const controller = new AbortController()
  const run = mirrors.exportTo(repo.url, head, tempDir(t, 'export'), { signal: controller.signal })
  await waitUntil(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').endsWith('\n'), 5000, 'the filter started')
  const filterPid = Number(readFileSync(pidFile, 'utf8'))
  controller.abort()
  await assert.rejects(run, { name: 'AbortError' })
  await waitUntil(() => !isRunning(filterPid), 2000, `filter ${filterPid} gone`)
})

test('an already aborted signal runs nothing', async (t) => {
  const repo = await createRepo(t)
  const head = await repo.commit('v1', { 'a.txt': '1\n' })
  const mirrors = mirrorsFor(t)
  await assert.rejects(mirrors.sync(repo.url, { signal: AbortSignal.abort() }), { name: 'AbortError' })
  assert.equal(existsSync(mirrors.dir), false)
  await mirrors.sync(repo.url)
  const out = tempDir(t, 'export')
  await assert.rejects(mirrors.exportTo(repo.url, head, out, { signal: AbortSignal.abort() }), { name: 'AbortError' })
  assert.deepEqual(readdirSync(out), [])
})
