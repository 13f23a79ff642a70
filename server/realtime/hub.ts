import { randomBytes } from 'node:crypto'
import type { User } from '../users/repository.ts'
import { HubMetrics } from './metrics.ts'
import { answerKey, encodeAnswer, sameAnswer } from './wire.ts'

/**
 * The long-poll hub: topics, one bounded queue per browser tab (client), and
 * the waiting polls. Everything lives in memory; persisted topics (the room,
 * release logs) fill gaps from the database through their kind's `backfill`.
 *
 * The cursor protocol: each poll names, per topic, the last sequence number
 * the tab has shown. That acknowledges everything up to it; the hub sends
 * what comes after. Events stay in a client's queue until acknowledged, so an
 * answer lost on the way is simply sent again by the next poll.
 */

export interface HubEvent {
  topic: string
  seq: number
  /** `{"topic":..,"seq":..,"data":..}` serialized once, shared by every client it goes to. */
  json: string
  /** `json` as UTF-8, made by the first answer that carries the event (wire.ts) and reused by every later one. */
  bytes?: Buffer
}

export interface StoredEvent {
  seq: number
  data: unknown
}

export interface TopicKind {
  /** The part before the colon: 'room', 'servers', 'release' (for 'release:12'). */
  name: string
  /** Whether the user may watch this topic (called once per subscription). */
  authorize(user: User, topic: string): boolean | Promise<boolean>
  /**
   * Persisted topics: events with seq > after (and <= upTo when given), oldest
   * first, at most `limit`. The publisher assigns seqs (the row's own order).
   */
  backfill?(topic: string, after: number, upTo: number | null, limit: number): Promise<StoredEvent[]>
  /** Persisted topics: the newest seq stored (0 when none), for a tab with no cursor. */
  head?(topic: string): Promise<number>
}

export interface HubOptions {
  /** How long a poll waits for an event before answering empty. */
  pollTimeoutMs: number
  /** After the first event reaches a waiting poll, wait this long for more. */
  batchMs: number
  /** Per client queue cap (events); beyond it the oldest is dropped and becomes a gap. */
  queueCap: number
  /** Per topic ring buffer that fills the gaps of memory topics. */
  ringSize: number
  maxAnswerEvents: number
  maxAnswerBytes: number
  /** A client that has not polled for this long (and is not waiting) is dropped; default 2 poll timeouts + 5 s. */
  idleMs: number
}

export const DEFAULT_HUB_OPTIONS: HubOptions = {
  pollTimeoutMs: 25_000,
  batchMs: 25,
  queueCap: 2_000,
  ringSize: 2_000,
  maxAnswerEvents: 1_000,
  maxAnswerBytes: 512 * 1024,
  idleMs: 55_000,
}

export interface PollRequest {
  client: string
  /** The boot id of the answer the cursors came from; memory topics reset when it differs. */
  boot?: string | null
  /** topic -> last seq shown (null: start from now). */
  topics: Record<string, number | null>
}

export interface PollAnswer {
  boot: string
  events: HubEvent[]
  /** Per topic, the cursor to send next. */
  cursors: Record<string, number>
  /** Topics whose gap could not be filled: the page must reload its state. */
  resets: string[]
  /** More is waiting (the answer was capped or a gap is being filled in parts): poll again at once. */
  more: boolean
  /** A newer poll of the same client took over (a duplicated tab, or a retry). */
  superseded: boolean
  /** The bytes, when already made for an identical answer to another tab. */
  encoded?: Buffer
}

/**
 * Carries events between instances of the console (redis-relay.ts). With a
 * relay, a publish goes out through it and comes back, numbered, to every
 * instance, this one included, through `receive`: all instances then hold
 * the same events under the same numbers in the same order.
 */
export interface Relay {
  /** `dataJson`: the data, serialized once. Memory topics pass seq null: the relay numbers them, one counter per topic for all instances. */
  send(topic: string, dataJson: string, seq: number | null): void
}

export class HubError extends Error {
  constructor(
    readonly statusCode: 400 | 403,
    message: string,
  ) {
    super(message)
  }
}

interface Topic {
  name: string
  kind: TopicKind
  persisted: boolean
  /** Newest seq published here (persisted topics: -1 until the first publish of this process). */
  head: number
  ring: HubEvent[]
  /** The ring holds every event with seq > ringFloor (Infinity: nothing known yet). */
  ringFloor: number
  /** Persisted topics: the last rows read from the database for tabs behind the ring (see `fromDatabase`). */
  stored: StoredRun
  /** Reads from the database in flight, each with the lowest seq delivered while it ran. */
  reads: Set<{ lowest: number }>
  subscribers: Set<Client>
  lastPublish: number
}

