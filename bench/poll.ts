/**
 * poll: the long poll (`POST /poll`) against Nchan's long-poll subscriber,
 * with the same load generator and the same clients for both.
 *
 *   npm run bench:poll
 *   BENCH_CLIENTS=1000 BENCH_DURATION=10 BENCH_TARGETS=longship npm run bench:poll   # a quick look
 *
 * Starts each server as a child process on 127.0.0.1 (the console: `node
 * --import tsx server/main.ts` on a fresh SQLite file, signed in through the
 * real /setup form; Nchan: Debian's nginx + libnginx-mod-nchan on a config of
 * its own, bench/nchan/nginx.conf.template) and, from this script (for the
 * memory steps and the fan-out, one process of it per server: "interleaved"
 * below), with a kept-alive socket and its own cursor per simulated tab:
 *
 * 1. memory per idle held poll: (RSS with N tabs each holding a poll − RSS
 *    before) / N, at 1,000, 5,000 and 10,000 tabs (Nchan: master + workers);
 * 2. fan-out: one event to all 10,000 tabs, BENCH_ROUNDS times (10), each
 *    round once every tab is held again: latency p50/p99/max, loss, duplicates
 *    (a tab polls again once the round is over: BENCH_REPOLL below);
 * 3. stream: 1,000 tabs on one topic while a publisher (a process of its own)
 *    sends BENCH_RATE lines a second (2,000) for BENCH_DURATION s (60):
 *    delivered lines a second, latency, events per answer, loss, duplicates.
 *
 * Every line holds the publisher's clock and a counter, so each tab measures
 * latency (its arrival time − that clock) and finds loss, duplicates and
 * disorder itself. Knobs: BENCH_CLIENTS (10000), BENCH_DURATION (60),
 * BENCH_TARGETS ("longship,nchan"), BENCH_RATE (2000), BENCH_ROUNDS (10),
 * BENCH_NCHAN_BUFFER (2000, Nchan's nchan_message_buffer_length),
 * BENCH_REPOLL (after-round, or at-once), BENCH_READS (after-round, or
 * as-they-come), BENCH_ORDER (interleaved, or sequential: see "interleaved"
 * below).
 */
import http from 'node:http'
import { cpus } from 'node:os'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { ClientPool, latencyHistogram, line, now, Tally } from './poll-clients.ts'
import type { PublisherJob, PublisherReport } from './poll-publisher.ts'
import {
  cpuSeconds,
  ensureNchan,
  LongshipTarget,
  NchanTarget,
  NchanUnavailable,
  pssKb,
  publish,
  ROOT,
  rssKb,
  sleep,
  stopOnInterrupt,
  track,
  type Target,
} from './poll-targets.ts'
import { fmt, knob, load } from './figures.ts'


// the published figures use the defaults; the knobs are for exploring
const CLIENTS = knob('BENCH_CLIENTS', 10_000, 10)
const DURATION_S = knob('BENCH_DURATION', 60, 1)
const RATE = knob('BENCH_RATE', 2000, 1)
const ROUNDS = knob('BENCH_ROUNDS', 10, 1)
const WARMUP_ROUNDS = 1
/**
 * BENCH_REPOLL=at-once: in the fan-out, each tab polls again the moment its
 * line arrives, as before 2026-11-24 (see ClientPool.holdingRepolls for why
 * the default now waits until the round is over).
 */
const HOLD_REPOLLS = (process.env.BENCH_REPOLL ?? 'after-round') !== 'at-once'
/**
 * BENCH_READS=as-they-come: in the fan-out, each tab reads its answer the
 * moment it arrives, as every run did until the night of 2026-11-24 (see
 * ClientPool.deferringReads for why the default puts answers aside until the
 * round's answers are in).
 */
const DEFER_READS = (process.env.BENCH_READS ?? 'after-round') !== 'as-they-come'
/**
 * The generator's own garbage is collected before each fan-out round, outside
 * the timed window. This process plays 10,000 tabs, and every round leaves
 * their requests and answers in its old generation: left alone, a major
 * collection (with its incremental marking, which slows every read while it
 * runs) lands in whichever round the heap happens to fill, and can make
 * that round slow for either server. Measured on one machine, one evening: the
 * fan-out p99 ratio was within 1.5× in 6 of 9 runs without this and in 18 of
 * 19 with it (docs/PERFORMANCE.md, "2026-11-24, night").
 */
