/**
 * deploy: a release of a 20 MB artifact to 20 loopback sshd hosts through
 * the console, against an equivalent Ansible playbook on the same hosts, in
 * the same run; then a hook printing 100,000 lines watched by 10 pages.
 *
 *   npm run bench:deploy
 *   BENCH_ROUNDS=1 BENCH_HOOKS= npm run bench:deploy          # a quick look
 *   BENCH_SIDES=ansible BENCH_ANSIBLE_PIPELINING=both npm run bench:deploy
 *
 * 1. Hosts: BENCH_HOSTS (20) sshds from test/support/sshd.ts, each with its
 *    own port, keys and HOME (so `~/app` is a tree per host).
 * 2. The artifact: a git repository (temp dir) holding BENCH_ARTIFACT_MB (20)
 *    MB of random bytes in four files plus a few text files. The console
 *    clones it, runs the (empty) after_download hook, packs and ships; the
 *    playbook ships `git archive --format=tar.gz` of the same commit.
 * 3. Rounds: BENCH_WARMUP (1, not counted) then BENCH_ROUNDS (3), each a
 *    console release (POST → the page learns it ended) and an
 *    ansible-playbook run (start → exit), alternating, each verified on
 *    every host afterwards (current → releases/<id>, REVISION, every file's
 *    bytes). Medians are compared.
 * 4. Hooks: a release whose after_download hook (on the console) and one
 *    whose before_deploy hook (on one host) runs `seq 1 BENCH_LINES`
 *    (100,000), watched by BENCH_VIEWERS (10) pages long polling from its
 *    first event: lines per second stored and delivered, order, duplicates.
 * 5. The page: the after_download hook once more with the release page open
 *    in headless chromium (BENCH_PAGE=0 skips it): when it shows the last
 *    line, its document size, JS heap and long tasks.
 *
 * Knobs: BENCH_HOSTS, BENCH_ARTIFACT_MB, BENCH_ROUNDS, BENCH_WARMUP,
 * BENCH_SIDES ("console,ansible"), BENCH_ANSIBLE_PIPELINING (on, off, both),
 * BENCH_HOOKS ("console,host"; empty: none), BENCH_LINES, BENCH_VIEWERS,
 * BENCH_PAGE (1).
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { statSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import path from 'node:path'
import { ANSIBLE_DEPLOY_DIR, AnsibleSide, type AnsibleRun } from './deploy-ansible.ts'
import { ConsoleSide, ReleaseApiMissing, type EventJson, type LiveEvent, type ReleaseJson } from './deploy-console.ts'
import { watchInBrowser, type PageFigures } from './deploy-page.ts'
import { Cleanup, ensurePackages, makeRepo, MissingPackages, startHosts, verifyHost, type Host, type Repo } from './deploy-hosts.ts'
import { ROOT, sleep, stopOnInterrupt } from './poll-targets.ts'
import { fmt, knob, load, machineCpu, median, secs } from './figures.ts'


function list(name: string, fallback: string, allowed: string[]): string[] {
  const items = (process.env[name] ?? fallback)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  for (const item of items) if (!allowed.includes(item)) throw new Error(`${name}: unknown ${item} (${allowed.join(', ')})`)
  return items
}

// the published figures use the defaults; the knobs are for exploring
const HOSTS = knob('BENCH_HOSTS', 20, 1)
const ARTIFACT_MB = knob('BENCH_ARTIFACT_MB', 20, 1)
const ROUNDS = knob('BENCH_ROUNDS', 3, 1)
const WARMUP = knob('BENCH_WARMUP', 1, 0)
const LINES = knob('BENCH_LINES', 100_000, 1)
const VIEWERS = knob('BENCH_VIEWERS', 10, 1)
const SIDES = list('BENCH_SIDES', 'console,ansible', ['console', 'ansible'])
const HOOKS = list('BENCH_HOOKS', 'console,host', ['console', 'host'])
const PAGE = knob('BENCH_PAGE', 1, 0) > 0
const PIPELINING = (() => {
  const raw = process.env.BENCH_ANSIBLE_PIPELINING || 'on'
  if (raw === 'both') return [true, false]
  if (raw === 'on' || raw === 'off') return [raw === 'on']
  throw new Error(`BENCH_ANSIBLE_PIPELINING=${raw}: on, off or both`)
})()
const TARGET_RATIO = 3
const CONSOLE_DEPLOY_DIR = 'app'

// ---------------------------------------------------------------- helpers



/** Which code is measured: the commit, and whether server/ differs from it. */
function codeState(): string {
  const git = (...args: string[]) => spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' }).stdout?.trim() ?? ''
  const head = git('rev-parse', '--short', 'HEAD') || 'unknown commit'
  const dirty = git('status', '--porcelain', '--', 'server').split('\n').filter(Boolean).length
  return dirty ? `${head} + uncommitted changes to ${dirty} file${dirty > 1 ? 's' : ''} in server/` : head
}