/**
 * Events read from the database, held for the next tab that lags as far:
 * every stored event with `after < seq <= upTo`, in seq order.
 */
interface StoredRun {
  after: number
  upTo: number
  events: HubEvent[]
}

/** A run that holds nothing; a new object each time, so a query that started before can tell (see `fromDatabase`). */
const noRun = (): StoredRun => ({ after: 0, upTo: 0, events: [] })

interface Subscription {
  topic: Topic
  /** The client's queue holds every event of the topic with seq > completeAfter. */
  completeAfter: number
  /**
   * The lowest seq of a persisted topic that arrived after a newer one (see
   * `lateEvent`): a tab whose cursor is already past it gets a reset.
   */
  late?: number
}

export type PollCallback = (err: Error | null, answer?: PollAnswer) => void

interface Waiter {
  /** The cursors the tab has seen, as this poll decided them. */
  topics: Record<string, number | null>
  done: PollCallback
  deadline: number
}

interface Client {
  key: string
  userId: number
  subs: Map<string, Subscription>
  queue: HubEvent[]
  waiter: Waiter | null
  lastSeen: number
}

interface Fill {
  events: HubEvent[]
  /** Everything of the gap is in `events` (not cut by the answer cap). */
  complete: boolean
}

/** What a poll found before answering: gap fills, decided start cursors, resets. */
interface Plan {
  fills: Map<string, Fill>
  starts: Map<string, number>
  resets: string[]
}

const EMPTY_PLAN: Plan = { fills: new Map(), starts: new Map(), resets: [] }

const noop = () => undefined

export interface PollHandle {
  answer: Promise<PollAnswer>
  /** The request went away (the browser closed it): forget the waiter now. */
  cancel(): void
}

const CLIENT_ID = /^[A-Za-z0-9_-]{8,64}$/
const TOPIC_NAME = /^([a-z][a-z0-9-]{0,31})(?::([A-Za-z0-9_.-]{1,64}))?$/
const MAX_TOPICS = 16

/** Checks a poll body from the wire; throws HubError(400) with what is wrong. */
export function readPollRequest(body: unknown): PollRequest {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new HubError(400, 'The poll body must be a JSON object')
  const raw = body as Record<string, unknown>
  if (typeof raw.client !== 'string' || !CLIENT_ID.test(raw.client)) throw new HubError(400, 'client must be 8-64 letters, digits, - or _')
  if (raw.boot !== undefined && raw.boot !== null && (typeof raw.boot !== 'string' || raw.boot.length > 64)) throw new HubError(400, 'boot must be a string')
  if (!raw.topics || typeof raw.topics !== 'object' || Array.isArray(raw.topics)) throw new HubError(400, 'topics must be an object of topic: cursor')
  // for..in rather than Object.entries: every open tab sends this body every few seconds
  const given = raw.topics as Record<string, unknown>
  let count = 0
  for (const name in given) if (Object.hasOwn(given, name)) count++
  if (count > MAX_TOPICS) throw new HubError(400, `at most ${MAX_TOPICS} topics per poll`)
  const topics: Record<string, number | null> = {}
  for (const name in given) {
    if (!Object.hasOwn(given, name)) continue
    const cursor = given[name]
    if (!TOPIC_NAME.test(name)) throw new HubError(400, `topic ${JSON.stringify(name.slice(0, 80))} is not a topic name`)
    if (cursor !== null && !(typeof cursor === 'number' && Number.isSafeInteger(cursor) && cursor >= 0)) {
      throw new HubError(400, `the cursor of ${name} must be a whole number >= 0 or null`)
    }
    topics[name] = cursor as number | null
  }
  return { client: raw.client, boot: (raw.boot as string | null | undefined) ?? null, topics }
}

/** An event with its wire form, made from data serialized once (publish, a relay, a late arrival). */
function eventOf(topic: string, seq: number, dataJson: string): HubEvent {
  return { topic, seq, json: `{"topic":${JSON.stringify(topic)},"seq":${seq},"data":${dataJson}}`, bytes: undefined }
}

export class Hub {
  /** Names the numbering of memory topics; with a relay, shared by every instance. */
  boot = randomBytes(6).toString('base64url')
  readonly options: HubOptions
  readonly metrics = new HubMetrics()
  private readonly kinds = new Map<string, TopicKind>()
  private readonly topics = new Map<string, Topic>()
  private readonly clients = new Map<string, Client>()
  private readonly waiting = new Set<Client>()
  /** Waiting clients that got an event and will be answered when the batch window closes. */
  private readonly ready = new Set<Client>()
  private batchTimer: NodeJS.Timeout | null = null
  private sweepTimer: NodeJS.Timeout | null = null
  /** After stop() (the console is closing) polls are answered at once instead of waiting. */
  private stopped = false
  private relay: Relay | null = null
  /** The relay's newest seq per memory topic, for topics whose kind registers after the hub joined. */
  private readonly relayHeads = new Map<string, number>()