const exposedGc = (globalThis as { gc?: () => void }).gc
if (!exposedGc) throw new Error('bench/poll: run it with node --expose-gc, as `npm run bench:poll` does')
const collectGeneratorGarbage: () => void = exposedGc
/**
 * BENCH_ORDER: `interleaved` (the default) runs the two targets' fan-out
 * rounds alternately, each target's tabs in a generator process of its own
 * ("interleaved" below says why); `sequential` runs everything for one
 * target, then for the other, in this process, as every run did until the
 * night of 2026-11-24.
 */
const ORDER = process.env.BENCH_ORDER ?? 'interleaved'
if (ORDER !== 'interleaved' && ORDER !== 'sequential') throw new Error(`BENCH_ORDER: ${ORDER} is neither interleaved nor sequential`)
const INTERLEAVED = ORDER === 'interleaved'
/** Set in a generator process the interleaved order started for one target. */
const RUNNER = process.env.BENCH_RUNNER
const NCHAN_BUFFER = knob('BENCH_NCHAN_BUFFER', 2000, 1)
const TARGETS = (process.env.BENCH_TARGETS ?? 'longship,nchan')
  .split(',')
  .map((t) => t.trim())
  .filter(Boolean)
for (const t of TARGETS) if (t !== 'longship' && t !== 'nchan') throw new Error(`BENCH_TARGETS: unknown target ${t} (longship, nchan)`)
const STREAM_CLIENTS = Math.min(1000, CLIENTS)
const MEMORY_STEPS = [...new Set([1000, 5000, 10_000, CLIENTS].filter((n) => n <= CLIENTS))].sort((a, b) => a - b)
/** Scenarios 1 and 2 hold polls this long (the longest POLL_TIMEOUT_MS allows), so no timeout lands in a measurement. */
const HOLD_MS = 120_000
/** The stream runs with the console's default timeout (events never let it expire). */
const STREAM_HOLD_MS = 25_000
const WARMUP_TABS = 100

const TARGET_KB_PER_CLIENT = 10
const TARGET_P99_RATIO = 1.5

// ---------------------------------------------------------------- results

interface MemoryStep {
  clients: number
  rssKb: number
  perClientKb: number
  pssPerClientKb: number
}

interface FanOut {
  clients: number
  rounds: number
  p50: number
  p99: number
  max: number
  lost: number
  duplicates: number
  outOfOrder: number
  errors: number
  serverCpuPerRound: number
  generatorCpuPerRound: number
}

interface Stream {
  clients: number
  sent: number
  requests: number
  publishRate: number
  deliveredPerS: number
  p50: number
  p99: number
  max: number
  eventsPerAnswer: number
  lost: number
  duplicates: number
  outOfOrder: number
  errors: number
  resets: number
  serverCpu: number
  generatorCpu: number
  drainS: number
  publisherError: string | null
}

interface Result {
  target: Target
  baselineKb: number
  memory: MemoryStep[]
  fanout: FanOut | null
  stream: Stream | null
}

// ---------------------------------------------------------------- helpers

const ms = (us: number) => fmt(us / 1000, us < 100_000 ? 1 : 0)

function generatorCpu(): number {
  const usage = process.cpuUsage()
  return (usage.user + usage.system) / 1e6
}

/** Which code is measured: the commit, and whether server/ differs from it. */
function codeState(): string {
  const git = (...args: string[]) => spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' }).stdout?.trim() ?? ''
  const head = git('rev-parse', '--short', 'HEAD') || 'unknown commit'
  const dirty = git('status', '--porcelain', '--', 'server').split('\n').filter(Boolean).length
  return dirty ? `${head} + uncommitted changes to ${dirty} file${dirty > 1 ? 's' : ''} in server/` : head
}

/** Waits until the server itself counts `count` held polls. */
async function waitHeld(target: Target, count: number, what: string, timeoutMs = 120_000): Promise<void> {
  const started = Date.now()
  let said = started
  for (;;) {
    const held = await target.held()
    if (held >= count) return
    if (Date.now() - started > timeoutMs) throw new Error(`${target.name}: ${what}: the server holds ${held} polls of ${count} after ${timeoutMs / 1000} s`)
    if (Date.now() - said > 10_000) {
      console.log(`  ${target.name}: ${what}: ${held} of ${count} polls held...`)
      said = Date.now()
    }
    await sleep(100)
  }
}