const ms = (iso: string | null | undefined) => (iso ? Date.parse(iso) : NaN)

// ---------------------------------------------------------------- the console's releases

interface ConsoleRound {
  releaseId: number
  /** POST → the page learned it ended. */
  wallMs: number
  /** POST → the release's finished_at (the console's own end). */
  finishedMs: number
  /** release.started_at → first host started (fetch, build hook, pack). */
  buildMs: number
  /** first host started → last host finished. */
  shipMs: number
  cpu: number
  /** step → longest time any host (or the console) spent in it. */
  steps: Map<string, number>
}

/** step name → the longest running→done time over the hosts ("console" for host-less steps). */
function stepTimes(events: EventJson[]): Map<string, number> {
  const open = new Map<string, number>()
  const longest = new Map<string, number>()
  for (const e of events) {
    if (e.kind !== 'step' || !e.stream) continue
    const key = `${e.host ?? ''}|${e.stream}`
    if (e.body === 'running') open.set(key, ms(e.at))
    else if (open.has(key)) {
      const name = `${e.host ? 'host' : 'console'}: ${e.stream}`
      longest.set(name, Math.max(longest.get(name) ?? 0, ms(e.at) - (open.get(key) as number)))
      open.delete(key)
    }
  }
  return longest
}

async function consoleRound(side: ConsoleSide, projectId: number, hosts: Host[], repo: Repo): Promise<ConsoleRound> {
  const cpu0 = machineCpu()
  // one page watches, as someone following the release would
  const { release, endedMs, finishedMs, viewers } = await side.release(projectId, { viewers: 1 })
  const cpu = machineCpu() - cpu0
  for (const v of viewers) v.stop()
  if (release.status !== 'success') throw new Error(`console release ${release.id} ended ${release.status}: ${release.error ?? ''} ${hostErrors(release)}`)
  for (const host of hosts) verifyHost(host, CONSOLE_DEPLOY_DIR, String(release.id), repo)
  const hostStarts = release.hosts.map((h) => ms(h.started_at)).filter(Number.isFinite)
  const hostEnds = release.hosts.map((h) => ms(h.finished_at)).filter(Number.isFinite)
  const firstHost = Math.min(...hostStarts)
  const { events } = await side.events(release.id)
  return {
    releaseId: release.id,
    wallMs: endedMs,
    finishedMs,
    buildMs: firstHost - ms(release.started_at),
    shipMs: Math.max(...hostEnds) - firstHost,
    cpu,
    steps: stepTimes(events),
  }
}

function hostErrors(release: ReleaseJson): string {
  return release.hosts
    .filter((h) => h.error)
    .slice(0, 3)
    .map((h) => `${h.hostname} at ${h.step}: ${h.error}`)
    .join('; ')
}

// ---------------------------------------------------------------- Ansible's runs

interface AnsibleRound extends AnsibleRun {
  cpu: number
}

async function ansibleRound(side: AnsibleSide, id: string, artifact: string, repo: Repo, hosts: Host[], pipelining: boolean): Promise<AnsibleRound> {
  const cpu0 = machineCpu()
  const run = await side.run({ releaseId: id, artifact, commit: repo.commit, pipelining })
  const cpu = machineCpu() - cpu0
  for (const host of hosts) verifyHost(host, ANSIBLE_DEPLOY_DIR, id, repo)
  return { ...run, cpu }
}