  constructor(options: Partial<HubOptions> = {}) {
    const pollTimeoutMs = options.pollTimeoutMs ?? DEFAULT_HUB_OPTIONS.pollTimeoutMs
    // about two poll timeouts without a poll: a tab between two polls is never idle that long
    this.options = { ...DEFAULT_HUB_OPTIONS, idleMs: 2 * pollTimeoutMs + 5_000, ...options }
  }

  /** Checks timeouts and idle clients; a single timer instead of one per poll. */
  start(): void {
    if (this.sweepTimer) return
    const every = Math.max(20, Math.min(1000, Math.floor(this.options.pollTimeoutMs / 5)))
    this.sweepTimer = setInterval(() => this.sweep(), every)
  }

  /** Answers every waiting poll empty and stops the timers (server shutdown). */
  stop(): void {
    this.stopped = true
    if (this.sweepTimer) clearInterval(this.sweepTimer)
    this.sweepTimer = null
    if (this.batchTimer) clearTimeout(this.batchTimer)
    this.batchTimer = null
    for (const client of [...this.waiting]) this.answerEmpty(client, false)
  }

  registerKind(kind: TopicKind): void {
    this.kinds.set(kind.name, kind)
  }

  private kindOf(name: string): TopicKind | undefined {
    const match = TOPIC_NAME.exec(name)
    return match ? this.kinds.get(match[1] as string) : undefined
  }

  private topic(name: string): Topic {
    let topic = this.topics.get(name)
    if (!topic) {
      const kind = this.kindOf(name)
      if (!kind) throw new HubError(400, `there is no topic ${name}`)
      const persisted = typeof kind.backfill === 'function'
      // with a relay, a memory topic continues the numbering every instance shares
      const start = persisted ? 0 : (this.relayHeads.get(name) ?? 0)
      topic = {
        name,
        kind,
        persisted,
        head: persisted ? -1 : start,
        ring: [],
        ringFloor: persisted ? Infinity : start,
        stored: noRun(),
        reads: new Set(),
        subscribers: new Set(),
        lastPublish: Date.now(),
      }
      this.topics.set(name, topic)
    }
    return topic
  }

  /** The newest seq of a memory topic (what a page rendered now has seen). */
  head(name: string): number {
    const topic = this.topic(name)
    return Math.max(0, topic.head)
  }

  /**
   * Sends an event to every subscriber of the topic. Memory topics number
   * their events here; persisted topics pass the seq the database gave
   * (publishers of one topic publish in seq order within an instance; one
   * that reaches the hub after a newer one, from another instance, is
   * handled by `lateEvent`). With a relay the event
   * reaches the subscribers when it comes back from the relay (returns null).
   */
  publish(name: string, data: unknown, seq?: number): HubEvent | null {
    const topic = this.topic(name)
    if (topic.persisted && seq === undefined) throw new Error(`persisted topic ${name} needs the stored seq`)
    // JSON.stringify(undefined) is undefined: the event then carries null data
    const dataJson = JSON.stringify(data) ?? 'null'
    if (this.relay) {
      this.relay.send(name, dataJson, topic.persisted ? (seq as number) : null)
      return null
    }
    return this.deliver(topic, topic.persisted ? (seq as number) : topic.head + 1, dataJson)
  }

  /** Uses a relay from now on: its boot, and the newest seq of each memory topic it has numbered. */
  attachRelay(relay: Relay, boot: string, heads: Record<string, number>): void {
    this.relay = relay
    this.resync(boot, heads)
  }

  /**
   * An event the relay brought (`dataJson`: the data, serialized). A memory
   * topic whose number jumps lost events on the way (a dropped connection):
   * its subscribers get a gap, which the next poll turns into a reset.
   */
  receive(name: string, seq: number, dataJson: string): HubEvent | null {
    const topic = this.topicOrNull(name)
    if (!topic) return null
    if (!topic.persisted && seq > topic.head + 1) this.skipTo(topic, seq - 1)
    return this.deliver(topic, seq, dataJson)
  }