/**
 * Answers put aside in a fan-out round are read once every tab has one, or
 * once none has come for this long: a tab whose answer did not carry the
 * round's line (an empty or superseded one, which a round should not see)
 * polls again only after its answer is read.
 */
const ARRIVALS_QUIET_MS = 250

/** Waits until `count` tabs have line n, or `timeoutMs` passed. */
async function waitReceived(pool: ClientPool, n: number, count: number, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs
  for (;;) {
    if (pool.unread && (pool.tally.receivedBy(n) + pool.unread >= count || now() - pool.lastArrivalAt > ARRIVALS_QUIET_MS)) pool.readArrived()
    if (pool.tally.receivedBy(n) >= count) return true
    if (Date.now() > until) return false
    await sleep(5)
  }
}

/** Tabs (and targets) open right now, for a clean stop on Ctrl-C or an error. */
const openPools = new Set<ClientPool>()
/** Servers running right now (two at once during the interleaved fan-out). */
const runningTargets = new Set<Target>()

async function stopTarget(target: Target): Promise<void> {
  try {
    await target.stop()
  } finally {
    runningTargets.delete(target)
  }
}

function openPool(target: Target, prefix: string): ClientPool {
  const pool = new ClientPool(target, prefix)
  openPools.add(pool)
  return pool
}

function closePool(pool: ClientPool): void {
  pool.close()
  openPools.delete(pool)
}

/** Code paths compiled and caches filled before the baseline, so they are not counted per tab. */
async function warmUp(target: Target, agent: http.Agent): Promise<void> {
  const pool = openPool(target, 'warm')
  await pool.grow(WARMUP_TABS)
  await waitHeld(target, WARMUP_TABS, 'warm-up')
  const spec = target.publishSpec()
  for (let n = 1; n <= 5; n++) {
    await publish(spec, agent, [line(now(), n)])
    if (!(await waitReceived(pool, n, WARMUP_TABS, 10_000))) throw new Error(`${target.name}: warm-up line ${n} did not reach every tab`)
    await waitHeld(target, WARMUP_TABS, 'warm-up')
  }
  closePool(pool)
  const until = Date.now() + 10_000
  while ((await target.held()) > 0 && Date.now() < until) await sleep(100)
  await sleep(1000)
}

// ---------------------------------------------------------------- scenarios

/** A target whose tabs hold their polls, between the memory steps and the end of the fan-out. */
interface Held {
  target: Target
  result: Result
  pool: ClientPool
  agent: http.Agent
  serverCpu: number
  generatorCpu: number
}

/** 1. Starts the target and opens tabs up to CLIENTS, measuring memory at each step; the tabs stay open for the fan-out. */
async function startAndHold(target: Target, result: Result): Promise<Held> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  runningTargets.add(target)
  await target.start(HOLD_MS)
  try {
    await warmUp(target, agent)
    const pids = target.pids()
    result.baselineKb = rssKb(pids)
    const pss0 = pssKb(pids)
    console.log(`${target.name}: RSS before ${fmt(result.baselineKb / 1024, 1)} MiB (${pids.length} process${pids.length > 1 ? 'es' : ''})`)

    const pool = openPool(target, 'tab')
    for (const step of MEMORY_STEPS) {
      const started = Date.now()
      await pool.grow(step)
      await waitHeld(target, step, `${step} tabs`)
      const ready = Date.now() - started
      await sleep(2000)
      const rss = rssKb(target.pids())
      const m = { clients: step, rssKb: rss, perClientKb: (rss - result.baselineKb) / step, pssPerClientKb: (pssKb(target.pids()) - pss0) / step }
      result.memory.push(m)
      console.log(
        `${target.name}: ${fmt(step)} held polls: RSS ${fmt(rss / 1024, 1)} MiB, ${fmt(m.perClientKb, 1)} KB per poll (PSS ${fmt(m.pssPerClientKb, 1)} KB); all held in ${fmt(ready / 1000, 1)} s`,
      )
    }
    pool.tally = new Tally()
    return { target, result, pool, agent, serverCpu: 0, generatorCpu: 0 }
  } catch (err) {
    agent.destroy()
    await stopTarget(target)
    throw err
  }
}