// ---------------------------------------------------------------- the 100,000-line hook

interface HookFigures {
  where: string
  lines: number
  stored: number
  head: number
  /** POST → the release's finished_at. */
  releaseMs: number
  /** The lines' own timestamps (taken as the console read them): first → last. */
  readMs: number
  /** The first line's timestamp → the events API's head first counted the last line (sampled every 250 ms). */
  storedMs: number
  /** First line at the first page → last line at the last page. */
  deliverMs: number
  /** POST → the last page has the last line. */
  lastLineMs: number
  /** The last line's timestamp → the last page has it. */
  lagMs: number
  complete: number
  inOrder: number
  duplicates: number
  resets: number
  answers: number
  page: string
}

class LineCheck {
  next = 1
  got = 0
  disorder = 0
  dupes = 0
  first = NaN
  last = NaN

  see(n: number, at: number): void {
    if (n < this.next) this.dupes++
    else {
      if (n !== this.next) this.disorder++
      this.next = n + 1
      this.got++
      if (Number.isNaN(this.first)) this.first = at
      this.last = at
    }
  }
}

async function hookRound(side: ConsoleSide, where: 'console' | 'host', smallRepo: Repo): Promise<HookFigures> {
  const hook = where === 'console' ? 'after_download' : 'before_deploy'
  const projectId = await side.createProject({ title: `bench hook on the ${where}`, repoUrl: smallRepo.url, servers: 1, hooks: { [hook]: `seq 1 ${LINES}` } })
  const checks = Array.from({ length: VIEWERS }, () => new LineCheck())
  const onEvent = (i: number, e: LiveEvent) => {
    if (e.kind !== 'log' || e.stream !== 'stdout' || !/^\d+$/.test(e.body)) return
    checks[i]?.see(Number(e.body), e.arrived)
  }
  const { release, posted, finishedMs, viewers, heads } = await side.release(projectId, { viewers: VIEWERS, onEvent, sampleHeadMs: 250 })
  // the pages may still be catching up when the release ends
  const until = Date.now() + 120_000
  while (checks.some((c) => c.got < LINES) && Date.now() < until && viewers.every((v) => v.errors <= 20)) await sleep(20)
  for (const v of viewers) v.stop()
  if (release.status !== 'success') throw new Error(`hook release ${release.id} ended ${release.status}: ${release.error ?? ''} ${hostErrors(release)}`)

  const { events, head } = await side.events(release.id)
  const lines = events.filter((e) => e.kind === 'log' && e.stream === 'stdout' && /^\d+$/.test(e.body))
  const firstAt = ms(lines[0]?.at)
  const lastAt = ms(lines.at(-1)?.at)
  const lastSeq = lines.at(-1)?.seq ?? Infinity
  // the end of the release stores its last events after the last line; the sample that first counts the last line says when all were in
  const storedAt = heads.find((h) => h.head >= lastSeq)?.at ?? ms(release.finished_at)
  // the release page as someone opening it afterwards gets it
  let page = 'no page'
  try {
    const started = performance.now()
    const res = await fetch(`${side.base}/releases/${release.id}`, { headers: { authorization: `Bearer ${side.apiToken}`, accept: 'text/html' } })
    const body = await res.text()
    page = `GET /releases/${release.id} after the run: ${res.status}, ${fmt(body.length / 1024)} KiB in ${fmt(performance.now() - started)} ms`
  } catch (err) {
    page = `GET /releases/${release.id} failed: ${(err as Error).message}`
  }
  return {
    where: where === 'console' ? 'after_download hook on the console' : 'before_deploy hook on one host',
    lines: LINES,
    stored: lines.length,
    head,
    releaseMs: finishedMs,
    readMs: lastAt - firstAt,
    storedMs: storedAt - firstAt,
    deliverMs: Math.max(...checks.map((c) => c.last)) - Math.min(...checks.map((c) => c.first)),
    lastLineMs: Math.max(...checks.map((c) => c.last)) - posted,
    lagMs: Math.max(...checks.map((c) => c.last)) - lastAt,
    complete: checks.filter((c) => c.got === LINES).length,
    inOrder: checks.filter((c) => c.disorder === 0).length,
    duplicates: checks.reduce((a, c) => a + c.dupes, 0) + viewers.reduce((a, v) => a + v.duplicates, 0),
    resets: viewers.reduce((a, v) => a + v.resets, 0),
    answers: viewers.reduce((a, v) => a + v.answers, 0),
    page,
  }
}