  /**
   * After the relay was cut off (events may have been lost) or started: the
   * relay's boot and heads are the truth. Memory topics skip to the relay's
   * heads; persisted topics forget what they hold, so every tab's next poll
   * fills its gap from the database; waiting polls are answered at once so
   * that next poll comes now.
   */
  resync(boot: string, heads: Record<string, number>): void {
    if (boot !== this.boot) {
      // the relay's numbering restarted (or this hub just joined): the old numbers mean nothing
      this.boot = boot
      this.relayHeads.clear()
      for (const topic of this.topics.values()) {
        if (topic.persisted) continue
        topic.head = 0
        topic.ring = []
        topic.ringFloor = 0
        for (const client of topic.subscribers) {
          client.queue = client.queue.filter((e) => e.topic !== topic.name)
          const sub = client.subs.get(topic.name)
          if (sub) sub.completeAfter = 0
        }
      }
    }
    for (const [name, head] of Object.entries(heads)) {
      this.relayHeads.set(name, head)
      // only topics that exist now; the others start from relayHeads when first used
      const topic = this.topics.get(name)
      if (topic && !topic.persisted) this.skipTo(topic, head)
    }
    for (const topic of this.topics.values()) {
      if (!topic.persisted) continue
      topic.head = -1
      topic.ring = []
      topic.ringFloor = Infinity
      topic.stored = noRun()
      for (const client of topic.subscribers) {
        const sub = client.subs.get(topic.name)
        if (sub) sub.completeAfter = Infinity
      }
    }
    for (const client of [...this.waiting]) this.answerEmpty(client, false)
  }

  /** A memory topic's events up to `seq` were numbered elsewhere and never came: whoever watches it has a gap. */
  private skipTo(topic: Topic, seq: number): void {
    if (seq <= topic.head) return
    topic.head = seq
    topic.ring = []
    topic.ringFloor = seq
    for (const client of topic.subscribers) {
      const sub = client.subs.get(topic.name)
      if (sub) sub.completeAfter = Math.max(sub.completeAfter, seq)
      // an empty answer brings the tab straight back, and that poll finds the gap
      this.answerEmpty(client, false)
    }
  }

  private topicOrNull(name: string): Topic | null {
    try {
      return this.topic(name)
    } catch {
      // a topic kind this instance does not know (another version of the console)
      return null
    }
  }

  private deliver(topic: Topic, seq: number, dataJson: string): HubEvent | null {
    if (topic.persisted) {
      // rows read from the database before this event was stored may lack it
      // (late, from another instance); the next tab that needs them reads again
      if (seq > topic.stored.after && seq <= topic.stored.upTo) topic.stored = noRun()
      for (const read of topic.reads) read.lowest = Math.min(read.lowest, seq)
      if (seq <= topic.head) {
        // already seen (a replay from another instance), or published late
        if (seq > topic.ringFloor && !topic.ring.some((e) => e.seq === seq)) return this.lateEvent(topic, seq, dataJson)
        return null
      }
      if (topic.ringFloor === Infinity) topic.ringFloor = seq - 1
    } else if (seq <= topic.head) return null
    topic.head = seq
    topic.lastPublish = Date.now()
    const event = eventOf(topic.name, seq, dataJson)
    topic.ring.push(event)
    if (topic.ring.length > this.options.ringSize) {
      const dropped = topic.ring.splice(0, topic.ring.length - this.options.ringSize)
      topic.ringFloor = (dropped[dropped.length - 1] as HubEvent).seq
    }
    this.metrics.published++
    for (const client of topic.subscribers) this.enqueue(client, event)
    return event
  }

  /**
   * A persisted topic's event that comes after a newer one: two instances
   * stored 10 and 11, and 11 reached the relay first. Tabs may have
   * acknowledged 11 already, and a cursor never goes back, so it cannot
   * simply be queued. It goes into the ring in its place; every watching
   * tab then has a gap up to it, which its next poll fills from the ring
   * when its cursor is before it, or answers with a reset (the page reloads
   * its state from the database) when the cursor is past it. Never a
   * silent skip.
   */
  private lateEvent(topic: Topic, seq: number, dataJson: string): HubEvent {
    const event = eventOf(topic.name, seq, dataJson)
    const at = topic.ring.findIndex((e) => e.seq > seq)
    topic.ring.splice(at < 0 ? topic.ring.length : at, 0, event)
    this.metrics.published++
    for (const client of topic.subscribers) {
      const sub = client.subs.get(topic.name)
      if (!sub) continue
      sub.completeAfter = Math.max(sub.completeAfter, seq)
      sub.late = Math.min(sub.late ?? Infinity, seq)
      this.answerEmpty(client, false)
    }
    return event
  }