/**
 * 2. One fan-out round: one event to every tab of `held` once they all hold
 * their polls again. The round ends only when they hold them again after
 * it, so in the interleaved order, where the parent starts one target's
 * round when the other's has ended, no server is still taking re-polls while
 * the other one's round is timed. Round 1 warms up both servers (the
 * console's JIT, nginx's pools) and is checked for loss but not timed. CPU
 * is counted from the garbage collection before the round until the tabs
 * hold their polls again. Returns the round's p99, or null for a warm-up
 * round.
 */
async function fanOutRound(held: Held, round: number): Promise<number | null> {
  const { target, pool, agent } = held
  const clients = pool.size
  await waitHeld(target, clients, `fan-out round ${round}`)
  const cpu0 = cpuSeconds(target.pids())
  const gen0 = generatorCpu()
  collectGeneratorGarbage()
  await sleep(300)
  const hist = (pool.tally.round = latencyHistogram())
  pool.holdingRepolls = HOLD_REPOLLS
  pool.deferringReads = DEFER_READS
  const t = now()
  await publish(target.publishSpec(), agent, [line(t, round)])
  const everyTab = await waitReceived(pool, round, clients, 30_000)
  pool.deferringReads = false
  pool.readArrived()
  pool.holdingRepolls = false
  pool.releaseRepolls()
  const warmUp = round <= WARMUP_ROUNDS
  console.log(
    `  ${target.name}: round ${round}${warmUp ? ' (warm-up, not timed)' : ''}: ${fmt(pool.tally.receivedBy(round))} of ${fmt(clients)} tabs, p50 ${ms(hist.percentile(50))} ms, p99 ${ms(hist.percentile(99))} ms, last ${ms(hist.max)} ms${everyTab ? '' : ' (gave up after 30 s)'}`,
  )
  pool.tally.round = null
  await waitHeld(target, clients, `after fan-out round ${round}`)
  if (warmUp) {
    pool.tally.latency.reset()
    return null
  }
  held.serverCpu += cpuSeconds(target.pids()) - cpu0
  held.generatorCpu += generatorCpu() - gen0
  return hist.percentile(99)
}

/** The fan-out's figures from the rounds run, then the tabs closed and the target stopped. */
async function finishFanOut(held: Held): Promise<void> {
  const { target, pool } = held
  try {
    const tally = pool.tally
    const clients = pool.size
    const f: FanOut = {
      clients,
      rounds: ROUNDS,
      p50: tally.latency.percentile(50),
      p99: tally.latency.percentile(99),
      max: tally.latency.max,
      lost: tally.lost(ROUNDS + WARMUP_ROUNDS, clients),
      duplicates: tally.duplicates,
      outOfOrder: tally.outOfOrder,
      errors: tally.errors,
      serverCpuPerRound: held.serverCpu / ROUNDS,
      generatorCpuPerRound: held.generatorCpu / ROUNDS,
    }
    held.result.fanout = f
    console.log(
      `${target.name}: fan-out to ${fmt(clients)} tabs, ${ROUNDS} rounds: p50 ${ms(f.p50)} ms, p99 ${ms(f.p99)} ms, max ${ms(f.max)} ms; ` +
        `lost ${f.lost}, duplicates ${f.duplicates}, out of order ${f.outOfOrder}, errors ${tally.errorSummary()}, unreadable ${tally.foreign}, superseded ${tally.superseded}; ` +
        `CPU per round: server ${fmt(f.serverCpuPerRound, 2)} s, generator ${fmt(f.generatorCpuPerRound, 2)} s`,
    )
  } finally {
    closePool(pool)
    held.agent.destroy()
    await stopTarget(target)
  }
}

/** Memory and fan-out for one target on its own, then the next (BENCH_ORDER=sequential). */
async function memoryAndFanOutInTurn(target: Target, result: Result): Promise<void> {
  const held = await startAndHold(target, result)
  try {
    for (let round = 1; round <= ROUNDS + WARMUP_ROUNDS; round++) await fanOutRound(held, round)
  } finally {
    await finishFanOut(held)
  }
}

// ---------------------------------------------------------------- interleaved

