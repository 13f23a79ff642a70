/**
 * The simulated tabs of bench/poll.ts: each keeps its own cursor and one poll
 * in flight on a kept-alive socket, polls again as soon as an answer arrives,
 * and checks every line it receives: latency from the timestamp the publisher
 * put in it, and loss, duplicates and order from its counter.
 */
import http from 'node:http'
import { createHistogram, performance, type RecordableHistogram } from 'node:perf_hooks'
import type { PollRead, Tab, Target } from './poll-targets.ts'

/** Wall-clock milliseconds with fractions; the same clock in every thread of the bench. */
export const now = () => performance.timeOrigin + performance.now()

/** What the publisher sends: its clock and a counter. */
export function line(t: number, n: number): string {
  return `{"t":${t.toFixed(3)},"n":${n}}`
}

/**
 * The publisher's clock and counter from a line. The format is our own, so
 * a scan reads it (a tab reads some 100,000 lines a second in the stream and
 * the generator must not be what limits it); anything else goes through
 * JSON.parse and is counted as foreign when it is not a line of ours.
 */
function readLine(text: string): { t: number; n: number } | null {
  const comma = text.indexOf(',"n":')
  if (text.startsWith('{"t":') && comma > 0 && text.endsWith('}')) {
    const t = Number(text.slice(5, comma))
    const n = Number(text.slice(comma + 5, -1))
    if (Number.isFinite(t) && Number.isSafeInteger(n) && n > 0) return { t, n }
  }
  try {
    const parsed = JSON.parse(text) as { t?: unknown; n?: unknown }
    return typeof parsed.t === 'number' && typeof parsed.n === 'number' && Number.isSafeInteger(parsed.n) && parsed.n > 0 ? { t: parsed.t, n: parsed.n } : null
  } catch {
    return null
  }
}

/** Microseconds, 1 µs to an hour, 3 significant digits (an HDR histogram). */
export function latencyHistogram(): RecordableHistogram {
  return createHistogram({ lowest: 1, highest: 3_600_000_000, figures: 3 })
}

/** Per tab, per tally: which counters it has seen. */
class Seen {
  bits = new Uint8Array(64)
  highest = 0

  /** True when n was new. */
  mark(n: number): boolean {
    const byte = n >> 3
    if (byte >= this.bits.length) {
      const grown = new Uint8Array(Math.max(byte + 1, this.bits.length * 2))
      grown.set(this.bits)
      this.bits = grown
    }
    const mask = 1 << (n & 7)
    if ((this.bits[byte] as number) & mask) return false
    this.bits[byte] = (this.bits[byte] as number) | mask
    return true
  }
}

/** The figures of one phase (a warm-up, the fan-out rounds, the stream). */
export class Tally {
  /** Errors by kind ("ECONNRESET", "HTTP 503"), to tell an overloaded server from a broken one. */
  readonly errorKinds = new Map<string, number>()
  /** Latency in microseconds (HDR histogram, 3 significant digits). */
  readonly latency = latencyHistogram()
  /** When set, latencies are recorded here too (one fan-out round). */
  round: RecordableHistogram | null = null
  /** Lines received for the first time, over all tabs. */
  delivered = 0
  /** Answers that carried at least one line. */
  answers = 0
  /** Answers with nothing (a timeout, or only events already seen). */
  empty = 0
  duplicates = 0
  outOfOrder = 0
  /** Lines that were not the publisher's (must stay 0). */
  foreign = 0
  /** Non-200 answers and broken connections (each retried after 100 ms). */
  errors = 0
  resets = 0
  superseded = 0
  firstAt = Infinity
  lastAt = 0
  private counts = new Uint32Array(1024)
  private readonly seen = new Map<Subscriber, Seen>()

  /** How many tabs have received line n so far. */
  receivedBy(n: number): number {
    return this.counts[n] ?? 0
  }

  /** Over lines 1..published, what the tabs should have got and did not. */
  lost(published: number, tabs: number): number {
    let lost = 0
    for (let n = 1; n <= published; n++) lost += tabs - this.receivedBy(n)
    return lost
  }

  /** Counts an error of this kind. */
  error(kind: string): void {
    this.errors++
    this.errorKinds.set(kind, (this.errorKinds.get(kind) ?? 0) + 1)
  }

  /** "146 (ECONNRESET 140, HTTP 503 6)", or "0". */
  errorSummary(): string {
    if (!this.errors) return '0'
    return `${this.errors} (${[...this.errorKinds].map(([kind, n]) => `${kind} ${n}`).join(', ')})`
  }

  record(sub: Subscriber, read: PollRead, at: number, status = 200): void {
    if (!read.ok) {
      this.error(`HTTP ${status}`)
      return
    }
    if (read.reset) this.resets++
    if (read.superseded) this.superseded++
    this.duplicates += read.stale
    if (!read.lines.length) {
      this.empty++
      return
    }
    this.answers++
    let seen = this.seen.get(sub)
    if (!seen) this.seen.set(sub, (seen = new Seen()))
    for (const text of read.lines) {
      const msg = readLine(text)
      if (!msg) {
        this.foreign++
        continue
      }
      if (!seen.mark(msg.n)) {
        this.duplicates++
        continue
      }
      if (msg.n < seen.highest) this.outOfOrder++
      else seen.highest = msg.n
      this.delivered++
      const us = Math.max(1, Math.round((at - msg.t) * 1000))
      this.latency.record(us)
      this.round?.record(us)
      if (msg.n >= this.counts.length) {
        const grown = new Uint32Array(Math.max(msg.n + 1, this.counts.length * 2))
        grown.set(this.counts)
        this.counts = grown
      }
      this.counts[msg.n] = (this.counts[msg.n] as number) + 1
    }
    if (at < this.firstAt) this.firstAt = at
    if (at > this.lastAt) this.lastAt = at
  }
}