  private enqueue(client: Client, event: HubEvent): void {
    client.queue.push(event)
    if (client.queue.length > this.options.queueCap) {
      // the oldest goes; its topic now has a gap the next poll fills from the ring or the database
      const dropped = client.queue.shift() as HubEvent
      const sub = client.subs.get(dropped.topic)
      if (sub) sub.completeAfter = Math.max(sub.completeAfter, dropped.seq)
      this.metrics.overflows++
    }
    if (client.waiter && !this.ready.has(client)) {
      this.ready.add(client)
      if (!this.batchTimer) this.batchTimer = setTimeout(() => this.flush(), this.options.batchMs)
    }
  }

  private flush(): void {
    this.batchTimer = null
    const clients = [...this.ready]
    this.ready.clear()
    const made = new Map<string, Buffer>()
    // tabs on the same topics mostly get the very answer the tab before got:
    // comparing with it is cheaper than building a key for every tab
    let last: PollAnswer | null = null
    for (const client of clients) {
      const waiter = client.waiter
      if (!waiter) continue
      const answer = this.collect(client, waiter.topics)
      // an overflow while waiting opens a gap: `more` sends the tab straight back to fill it
      if (!answer.events.length && !answer.more) continue
      if (last && sameAnswer(answer, last)) answer.encoded = last.encoded
      else {
        const key = answerKey(answer)
        let encoded = made.get(key)
        if (!encoded) made.set(key, (encoded = encodeAnswer(answer)))
        answer.encoded = encoded
        last = answer
      }
      this.answer(client, answer)
    }
  }

  /**
   * A poll: subscribes the client to exactly the topics named, acknowledges
   * the cursors, fills gaps, and answers at once when anything is due, or
   * waits up to the poll timeout.
   */
  poll(user: User, request: PollRequest): PollHandle {
    let cancel = () => undefined as void
    const answer = new Promise<PollAnswer>((resolve, reject) => {
      cancel = this.pollWith(user, request, (err, ready) => (err ? reject(err) : resolve(ready as PollAnswer)))
    })
    return { answer, cancel: () => cancel() }
  }

  /**
   * The same as `poll` with a callback, which the HTTP endpoint uses: while
   * a poll waits it holds only its waiter and this callback, no promise
   * chain (at 10,000 held polls every object per poll counts). Returns the
   * cancel function. `done` is called once, unless cancelled first, and may
   * be called before this returns (a re-poll with something already queued).
   */
  pollWith(user: User, request: PollRequest, done: PollCallback): () => void {
    const client = this.clientFor(user, request.client)
    if (client.waiter) this.answerEmpty(client, true)
    client.lastSeen = Date.now()
    // the usual re-poll (every topic watched already, no gap to fill, no start
    // to look up) needs nothing asynchronous: after a fan-out thousands of
    // these arrive at once, so they are answered or held right here, without
    // a promise chain each
    if (this.caughtUp(client, request)) {
      this.unsubscribeOthers(client, request.topics)
      const waiter = this.settle(client, this.collect(client, request.topics), done)
      return waiter ? () => this.cancelWaiter(client, waiter) : noop
    }
    const state: { cancelled: boolean; waiter: Waiter | null } = { cancelled: false, waiter: null }
    this.prepare(client, user, request).then(
      (ready) => {
        if (!state.cancelled) state.waiter = this.settle(client, ready, done)
      },
      (err: unknown) => {
        if (!state.cancelled) done(err as Error)
      },
    )
    return () => {
      state.cancelled = true
      if (state.waiter) this.cancelWaiter(client, state.waiter)
    }
  }

  /**
   * Whether `subscribe` and `fillGaps` would have nothing to do for this
   * poll: every topic is subscribed already and its cursor is one the queue
   * continues from (not null, not from another boot or ahead of a memory
   * topic, not before what the queue holds). Mirrors their conditions.
   */
  private caughtUp(client: Client, request: PollRequest): boolean {
    for (const name in request.topics) {
      const sub = client.subs.get(name)
      const given = request.topics[name]
      if (!sub || given === null || given === undefined || sub.late !== undefined) return false
      if (!sub.topic.persisted && (request.boot !== this.boot || given > sub.topic.head)) return false
      if (given < sub.completeAfter) return false
    }
    return true
  }

  /** Answers a poll that has something to send now, or makes it wait; returns its waiter when it waits. */
  private settle(client: Client, ready: PollAnswer, done: PollCallback): Waiter | null {
    if (ready.events.length || ready.resets.length || ready.more) {
      this.metrics.count(ready)
      done(null, ready)
      return null
    }
    if (client.waiter) this.answerEmpty(client, true) // another poll slipped in while we filled
    if (this.stopped) {
      done(null, this.emptyAnswer(ready.cursors, false))
      return null
    }
    // the cursors as decided here (a start from "now" included) are what the tab has seen
    const waiter: Waiter = { topics: ready.cursors, done, deadline: Date.now() + this.options.pollTimeoutMs }
    client.waiter = waiter
    this.waiting.add(client)
    this.metrics.waits++
    return waiter
  }