/**
 * BENCH_ORDER=interleaved (the default): memory for each target in turn, then
 * the fan-out rounds of the two targets alternately, the order swapped every
 * round (A B, B A, A B ...), then each stream in turn.
 *
 * Why: on a shared virtual machine the speed of the cores drifts over
 * seconds to minutes, for the servers and the generator alike. Run one
 * target's rounds after the other's, a slow spell lands on one side only and
 * moves the ratio by itself; interleaved, both sides meet it round for round.
 *
 * How: each target gets a generator process of its own, this script run
 * again with BENCH_RUNNER=<target>, which does the steps this process asks
 * for one at a time. Both keep their tabs open from the memory steps to the
 * end of the fan-out, and 20,000 sockets would not fit under this machine's
 * open-file limit (20,000, which root cannot raise in this container) in one
 * process. It also keeps each generator's heap its own, as in the sequential
 * order: only the process whose round it is does anything.
 */
type RunnerStep = { op: 'hold' } | { op: 'round'; round: number } | { op: 'finish' } | { op: 'stream' }
type Figures = Omit<Result, 'target'>
type RunnerReply = { ok: true; figures: Figures; roundP99: number | null } | { ok: false; error: string }

function figuresOf(result: Result): Figures {
  return { baselineKb: result.baselineKb, memory: result.memory, fanout: result.fanout, stream: result.stream }
}

/** The parent's handle on one target's runner process. */
class Runner {
  private readonly child: ChildProcess
  private waiting: { resolve: (reply: RunnerReply) => void; reject: (err: Error) => void } | null = null
  private readonly exited: Promise<void>

  constructor(readonly result: Result) {
    const script = process.argv[1] as string
    this.child = spawn(process.execPath, [...process.execArgv, script], {
      cwd: ROOT,
      env: { ...process.env, BENCH_RUNNER: result.target.name },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    track(this.child)
    // a step sent to a child that is gone: fail the step, not the whole process
    this.child.on('error', (err) => this.takeWaiting()?.reject(err))
    this.child.on('message', (reply: RunnerReply) => this.takeWaiting()?.resolve(reply))
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.takeWaiting()?.reject(new Error(`${result.target.name}: the generator process exited (${signal ?? code}) in the middle of a step`))
        resolve()
      })
    })
  }

  /** The step waiting for the child, if any, which is no longer waiting once taken. */
  private takeWaiting() {
    const waiting = this.waiting
    this.waiting = null
    return waiting
  }

  /** Runs one step in the child; its figures so far land in `result`. Returns the round's p99 for a timed round. */
  async step(step: RunnerStep): Promise<number | null> {
    const reply = await new Promise<RunnerReply>((resolve, reject) => {
      this.waiting = { resolve, reject }
      this.child.send(step)
    })
    if (!reply.ok) throw new Error(`${this.result.target.name}: ${reply.error}`)
    Object.assign(this.result, reply.figures)
    return reply.roundP99
  }

  /** Lets the child stop its servers and exit. */
  async stop(): Promise<void> {
    if (this.child.connected) this.child.disconnect()
    else this.child.kill('SIGTERM')
    await this.exited
  }
}

const runners = new Set<Runner>()

async function interleaved(results: Result[]): Promise<void> {
  const list = results.map((result) => new Runner(result))
  for (const runner of list) runners.add(runner)
  try {
    for (const runner of list) {
      console.log(`\n${runner.result.target.name}: ${runner.result.target.title}`)
      await runner.step({ op: 'hold' })
    }
    console.log(`\nfan-out, ${list.map((r) => r.result.target.name).join(' and ')} round by round:`)
    const p99s = new Map<Runner, number[]>(list.map((r) => [r, []]))
    for (let round = 1; round <= ROUNDS + WARMUP_ROUNDS; round++) {
      for (const runner of round % 2 ? list : [...list].reverse()) {
        const p99 = await runner.step({ op: 'round', round })
        if (p99 !== null) p99s.get(runner)?.push(p99)
      }
    }
    for (const runner of list) await runner.step({ op: 'finish' })
    const [a, b] = list.map((r) => p99s.get(r) ?? [])
    if (a && b) console.log(`\nround by round, p99 ${list.map((r) => r.result.target.name).join(' / ')}: ${a.map((p, i) => `${fmt(p / (b[i] as number), 2)}×`).join(', ')}`)
    for (const runner of list) {
      console.log(`\n${runner.result.target.name}: stream`)
      await runner.step({ op: 'stream' })
    }
  } finally {
    for (const runner of list) {
      await runner.stop()
      runners.delete(runner)
    }
  }
}

