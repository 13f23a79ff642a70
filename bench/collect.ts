/**
 * collect: the console's SSH collection of BENCH_HOSTS (50) loopback sshd
 * hosts against `ansible all -m setup -f 50` on the same hosts, in the same
 * run; target: the console at least 5× faster (issue 5).
 *
 *   npm run bench:collect
 *   BENCH_HOSTS=10 BENCH_ROUNDS=1 npm run bench:collect     # a quick look
 *   COLLECT_CONCURRENCY=50 npm run bench:collect            # the console's pool as wide as ansible's forks
 *
 * Console: started as `npm start` starts it (bench/deploy-console.ts), with
 * an admin, an API token, one key credential and one server per host; each
 * round presses "Collect all" through its route (POST /assets/collect, as
 * the button does, with the token) and is timed until the run reports every
 * host stored (GET /assets/collect/:id, asked every 20 ms); then
 * GET /api/assets must list every host, collected after the round began.
 * Ansible: from starting `ansible all -i INV -m setup -f BENCH_FORKS -o`
 * until it exits, every host SUCCESS. Rounds alternate; BENCH_WARMUP (1)
 * not counted, then BENCH_ROUNDS (3); medians compared.
 */
import { spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import path from 'node:path'
import { writeInventory } from './ansible-inventory.ts'
import { ConsoleSide } from './deploy-console.ts'
import { Cleanup, ensurePackages, MissingPackages, startHosts, stopControlMasters, type Host } from './deploy-hosts.ts'
import { sleep, stopOnInterrupt, track } from './poll-targets.ts'
import { fmt, knob, load, machineCpu, median, secs } from './figures.ts'


const HOSTS = knob('BENCH_HOSTS', 50, 1)
const ROUNDS = knob('BENCH_ROUNDS', 3, 1)
const WARMUP = knob('BENCH_WARMUP', 1, 0)
const FORKS = knob('BENCH_FORKS', 50, 1)
const TARGET_RATIO = 5



interface RunJson {
  id: number
  finishedAt: string | null
  total: number
  done: number
  failed: number
  maxActive: number
  hosts: Array<{ hostname: string; status: string; message: string | null }>
}

interface Round {
  wallMs: number
  cpu: number
  note: string
}

async function consoleRound(side: ConsoleSide): Promise<Round> {
  const cpu0 = machineCpu()
  const began = new Date()
  const started = performance.now()
  const pressed = await side.api<{ run: number }>('POST', '/assets/collect', {})
  let run: RunJson
  for (;;) {
    run = await side.api<RunJson>('GET', `/assets/collect/${pressed.run}`)
    if (run.finishedAt) break
    if (performance.now() - started > 600_000) throw new Error(`collection run ${pressed.run} did not end within 600 s`)
    await sleep(20)
  }
  const wallMs = performance.now() - started
  const cpu = machineCpu() - cpu0
  const bad = run.hosts.filter((h) => !['created', 'updated', 'unchanged'].includes(h.status))
  if (run.total !== HOSTS || run.done !== HOSTS || bad.length) throw new Error(`console run ${run.id}: ${run.done}/${run.total} done, ${bad.length} not stored: ${bad.slice(0, 3).map((h) => `${h.hostname} ${h.status} ${h.message}`).join('; ')}`)
  // every host's asset is there and was written by this round
  let fresh = 0
  let total = 0
  for (let page = 1; ; page++) {
    const list = await side.api<{ items: Array<{ collected_at: string | null; mode: string }>; total: number; pages: number }>('GET', `/api/assets?page=${page}`)
    total = list.total
    fresh += list.items.filter((a) => a.mode === 'ssh' && a.collected_at && Date.parse(a.collected_at) >= began.getTime() - 1000).length
    if (page >= list.pages) break
  }
  if (total !== HOSTS || fresh !== HOSTS) throw new Error(`console run ${run.id}: ${total} assets stored, ${fresh} collected this round; ${HOSTS} expected`)
  return { wallMs, cpu, note: `run ${run.id}, ${run.maxActive} hosts at most at once, ${total} assets verified` }
}

async function ansibleRound(dir: string, inventory: string): Promise<Round> {
  const cpu0 = machineCpu()
  const env = {
    ...process.env,
    ANSIBLE_CONFIG: path.join(dir, 'ansible.cfg'),
    ANSIBLE_HOME: path.join(dir, 'ansible-home'),
    ANSIBLE_LOCAL_TEMP: path.join(dir, 'ansible-tmp'),
    ANSIBLE_SSH_CONTROL_PATH_DIR: path.join(dir, 'cp'),
    ANSIBLE_NOCOLOR: '1',
  }
  const started = performance.now()
  const { code, out, err } = await new Promise<{ code: number | null; out: string; err: string }>((resolve, reject) => {
    // a process group of its own, stopped with its forks on Ctrl-C or an error
    const child = spawn('ansible', ['all', '-i', inventory, '-m', 'setup', '-f', String(FORKS), '-o'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    track(child)
    cleanupChild = () => {
      try {
        process.kill(-(child.pid as number), 'SIGKILL')
      } catch {
        // already gone
      }
    }
    let out = ''
    let err = ''
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')))
    child.stderr.on('data', (c: Buffer) => (err = (err + c.toString('utf8')).slice(-4000)))
    child.once('error', reject)
    child.once('close', (code) => resolve({ code, out, err }))
  })
  const wallMs = performance.now() - started
  const cpu = machineCpu() - cpu0
  cleanupChild = null
  const ok = out.split('\n').filter((l) => /^host-\d+ \| SUCCESS => \{"ansible_facts"/.test(l)).length
  if (code !== 0 || ok !== HOSTS) throw new Error(`ansible exited ${code} with ${ok} of ${HOSTS} hosts SUCCESS: ${out.split('\n').filter((l) => !/SUCCESS/.test(l)).slice(0, 3).join(' | ').slice(0, 1000)} ${err.slice(-1000)}`)
  return { wallMs, cpu, note: `${ok} hosts SUCCESS with ansible_facts, ${fmt(out.length / 1024)} KiB printed` }
}

let cleanupChild = null as (() => void) | null
const cleanup = new Cleanup()
/** After Ctrl-C the run's own errors (its hosts vanished under it) are not news. */
const interrupted = stopOnInterrupt('the hosts and the console', async () => {
  cleanupChild?.()
  await cleanup.run()
})

async function main(): Promise<number> {

  const versions = ensurePackages(['openssh-server', 'ansible', 'ansible-core'])
  const pool = process.env.COLLECT_CONCURRENCY || '20 (default)'
  console.log(`collect: ${cpus().length} cores, ${fmt(totalmem() / 2 ** 30)} GiB, node ${process.version}, load average ${load()}`)
  console.log(`${Object.entries(versions).map(([pkg, v]) => `${pkg} ${v}`).join(', ')}`)
  console.log(`${HOSTS} hosts, ${WARMUP} warm-up + ${ROUNDS} rounds; console COLLECT_CONCURRENCY ${pool}, ansible -f ${FORKS}`)

  const dir = cleanup.tempDir('longship-bench-collect-')
  let started = performance.now()
  const hosts: Host[] = await startHosts(cleanup, HOSTS)
  console.log(`${HOSTS} sshd hosts up in ${secs(performance.now() - started)}`)

  const side = new ConsoleSide(cleanup, dir)
  started = performance.now()
  await side.start(hosts)
  console.log(`console at ${side.base} with ${HOSTS} servers, up in ${secs(performance.now() - started)}`)

  const inventory = writeInventory(dir, hosts)
  mkdirSync(path.join(dir, 'cp'))
  cleanup.after(() => stopControlMasters(path.join(dir, 'cp')))
  // Ansible's defaults but pipelining (one ssh exec per host instead of four; faster) and no retry files;
  // ssh_args stay the default, so ControlPersist=60s keeps each host's connection for the next round
  writeFileSync(path.join(dir, 'ansible.cfg'), ['[defaults]', 'host_key_checking = True', 'retry_files_enabled = False', '', '[ssh_connection]', 'pipelining = True', ''].join('\n'))

  const consoleRounds: Round[] = []
  const ansibleRounds: Round[] = []
  for (let round = 1; round <= WARMUP + ROUNDS; round++) {
    const warm = round <= WARMUP
    const label = warm ? `warm-up ${round}` : `round ${round - WARMUP}`
    const c = await consoleRound(side)
    console.log(`  ${label}: console: ${secs(c.wallMs)}, machine CPU ${fmt(c.cpu, 1)} s (${c.note})`)
    if (!warm) consoleRounds.push(c)
    await sleep(1000)
    const a = await ansibleRound(dir, inventory)
    console.log(`  ${label}: ansible: ${secs(a.wallMs)}, machine CPU ${fmt(a.cpu, 1)} s (${a.note})`)
    if (!warm) ansibleRounds.push(a)
    await sleep(1000)
  }

  console.log(`\nload average after: ${load()}`)
  const cw = median(consoleRounds.map((r) => r.wallMs))
  const aw = median(ansibleRounds.map((r) => r.wallMs))
  console.log(
    [
      '',
      `| ${HOSTS} hosts, median of ${ROUNDS} | wall | machine CPU | Ansible ÷ console |`,
      '|---|---:|---:|---:|',
      `| Longship SSH mode ("Collect all" → every asset stored) | ${secs(cw)} | ${fmt(median(consoleRounds.map((r) => r.cpu)), 1)} s | |`,
      `| \`ansible all -m setup -f ${FORKS}\` (start → exit) | ${secs(aw)} | ${fmt(median(ansibleRounds.map((r) => r.cpu)), 1)} s | ${fmt(aw / cw, 2)}× |`,
    ].join('\n'),
  )
  const ratio = aw / cw
  console.log(`\ntarget (at least ${TARGET_RATIO}× faster than ansible -m setup): ${fmt(ratio, 2)}×: ${ratio >= TARGET_RATIO ? 'met' : 'NOT met'}`)
  return 0
}

try {
  process.exitCode = await main()
} catch (err) {
  if (!interrupted()) console.error(err instanceof MissingPackages ? `collect: ${err.message}` : err)
  process.exitCode = 1
} finally {
  cleanupChild?.()
  await cleanup.run()
}