  /** The request went away: forget its waiter, but only its own (a newer poll of the tab may be waiting by now). */
  private cancelWaiter(client: Client, waiter: Waiter): void {
    if (client.waiter !== waiter) return
    client.waiter = null
    client.lastSeen = Date.now()
    this.waiting.delete(client)
    this.ready.delete(client)
    this.metrics.aborted++
  }

  /** Subscribes, acknowledges and fills gaps: what the poll can answer right now. */
  private async prepare(client: Client, user: User, request: PollRequest): Promise<PollAnswer> {
    await this.subscribe(client, user, request)
    const plan = await this.fillGaps(client, request)
    return this.collect(client, request.topics, plan)
  }

  private clientFor(user: User, id: string): Client {
    const key = `${user.id}:${id}`
    let client = this.clients.get(key)
    if (!client) {
      client = { key, userId: user.id, subs: new Map(), queue: [], waiter: null, lastSeen: Date.now() }
      this.clients.set(key, client)
      this.metrics.clientsCreated++
    }
    return client
  }

  private async subscribe(client: Client, user: User, request: PollRequest): Promise<void> {
    this.unsubscribeOthers(client, request.topics)
    for (const name of Object.keys(request.topics)) {
      if (client.subs.has(name)) continue
      const topic = this.topic(name)
      if (!(await topic.kind.authorize(user, name))) throw new HubError(403, `you may not watch ${name}`)
      if (client.subs.has(name)) continue
      // from now on every event reaches the queue; what came before is a gap to fill
      client.subs.set(name, { topic, completeAfter: topic.head < 0 ? Infinity : topic.head })
      topic.subscribers.add(client)
    }
  }

  /** A tab watches exactly the topics its poll names: the others are dropped. */
  private unsubscribeOthers(client: Client, topics: Record<string, number | null>): void {
    for (const name of client.subs.keys()) {
      if (!(name in topics)) this.unsubscribe(client, name)
    }
  }

  private unsubscribe(client: Client, name: string): void {
    const sub = client.subs.get(name)
    if (!sub) return
    sub.topic.subscribers.delete(client)
    client.subs.delete(name)
    client.queue = client.queue.filter((e) => e.topic !== name)
  }

  /** The cursor a topic starts from when the tab has none (or one from another boot for a memory topic). */
  private async startCursor(topic: Topic): Promise<number> {
    if (!topic.persisted) return topic.head
    if (topic.head >= 0) return topic.head
    return topic.kind.head ? topic.kind.head(topic.name) : 0
  }

  /** Events missing between a tab's cursor and what its queue holds, from the ring or the database. */
  private async fillGaps(client: Client, request: PollRequest): Promise<Plan> {
    const plan: Plan = { fills: new Map(), starts: new Map(), resets: [] }
    let budget = this.options.maxAnswerEvents
    for (const [name, given] of Object.entries(request.topics)) {
      const sub = client.subs.get(name)
      if (!sub) continue
      const topic = sub.topic
      if (sub.late !== undefined) {
        const late = sub.late
        sub.late = undefined
        if (given !== null && given >= late) {
          // the tab has seen past an event that arrived late: only a reload shows it in its place
          plan.resets.push(name)
          plan.starts.set(name, topic.head)
          sub.completeAfter = topic.head
          continue
        }
      }
      // a memory topic's numbers from another boot mean nothing now
      const foreignBoot = !topic.persisted && request.boot !== this.boot
      if (given === null || (!topic.persisted && (foreignBoot || given > topic.head))) {
        if (given !== null) plan.resets.push(name)
        const start = await this.startCursor(topic)
        sub.completeAfter = Math.min(sub.completeAfter, start)
        plan.starts.set(name, start)
        continue
      }
      if (given >= sub.completeAfter) continue
      // a gap: (given, completeAfter] is not in the queue
      if (given >= topic.ringFloor) {
        this.metrics.gapsFilled++
        const upTo = sub.completeAfter
        const found = topic.ring.filter((e) => e.seq > given && e.seq <= upTo)
        const events = found.slice(0, Math.max(1, budget))
        budget -= events.length
        plan.fills.set(name, { events, complete: events.length === found.length })
      } else if (topic.persisted && topic.kind.backfill) {
        this.metrics.gapsFilled++
        const upTo = sub.completeAfter === Infinity ? null : sub.completeAfter
        const fill = await this.fromDatabase(topic, given, upTo, Math.max(1, budget))
        budget -= fill.events.length
        // subscribed before the query, the queue holds everything after the newest row found
        if (fill.complete && upTo === null) sub.completeAfter = fill.events.length ? (fill.events[fill.events.length - 1] as HubEvent).seq : given
        plan.fills.set(name, fill)
      } else {
        plan.resets.push(name)
        plan.starts.set(name, topic.head)
        sub.completeAfter = topic.head
      }
    }
    this.metrics.resets += plan.resets.length
    return plan
  }