/** BENCH_RUNNER=<target>: this process is one target's generator, doing the steps its parent sends. */
function serveParent(target: Target): void {
  const result: Result = { target, baselineKb: 0, memory: [], fanout: null, stream: null }
  let held: Held | null = null
  const run = async (step: RunnerStep): Promise<number | null> => {
    if (step.op === 'hold') {
      held = await startAndHold(target, result)
      return null
    }
    if (step.op === 'stream') {
      await stream(target, result)
      return null
    }
    if (!held) throw new Error(`${step.op} before hold`)
    if (step.op === 'finish') {
      const done = held
      held = null
      await finishFanOut(done)
      return null
    }
    return fanOutRound(held, step.round)
  }
  process.on('message', (step: RunnerStep) => {
    run(step).then(
      (roundP99) => process.send?.({ ok: true, figures: figuresOf(result), roundP99 } satisfies RunnerReply),
      (err: unknown) => process.send?.({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) } satisfies RunnerReply),
    )
  })
  // the parent is done or gone: stop the servers, then leave
  process.once('disconnect', () => {
    void stopEverything().finally(() => process.exit(0))
  })
}

function runPublisher(target: Target): Promise<PublisherReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/poll-publisher.ts'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    track(child)
    let report: PublisherReport | null = null
    child.on('message', (msg: PublisherReport) => (report = msg))
    child.on('error', reject)
    child.on('exit', (code) => (report ? resolve(report) : reject(new Error(`the publisher exited (${code}) before reporting`))))
    const job: PublisherJob = { spec: target.publishSpec(), rate: RATE, durationS: DURATION_S }
    child.send(job)
  })
}

async function stream(target: Target, result: Result): Promise<void> {
  runningTargets.add(target)
  await target.start(STREAM_HOLD_MS)
  try {
    const pool = openPool(target, 'stream')
    await pool.grow(STREAM_CLIENTS)
    await waitHeld(target, STREAM_CLIENTS, 'stream tabs')
    await sleep(1000)
    const clients = pool.size
    pool.tally = new Tally()
    const cpu0 = cpuSeconds(target.pids())
    const gen0 = generatorCpu()
    const wall0 = now()
    console.log(`${target.name}: streaming ${fmt(RATE)} lines/s to ${fmt(clients)} tabs for ${DURATION_S} s...`)
    const report = await runPublisher(target)
    const published = now()
    // the last line reaches every tab, or nothing more arrives for 30 s
    let last = pool.tally.delivered
    let quietSince = now()
    while (report.sent > 0 && pool.tally.receivedBy(report.sent) < clients && now() - quietSince < 30_000) {
      await sleep(50)
      if (pool.tally.delivered !== last) {
        last = pool.tally.delivered
        quietSince = now()
      }
    }
    const drained = now()
    const tally = pool.tally
    const windowS = Math.max(report.elapsedS, (tally.lastAt - report.startedAt) / 1000)
    const s: Stream = {
      clients,
      sent: report.sent,
      requests: report.requests,
      publishRate: report.sent / report.elapsedS,
      deliveredPerS: tally.delivered / windowS,
      p50: tally.latency.percentile(50),
      p99: tally.latency.percentile(99),
      max: tally.latency.max,
      eventsPerAnswer: tally.answers ? tally.delivered / tally.answers : 0,
      lost: tally.lost(report.sent, clients),
      duplicates: tally.duplicates,
      outOfOrder: tally.outOfOrder,
      errors: tally.errors,
      resets: tally.resets,
      serverCpu: (cpuSeconds(target.pids()) - cpu0) / ((drained - wall0) / 1000),
      generatorCpu: (generatorCpu() - gen0) / ((drained - wall0) / 1000),
      drainS: (drained - published) / 1000,
      publisherError: report.error,
    }
    result.stream = s
    console.log(
      `${target.name}: stream: published ${fmt(s.sent)} lines in ${fmt(s.requests)} requests (${fmt(s.publishRate)}/s)${s.publisherError ? `, publisher stopped: ${s.publisherError}` : ''}; ` +
        `delivered ${fmt(s.deliveredPerS)} lines/s to all tabs (${fmt(s.deliveredPerS / clients)} per tab); ` +
        `latency p50 ${ms(s.p50)} ms, p99 ${ms(s.p99)} ms, max ${ms(s.max)} ms; ${fmt(s.eventsPerAnswer, 1)} events per answer; ` +
        `lost ${fmt(s.lost)}, duplicates ${s.duplicates}, out of order ${s.outOfOrder}, errors ${tally.errorSummary()}, resets ${s.resets}, unreadable ${tally.foreign}, superseded ${tally.superseded}; ` +
        `last line in ${fmt(s.drainS, 1)} s after the publisher stopped; CPU: server ${fmt(s.serverCpu * 100)} %, generator ${fmt(s.generatorCpu * 100)} %`,
    )
    closePool(pool)
  } finally {
    await stopTarget(target)
  }
}