export class Subscriber {
  closed = false

  constructor(
    private readonly tab: Tab,
    private readonly pool: ClientPool,
    private readonly agent: http.Agent,
  ) {}

  poll(): void {
    if (this.closed) return
    const spec = this.tab.request()
    const headers = { ...spec.headers }
    if (spec.body !== undefined) headers['content-length'] = Buffer.byteLength(spec.body)
    let settled = false
    const retry = (err: NodeJS.ErrnoException) => {
      if (settled || this.closed) return
      settled = true
      this.pool.tally.error(err.code ?? err.message)
      setTimeout(() => this.poll(), 100)
    }
    const req = http.request({ host: this.pool.target.host, port: this.pool.target.port, method: spec.method, path: spec.path, headers, agent: this.agent }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('error', retry)
      res.on('end', () => {
        const at = now()
        if (settled || this.closed) return
        settled = true
        const arrival: Arrival = { sub: this, status: res.statusCode ?? 0, headers: res.headers, body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks), at }
        if (this.pool.deferringReads) this.pool.putAside(arrival)
        else this.handle(arrival)
      })
    })
    req.on('error', retry)
    req.end(spec.body)
  }

  /** What the tab does with an answer: read its lines, count them, poll again. */
  handle(arrival: Arrival): void {
    const read = this.tab.read(arrival.status, arrival.headers, arrival.body)
    this.pool.tally.record(this, read, arrival.at, arrival.status)
    if (this.pool.holdingRepolls && read.lines.length) this.pool.held.push(this)
    // the next poll after every answer already waiting has been read, so
    // that their arrival times are not held up by sending new requests
    else setImmediate(() => this.poll())
  }
}

/** An answer as it arrived: when, and what, before the tab has read it. */
interface Arrival {
  sub: Subscriber
  status: number
  headers: http.IncomingHttpHeaders
  body: Buffer
  at: number
}

/** Tabs per kept-alive agent: the agent's bookkeeping is linear in its sockets. */
const TABS_PER_AGENT = 100

/** The tabs of one phase against one target. */
export class ClientPool {
  tally = new Tally()
  readonly subscribers: Subscriber[] = []
  /**
   * While set (the fan-out rounds), a tab that got a line polls again only
   * when `releaseRepolls` is called. This generator is one thread playing
   * 10,000 tabs: a tab that re-polled at once would spend that thread's time
   * on its new request while the answers of later tabs sat unread, and their
   * latency would include other tabs' re-polls, which real tabs, each in its
   * own browser, never wait for. It would also charge each server for the
   * cost of its own poll protocol on the generator's side (the console's POST
   * with cursors costs more to send than Nchan's GET). Empty answers and
   * errors still poll again at once, or a tab could miss the round.
   */
  holdingRepolls = false
  readonly held: Subscriber[] = []
  /**
   * While set (the fan-out rounds, with `holdingRepolls`), an answer is timed
   * when it arrives and put aside; the tab reads it (parses it, checks and
   * counts its lines) only in `readArrived`. A real tab reads its answer on
   * its own CPU. Here one thread plays every tab, and reading each answer as
   * it came would make the later tabs' arrival wait for the earlier tabs'
   * reading, which costs each server what its own protocol costs to parse:
   * more for the console's JSON with cursors than for Nchan's text. The same
   * reason as for holding the re-polls.
   */
  deferringReads = false
  private readonly arrived: Arrival[] = []
  /** When the last answer was put aside (the `now` clock). */
  lastArrivalAt = 0
  private readonly agents: http.Agent[] = []

  constructor(
    readonly target: Target,
    private readonly prefix: string,
  ) {}

  get size(): number {
    return this.subscribers.length
  }

  /** Opens tabs up to `count`, a batch at a time so the listen backlog never overflows. */
  async grow(count: number): Promise<void> {
    while (this.subscribers.length < count) {
      const batchEnd = Math.min(count, this.subscribers.length + 250)
      while (this.subscribers.length < batchEnd) {
        const i = this.subscribers.length
        if (i % TABS_PER_AGENT === 0) {
          // kept alive between polls; maxFreeSockets too, or the agent would close
          // every socket beyond 256 that is free for a moment between two polls
          this.agents.push(new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: Infinity }))
        }
        const sub = new Subscriber(this.target.tab(`${this.prefix}-${String(i).padStart(5, '0')}`), this, this.agents[this.agents.length - 1] as http.Agent)
        this.subscribers.push(sub)
        sub.poll()
      }
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }

  /** Answers put aside and not read yet. */
  get unread(): number {
    return this.arrived.length
  }

  putAside(arrival: Arrival): void {
    this.arrived.push(arrival)
    this.lastArrivalAt = arrival.at
  }

  /** Lets the tabs read the answers put aside, in the order they arrived. */
  readArrived(): void {
    for (const arrival of this.arrived.splice(0)) arrival.sub.handle(arrival)
  }

  /** Sends the polls held back while `holdingRepolls` was set. */
  releaseRepolls(): void {
    for (const sub of this.held.splice(0)) sub.poll()
  }

  close(): void {
    for (const sub of this.subscribers) sub.closed = true
    for (const agent of this.agents) agent.destroy()
  }
}