  /**
   * A persisted topic's events after `given` (up to `upTo`, at most `limit`)
   * for a tab behind the ring.
   *
   * Why the rows are kept: tabs fall that far behind together (a stream
   * faster than they read, or a console busy for a while), each a little
   * apart. Read and serialized again for every tab, the same rows were 40 %
   * of the console's CPU in the stream benchmark, which slowed every tab
   * further. The last rows read (at most a ring's worth) now serve the tabs
   * that come after.
   */
  private async fromDatabase(topic: Topic, given: number, upTo: number | null, limit: number): Promise<Fill> {
    const run = topic.stored
    const top = upTo ?? Infinity
    let from = given
    if (given >= run.after && given < run.upTo) {
      // binary search: the first event after the tab's cursor
      let lo = 0
      let hi = run.events.length
      while (lo < hi) {
        const mid = (lo + hi) >> 1
        if ((run.events[mid] as HubEvent).seq <= given) lo = mid + 1
        else hi = mid
      }
      const events: HubEvent[] = []
      let i = lo
      for (; i < run.events.length && events.length < limit; i++) {
        const event = run.events[i] as HubEvent
        if (event.seq > top) break
        events.push(event)
      }
      // what the run has for the tab; when that is not all, the tab comes back
      // at once for the rest and reads it with a whole answer's worth of rows
      if (events.length || run.upTo >= top) {
        return { events, complete: run.upTo >= top && (i === run.events.length || (run.events[i] as HubEvent).seq > top) }
      }
      // nothing in the run after the cursor, though its range goes on (no rows
      // have those numbers): the database goes on from the run's end
      from = run.upTo
    }
    const read = { lowest: Infinity }
    topic.reads.add(read)
    let rows: StoredEvent[]
    try {
      rows = await (topic.kind.backfill as NonNullable<TopicKind['backfill']>)(topic.name, from, upTo, limit)
    } finally {
      topic.reads.delete(read)
    }
    // the same wire form as a published event (`publish` turns undefined data into null too)
    const events = rows.map((row) => eventOf(topic.name, row.seq, JSON.stringify(row.data) ?? 'null'))
    const complete = rows.length < limit
    // what the rows cover: up to upTo when they are all there is, else up to the last one
    const covered = complete && upTo !== null ? upTo : events.length ? (events[events.length - 1] as HubEvent).seq : from
    // not kept when an event inside that range arrived while the query ran
    // (stored late by another instance: the rows may lack it) or the topic
    // was reset meanwhile; this tab's answer is what it always was
    if (covered > from && read.lowest > covered && topic.stored === run) this.keepStored(topic, from, covered, events)
    return { events, complete }
  }

  /** Keeps rows read from the database, joined to the run kept before when the two meet. */
  private keepStored(topic: Topic, after: number, upTo: number, events: HubEvent[]): void {
    const run = topic.stored
    let kept: StoredRun
    if (run.upTo > run.after && after <= run.upTo && upTo >= run.after) {
      // both hold every row of their range: together, every row of the union
      const before = events.filter((e) => e.seq <= run.after)
      const beyond = events.filter((e) => e.seq > run.upTo)
      kept = { after: Math.min(after, run.after), upTo: Math.max(upTo, run.upTo), events: before.concat(run.events, beyond) }
    } else kept = { after, upTo, events }
    const over = kept.events.length - this.options.ringSize
    if (over > 0) {
      // tabs move forward: the oldest rows go first
      kept.after = (kept.events[over - 1] as HubEvent).seq
      kept.events = kept.events.slice(over)
    }
    topic.stored = kept
  }