// ---------------------------------------------------------------- the table

/** One row: a figure for each target (undefined: not measured), how to show it, the ratio, the target. */
interface Row {
  label: string
  get: (r: Result) => number | undefined
  show: (v: number) => string
  ratio?: boolean
  target?: string
  met?: (ours: number, ref: number | undefined) => boolean | undefined
}

function table(results: Result[]): string {
  const ours = results.find((r) => r.target.name === 'longship')
  const ref = results.find((r) => r.target.name === 'nchan')
  const kb = (v: number) => `${fmt(v, 1)} KB`
  const msec = (v: number) => `${ms(v)} ms`
  const count = (v: number) => fmt(v)
  const fanClients = ours?.fanout?.clients ?? ref?.fanout?.clients ?? CLIENTS
  const streamClients = ours?.stream?.clients ?? ref?.stream?.clients ?? STREAM_CLIENTS
  const rows: Row[] = [
    ...MEMORY_STEPS.map((step): Row => ({
      label: `memory per idle held poll, ${fmt(step)} tabs`,
      get: (r) => r.memory.find((m) => m.clients === step)?.perClientKb,
      show: kb,
      ratio: true,
      target: `≤ ${TARGET_KB_PER_CLIENT} KB (ours)`,
      met: (a) => a <= TARGET_KB_PER_CLIENT,
    })),
    { label: `fan-out to ${fmt(fanClients)} tabs, p50`, get: (r) => r.fanout?.p50, show: msec, ratio: true },
    {
      label: `fan-out to ${fmt(fanClients)} tabs, p99`,
      get: (r) => r.fanout?.p99,
      show: msec,
      ratio: true,
      target: `≤ ${TARGET_P99_RATIO}× Nchan`,
      met: (a, b) => (b === undefined ? undefined : a <= TARGET_P99_RATIO * b),
    },
    { label: `fan-out to ${fmt(fanClients)} tabs, max`, get: (r) => r.fanout?.max, show: msec, ratio: true },
    { label: 'fan-out: lost', get: (r) => r.fanout?.lost, show: count, target: '0 (ours)', met: (a) => a === 0 },
    { label: 'fan-out: duplicates', get: (r) => r.fanout?.duplicates, show: count, target: '0 (ours)', met: (a) => a === 0 },
    { label: `stream: lines published per s (asked ${fmt(RATE)})`, get: (r) => r.stream?.publishRate, show: count },
    { label: `stream: lines delivered per s, all ${fmt(streamClients)} tabs`, get: (r) => r.stream?.deliveredPerS, show: count, ratio: true },
    { label: 'stream: latency p50', get: (r) => r.stream?.p50, show: msec, ratio: true },
    { label: 'stream: latency p99', get: (r) => r.stream?.p99, show: msec, ratio: true },
    { label: 'stream: events per answer', get: (r) => r.stream?.eventsPerAnswer, show: (v) => fmt(v, 1) },
    { label: 'stream: lost', get: (r) => r.stream?.lost, show: count, target: '0 (ours)', met: (a) => a === 0 },
    { label: 'stream: duplicates', get: (r) => r.stream?.duplicates, show: count, target: '0 (ours)', met: (a) => a === 0 },
  ]
  const lines = ['| | Longship | Nchan | Longship / Nchan | target | met |', '|---|---:|---:|---:|---|---|']
  for (const row of rows) {
    const a = ours ? row.get(ours) : undefined
    const b = ref ? row.get(ref) : undefined
    const ratio = row.ratio && a !== undefined && b !== undefined && b > 0 ? `${fmt(a / b, 2)}×` : ''
    const met = row.met && a !== undefined ? row.met(a, b) : undefined
    const cells = [row.label, a === undefined ? '—' : row.show(a), b === undefined ? '—' : row.show(b), ratio, row.target ?? '', met === undefined ? '' : met ? 'yes' : '**no**']
    lines.push(`| ${cells.join(' | ')} |`)
  }
  return lines.join('\n')
}