// ---------------------------------------------------------------- main

const cleanup = new Cleanup()
/** After Ctrl-C the run's own errors (its hosts vanished under it) are not news. */
const interrupted = stopOnInterrupt('the hosts and the console', () => cleanup.run())

async function main(): Promise<number> {

  const page = PAGE && SIDES.includes('console')
  const versions = ensurePackages(['openssh-server', ...(SIDES.includes('ansible') ? ['ansible', 'ansible-core'] : []), ...(page ? ['chromium'] : [])])
  const git = execFileSync('git', ['--version'], { encoding: 'utf8' }).trim()
  console.log(`deploy: ${cpus().length} cores, ${fmt(totalmem() / 2 ** 30)} GiB, node ${process.version}, code ${codeState()}, load average ${load()}`)
  console.log(`${Object.entries(versions).map(([pkg, v]) => `${pkg} ${v}`).join(', ')}, ${git}`)
  console.log(
    `${HOSTS} hosts, ${ARTIFACT_MB} MB artifact, ${WARMUP} warm-up + ${ROUNDS} rounds, sides: ${SIDES.join(', ')}; ansible pipelining: ${PIPELINING.map((p) => (p ? 'on' : 'off')).join(', ')}; hooks: ${HOOKS.join(', ') || 'none'}${page ? ' + the page in chromium' : ''}`,
  )

  const dir = cleanup.tempDir('longship-bench-deploy-')
  let started = performance.now()
  const repo = makeRepo(path.join(dir, 'big'), ARTIFACT_MB)
  const smallRepo = makeRepo(path.join(dir, 'small'), 0.001)
  console.log(`repository: ${fmt(repo.bytes / 1e6, 1)} MB of random bytes in ${repo.files.size} files (content committed to a real git repo), made in ${secs(performance.now() - started)}`)

  // the playbook ships the same commit as the console, packed the usual way
  const artifact = path.join(dir, 'artifact.tar.gz')
  started = performance.now()
  execFileSync('git', ['archive', '--format=tar.gz', '-o', artifact, repo.commit], { cwd: repo.dir })
  const packMs = performance.now() - started
  console.log(`ansible's artifact: git archive --format=tar.gz, ${fmt(statSync(artifact).size / 1e6, 1)} MB, packed in ${secs(packMs)} (not part of Ansible's time)`)

  started = performance.now()
  const hosts = await startHosts(cleanup, HOSTS)
  console.log(`${HOSTS} sshd hosts up in ${secs(performance.now() - started)} (ports ${hosts[0]?.port}..${hosts.at(-1)?.port})`)

  let consoleSide: ConsoleSide | null = null
  let projectId = 0
  let consoleProblem: string | null = null
  if (SIDES.includes('console')) {
    consoleSide = new ConsoleSide(cleanup, dir)
    await consoleSide.start(hosts)
    projectId = await consoleSide.createProject({ title: 'bench deploy', repoUrl: repo.url })
    console.log(`console at ${consoleSide.base}, project ${projectId} on ${HOSTS} servers, deploy path ~/${CONSOLE_DEPLOY_DIR}`)
  }
  const ansible = SIDES.includes('ansible') ? new AnsibleSide(cleanup, dir, hosts) : null

  const consoleRounds: ConsoleRound[] = []
  const ansibleRounds = new Map<boolean, AnsibleRound[]>(PIPELINING.map((p) => [p, []]))
  for (let round = 1; round <= WARMUP + ROUNDS; round++) {
    const warm = round <= WARMUP
    const label = warm ? `warm-up ${round}` : `round ${round - WARMUP}`
    if (consoleSide && !consoleProblem) {
      try {
        const r = await consoleRound(consoleSide, projectId, hosts, repo)
        const steps = [...r.steps].map(([k, v]) => `${k} ${fmt(v)} ms`).join(', ')
        console.log(
          `  ${label}: console: release ${r.releaseId} in ${secs(r.wallMs)} (finished_at at ${secs(r.finishedMs)}; build ${secs(r.buildMs)}, ship ${secs(r.shipMs)}), machine CPU ${fmt(r.cpu, 1)} s; verified on ${HOSTS} hosts${steps ? `\n      slowest host per step: ${steps}` : ''}`,
        )
        if (!warm) consoleRounds.push(r)
      } catch (err) {
        if (!(err instanceof ReleaseApiMissing)) throw err
        consoleProblem = err.message
        console.log(`  console: ${err.message}; going on with Ansible alone`)
      }
      await sleep(1000)
    }
    if (ansible) {
      for (const pipelining of PIPELINING) {
        const id = `ansible-${round}${PIPELINING.length > 1 ? (pipelining ? '-p' : '-np') : ''}`
        const r = await ansibleRound(ansible, id, artifact, repo, hosts, pipelining)
        const tasks = r.tasks.map((t) => `${t.name} ${fmt(t.ms)} ms`).join(', ')
        console.log(`  ${label}: ansible (pipelining ${pipelining ? 'on' : 'off'}): ${secs(r.wallMs)}, machine CPU ${fmt(r.cpu, 1)} s; verified on ${HOSTS} hosts\n      tasks: ${tasks}`)
        if (!warm) ansibleRounds.get(pipelining)?.push(r)
        await sleep(1000)
      }
    }
  }

  const hookFigures: HookFigures[] = []
  if (consoleSide && !consoleProblem) {
    for (const where of HOOKS as Array<'console' | 'host'>) {
      console.log(`\nhook: seq 1 ${fmt(LINES)} as the ${where === 'console' ? 'after_download hook on the console' : 'before_deploy hook on one host'}, ${VIEWERS} pages watching...`)
      const h = await hookRound(consoleSide, where, smallRepo)
      hookFigures.push(h)
      console.log(
        `  release ${secs(h.releaseMs)} (POST → finished_at); ${fmt(h.stored)} of ${fmt(h.lines)} lines stored (head ${fmt(h.head)}); ` +
          `read by the console at ${fmt(h.lines / (h.readMs / 1000))} lines/s, all stored ${secs(h.storedMs)} after the first line was read (${fmt(h.lines / (h.storedMs / 1000))} lines/s)\n  ` +
          `${h.complete} of ${VIEWERS} pages have every line, ${h.inOrder} in order, ${h.duplicates} duplicates, ${h.resets} resets, ${fmt(h.answers / VIEWERS, 1)} answers per page; ` +
          `delivered at ${fmt(h.lines / (h.deliverMs / 1000))} lines/s per page (${fmt((h.lines * VIEWERS) / (h.deliverMs / 1000))} in all); ` +
          `the last page had the last line ${secs(h.lastLineMs)} after the POST, ${secs(h.lagMs)} after the console read it\n  ${h.page}`,
      )
    }
  }

  let pageFigures: PageFigures | null = null
  if (page && consoleSide && !consoleProblem) {
    console.log(`\npage: seq 1 ${fmt(LINES)} as the after_download hook, the release page open in headless chromium from the POST...`)
    const projectId = await consoleSide.createProject({ title: 'bench hook in the page', repoUrl: smallRepo.url, servers: 1, hooks: { after_download: `seq 1 ${LINES}` } })
    const p = (pageFigures = await watchInBrowser(cleanup, consoleSide, projectId, LINES))
    console.log(
      `  release ${p.releaseId}: finished_at ${secs(p.finishedMs)} after the POST; the page showed line ${fmt(LINES)} at ${secs(p.lastLineMs)} and "success" at ${secs(p.successMs)}; ` +
        `${fmt(p.domLines)} lines in the document, JS heap ${fmt(p.heapMb, 1)} MiB; ${p.longTasks} long tasks (longest ${fmt(p.longestTaskMs)} ms, ${fmt(p.longTasksMs)} ms in all); ` +
        `${p.errors.length ? `script errors: ${p.errors.slice(0, 3).join(' | ')}` : 'no script errors'}`,
    )
  }

  // ---------------------------------------------------------------- summary
  console.log(`\nload average after: ${load()}`)
  const consoleWall = consoleRounds.length ? median(consoleRounds.map((r) => r.wallMs)) : NaN
  const lines = [`| ${HOSTS} hosts, ${ARTIFACT_MB} MB, median of ${ROUNDS} | wall | build | ship | machine CPU | Ansible ÷ console |`, '|---|---:|---:|---:|---:|---:|']
  if (consoleRounds.length) {
    lines.push(
      `| Longship (POST → ended) | ${secs(consoleWall)} | ${secs(median(consoleRounds.map((r) => r.buildMs)))} | ${secs(median(consoleRounds.map((r) => r.shipMs)))} | ${fmt(median(consoleRounds.map((r) => r.cpu)), 1)} s | |`,
    )
  }
  let best = Infinity
  for (const [pipelining, rounds] of ansibleRounds) {
    if (!rounds.length) continue
    const wall = median(rounds.map((r) => r.wallMs))
    best = Math.min(best, wall)
    const ratio = Number.isFinite(consoleWall) ? `${fmt(wall / consoleWall, 2)}×` : ''
    lines.push(`| Ansible, pipelining ${pipelining ? 'on' : 'off'} (playbook start → exit) | ${secs(wall)} | (${secs(packMs)}, not counted) | | ${fmt(median(rounds.map((r) => r.cpu)), 1)} s | ${ratio} |`)
  }
  console.log('\n' + lines.join('\n'))
  if (hookFigures.length) {
    const hl = [
      '',
      `| ${fmt(LINES)} lines, ${VIEWERS} pages | release | read, lines/s | stored, lines/s | delivered per page, lines/s | last line at the last page | complete / in order / duplicates |`,
      '|---|---:|---:|---:|---:|---:|---:|',
    ]
    for (const h of hookFigures) {
      hl.push(
        `| ${h.where} | ${secs(h.releaseMs)} | ${fmt(h.lines / (h.readMs / 1000))} | ${fmt(h.lines / (h.storedMs / 1000))} | ${fmt(h.lines / (h.deliverMs / 1000))} | ${secs(h.lastLineMs)} | ${h.complete}/${VIEWERS}, ${h.inOrder}/${VIEWERS}, ${h.duplicates} |`,
      )
    }
    console.log(hl.join('\n'))
  }
  if (pageFigures) {
    const p = pageFigures
    console.log(
      `\n| the page (chromium), ${fmt(LINES)} lines | release finished | last line shown | success shown | lines in the document | JS heap | long tasks (longest) |\n|---|---:|---:|---:|---:|---:|---:|\n` +
        `| after_download hook | ${secs(p.finishedMs)} | ${secs(p.lastLineMs)} | ${secs(p.successMs)} | ${fmt(p.domLines)} | ${fmt(p.heapMb, 1)} MiB | ${p.longTasks} (${fmt(p.longestTaskMs)} ms) |`,
    )
  }
  if (consoleProblem) {
    console.log(`\nconsole half not measured: ${consoleProblem}`)
    return 1
  }
  if (Number.isFinite(consoleWall) && Number.isFinite(best)) {
    const ratio = best / consoleWall
    console.log(`\ntarget (at least ${TARGET_RATIO}× faster than Ansible): ${fmt(ratio, 2)}× against the faster Ansible: ${ratio >= TARGET_RATIO ? 'met' : 'NOT met'}`)
  }
  const badHooks = hookFigures.filter((h) => h.complete < VIEWERS || h.inOrder < VIEWERS || h.duplicates > 0 || h.stored !== h.lines)
  if (badHooks.length) {
    console.log(`hook lines lost, duplicated or out of order: ${badHooks.map((h) => h.where).join('; ')}`)
    return 1
  }
  return 0
}

try {
  process.exitCode = await main()
} catch (err) {
  if (!interrupted()) console.error(err instanceof MissingPackages ? `deploy: ${err.message}` : err)
  process.exitCode = 1
} finally {
  await cleanup.run()
}