  /**
   * Builds an answer: the filled gaps, then what is queued after each
   * topic's cursor, within the answer caps. A topic whose gap is still open
   * sends nothing from the queue (that would skip the gap); `more` makes the
   * tab poll again at once to go on filling.
   */
  private collect(client: Client, topics: Record<string, number | null>, plan: Plan = EMPTY_PLAN): PollAnswer {
    // written as plain loops, with no closure, Set or entries array: this runs
    // for every poll and for every tab a fan-out answers
    const cursors: Record<string, number> = {}
    for (const name in topics) cursors[name] = plan.starts.get(name) ?? topics[name] ?? 0
    this.acknowledge(client, cursors)

    const events: HubEvent[] = []
    /** Topics whose gap is still open (rarely any). */
    let blocked: string[] | null = null
    let bytes = 0
    let more = false
    for (const [name, fill] of plan.fills) {
      let taken = true
      for (const event of fill.events) {
        if (!this.fits(events.length, bytes, event)) {
          more = true
          taken = false
          break
        }
        events.push(event)
        bytes += event.json.length
        cursors[event.topic] = event.seq
      }
      const sub = client.subs.get(name)
      if (taken && fill.complete && sub && sub.completeAfter !== Infinity) {
        // everything up to completeAfter has now been sent, even where no event has that number
        cursors[name] = Math.max(cursors[name] as number, sub.completeAfter)
      }
      if (!taken || !fill.complete) (blocked ??= []).push(name)
    }
    for (const name in cursors) {
      const sub = client.subs.get(name)
      if (sub && (cursors[name] as number) < sub.completeAfter && !blocked?.includes(name)) (blocked ??= []).push(name)
    }
    if (blocked) more = true
    for (const event of client.queue) {
      if (blocked?.includes(event.topic) || event.seq <= (cursors[event.topic] ?? Infinity)) continue
      if (!this.fits(events.length, bytes, event)) {
        more = true
        break
      }
      events.push(event)
      bytes += event.json.length
      cursors[event.topic] = event.seq
    }
    return { boot: this.boot, events, cursors, resets: plan.resets, more, superseded: false }
  }

  /** Acknowledged events leave the queue (in place); the rest stay until the tab confirms them. */
  private acknowledge(client: Client, cursors: Record<string, number>): void {
    const queue = client.queue
    let kept = 0
    for (let i = 0; i < queue.length; i++) {
      const event = queue[i] as HubEvent
      if (event.seq <= (cursors[event.topic] ?? -1)) continue
      if (kept !== i) queue[kept] = event
      kept++
    }
    if (kept !== queue.length) queue.length = kept
  }

  /** Whether one more event fits in an answer of `count` events and `bytes` (the first always does, up to the count cap). */
  private fits(count: number, bytes: number, event: HubEvent): boolean {
    return count < this.options.maxAnswerEvents && (count === 0 || bytes + event.json.length <= this.options.maxAnswerBytes)
  }

  private answer(client: Client, answer: PollAnswer): void {
    const waiter = client.waiter
    if (!waiter) return
    client.waiter = null
    client.lastSeen = Date.now()
    this.waiting.delete(client)
    this.ready.delete(client)
    this.metrics.count(answer)
    waiter.done(null, answer)
  }

  private emptyAnswer(topics: Record<string, number | null>, superseded: boolean): PollAnswer {
    const cursors: Record<string, number> = {}
    for (const [name, cursor] of Object.entries(topics)) cursors[name] = cursor ?? 0
    return { boot: this.boot, events: [], cursors, resets: [], more: false, superseded }
  }

  private answerEmpty(client: Client, superseded: boolean): void {
    if (!client.waiter) return
    if (superseded) this.metrics.superseded++
    this.answer(client, this.emptyAnswer(client.waiter.topics, superseded))
  }

  /** Times out waiting polls and drops clients that stopped polling. */
  sweep(now = Date.now()): void {
    for (const client of this.waiting) {
      if (client.waiter && client.waiter.deadline <= now) {
        this.metrics.timeouts++
        this.answerEmpty(client, false)
      }
    }
    for (const client of this.clients.values()) {
      if (!client.waiter && now - client.lastSeen > this.options.idleMs) this.dropClient(client)
    }
    for (const topic of this.topics.values()) {
      // a persisted topic nobody watches can be rebuilt from the database
      if (topic.persisted && !topic.subscribers.size && now - topic.lastPublish > 10 * 60_000) this.topics.delete(topic.name)
    }
    this.metrics.tick(now)
  }

  private dropClient(client: Client): void {
    for (const name of [...client.subs.keys()]) this.unsubscribe(client, name)
    this.clients.delete(client.key)
    this.metrics.idleDropped++
  }

  /** The figures /metrics shows. */
  snapshot() {
    let queued = 0
    for (const client of this.clients.values()) queued += client.queue.length
    return { clients: this.clients.size, waiting: this.waiting.size, queued, topics: this.topics.size, ...this.metrics.snapshot() }
  }
}