// ---------------------------------------------------------------- main

async function stopEverything(): Promise<void> {
  for (const runner of [...runners]) await runner.stop().catch(() => undefined)
  for (const pool of openPools) pool.close()
  openPools.clear()
  for (const target of [...runningTargets]) await stopTarget(target).catch(() => undefined)
}

function makeTargets(names: string[]): Target[] {
  const targets: Target[] = []
  for (const name of names) {
    if (name === 'longship') targets.push(new LongshipTarget())
    else {
      try {
        targets.push(new NchanTarget(ensureNchan(), NCHAN_BUFFER))
      } catch (err) {
        // CI runs the bench to compare: a missing reference is a failure there, never a skip
        if (!(err instanceof NchanUnavailable) || process.env.CI === 'true') throw err
        console.log(`nchan: skipped: ${err.message}`)
      }
    }
  }
  return targets
}

async function main(): Promise<void> {
  stopOnInterrupt('the servers', stopEverything)

  // other work on the machine skews every figure: the load average says how much there was
  console.log(`poll: ${cpus().length} cores, node ${process.version}, code ${codeState()}, load average ${load()}`)
  console.log(
    `${fmt(CLIENTS)} tabs (memory at ${MEMORY_STEPS.map((n) => fmt(n)).join(', ')}), ${ROUNDS} fan-out rounds, stream ${fmt(STREAM_CLIENTS)} tabs × ${fmt(RATE)} lines/s for ${DURATION_S} s; targets: ${TARGETS.join(', ')}; fan-out order: ${ORDER}`,
  )
  const targets = makeTargets(TARGETS)
  const results: Result[] = targets.map((target) => ({ target, baselineKb: 0, memory: [], fanout: null, stream: null }))
  if (INTERLEAVED && targets.length > 1) await interleaved(results)
  else {
    for (const result of results) {
      console.log(`\n${result.target.name}: ${result.target.title}`)
      await memoryAndFanOutInTurn(result.target, result)
      await stream(result.target, result)
    }
  }

  console.log(`\nMemory: RSS after the tabs hold their polls − RSS before, per tab (KB = 1,024 bytes). Fan-out: ${ROUNDS} rounds of one event to every tab.`)
  console.log(`Stream: ${fmt(STREAM_CLIENTS)} tabs, ${fmt(RATE)} lines/s asked for ${DURATION_S} s. Nchan buffer: ${NCHAN_BUFFER} messages.\n`)
  console.log(table(results))
  console.log(`\nload average after: ${load()}`)

  const ours = results.find((r) => r.target.name === 'longship')
  const ref = results.find((r) => r.target.name === 'nchan')
  if (ours) {
    const missed: string[] = []
    const worst = Math.max(...ours.memory.map((m) => m.perClientKb))
    if (worst > TARGET_KB_PER_CLIENT) missed.push(`memory ${fmt(worst, 1)} KB per idle client (at most ${TARGET_KB_PER_CLIENT})`)
    if (ours.fanout && ref?.fanout && ours.fanout.p99 > TARGET_P99_RATIO * ref.fanout.p99) {
      missed.push(`fan-out p99 ${fmt(ours.fanout.p99 / ref.fanout.p99, 2)}× Nchan's (at most ${TARGET_P99_RATIO}×)`)
    }
    const loss = (ours.fanout ? ours.fanout.lost + ours.fanout.duplicates : 0) + (ours.stream ? ours.stream.lost + ours.stream.duplicates : 0)
    if (loss) missed.push(`${loss} lines lost or duplicated (must be 0)`)
    console.log(missed.length ? `\ntargets missed: ${missed.join('; ')}` : '\ntargets met')
  }
}

if (RUNNER) {
  stopOnInterrupt(`the ${RUNNER} server`, stopEverything)
  const [target] = makeTargets([RUNNER])
  if (!target) throw new Error(`BENCH_RUNNER: ${RUNNER} is not available`)
  serveParent(target)
} else {
  try {
    await main()
  } catch (err) {
    console.error(err)
    await stopEverything()
    process.exitCode = 1
  }
}
