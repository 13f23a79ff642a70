import type { Hub } from '../realtime/hub.ts'
import type { EventKind, NewEvent, ReleaseEvent, ReleasesRepository } from './repository.ts'

export const releaseTopic = (id: number) => `release:${id}`

/** One event as the page and the API see it. */
export interface EventJson {
  seq: number
  kind: EventKind
  host: string | null
  stream: string | null
  body: string
  author: string | null
  at: string
}

export function eventJson(event: ReleaseEvent): EventJson {
  return { seq: event.seq, kind: event.kind, host: event.host, stream: event.stream, body: event.body, author: event.author, at: event.at.toISOString() }
}

/** Events written per INSERT batch; a hook printing 100,000 lines becomes 100 transactions, not 100,000. */
const FLUSH_EVENTS = 1_000
/** How long a line may wait for company before it is written and sent. */
const FLUSH_MS = 40
const RETRY_MS = 1_000
/** Failed writes of one batch before it is stored event by event. */
const GIVE_UP_AFTER = 3

const MASK = '********'

/**
 * Masks secrets in log lines: credential passwords and passphrases, every
 * line of a private key, and the user:password part of URLs. Shorter than
 * four characters a "secret" would mask half the log, so it is left alone
 * (the credential form refuses such passwords anyway).
 */
export function createMasker(secrets: Iterable<string>): (line: string) => string {
  const parts = new Set<string>()
  for (const secret of secrets) {
    for (const piece of secret.includes('\n') ? secret.split(/\r?\n/) : [secret]) {
      const trimmed = piece.trim()
      if (trimmed.length >= 4 && !/^-----(BEGIN|END) /.test(trimmed)) parts.add(trimmed)
    }
  }
  // longest first, so a secret that contains another is masked whole
  const sorted = [...parts].sort((a, b) => b.length - a.length)
  const userinfo = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@:]+(:[^\s/@]*)?@/gi
  return (line) => {
    let out = line.replace(userinfo, `$1${MASK}@`)
    for (const secret of sorted) if (out.includes(secret)) out = out.split(secret).join(MASK)
    return out
  }
}

interface Pending {
  event: NewEvent
  author: string | null
}

/**
 * The stream of one release: log lines, step changes, status changes and
 * chat, numbered in one sequence. Events are written to release_events in
 * batches and only then published to the hub, in order: a tab that misses
 * an event always finds it in the database, so a gap is never skipped.
 */
export class ReleaseLog {
  private seq: number
  private pending: Pending[] = []
  private timer: NodeJS.Timeout | null = null
  private flushing: Promise<void> | null = null
  private failures = 0

  constructor(
    readonly releaseId: number,
    private readonly repo: ReleasesRepository,
    private readonly hub: Hub,
    startSeq: number,
    private readonly mask: (line: string) => string = (line) => line,
    private readonly onError: (err: unknown) => void = () => {},
  ) {
    this.seq = startSeq
  }

  get lastSeq(): number {
    return this.seq
  }

  log(host: string | null, stream: 'stdout' | 'stderr' | 'info', line: string): void {
    this.push('log', host, stream, this.mask(line), null, null)
  }

  step(host: string | null, step: string, state: string): void {
    this.push('step', host, step, state, null, null)
  }

  status(status: string): void {
    this.push('status', null, null, status, null, null)
  }

  /** A teammate's message: written and sent at once. */
  async chat(userId: number, author: string, body: string): Promise<number> {
    const seq = this.push('chat', null, null, body, userId, author)
    await this.flush()
    return seq
  }

  private push(kind: EventKind, host: string | null, stream: string | null, body: string, userId: number | null, author: string | null): number {
    this.seq++
    this.pending.push({ event: { seq: this.seq, kind, host, stream, body, user_id: userId, at: new Date() }, author })
    if (this.pending.length >= FLUSH_EVENTS) void this.flush()
    else this.timer ??= setTimeout(() => void this.flush(), FLUSH_MS)
    return this.seq
  }

  /** Writes and sends everything pushed so far; resolves once it is stored. */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    while (this.flushing) await this.flushing
    if (!this.pending.length) return
    const batch = this.pending
    this.pending = []
    this.flushing = this.write(batch).finally(() => (this.flushing = null))
    await this.flushing
    if (this.pending.length >= FLUSH_EVENTS) await this.flush()
    else if (this.pending.length) this.timer ??= setTimeout(() => void this.flush(), this.failures ? RETRY_MS : FLUSH_MS)
  }

  private async write(batch: Pending[]): Promise<void> {
    let stored = batch
    try {
      await this.repo.insertEvents(
        this.releaseId,
        batch.map((p) => p.event),
      )
      this.failures = 0
    } catch (err) {
      this.failures++
      this.onError(err)
      if (this.failures < GIVE_UP_AFTER) {
        // the database is away: keep the lines (in order, ahead of newer ones) and try again shortly
        this.pending = batch.concat(this.pending)
        return
      }
      const count = await this.writeOneByOne(batch)
      stored = batch.slice(0, count)
      if (count < batch.length) this.pending = batch.slice(count).concat(this.pending)
      else this.failures = 0
    }
    const topic = releaseTopic(this.releaseId)
    for (const { event, author } of stored) {
      this.hub.publish(topic, { kind: event.kind, host: event.host, stream: event.stream, body: event.body, author, at: event.at.toISOString() }, event.seq)
    }
  }

  /**
   * A batch refused again and again is not a database that is away but one
   * that refuses something in it: store the events one at a time, and put a
   * line saying so in place of any the database will not take, so one bad
   * line never holds up the rest of the log. Returns how many (from the
   * start) are stored; the rest wait for the next try.
   */
  private async writeOneByOne(batch: Pending[]): Promise<number> {
    let done = 0
    for (const item of batch) {
      try {
        await this.repo.insertEvents(this.releaseId, [item.event])
      } catch (err) {
        const why = (err instanceof Error ? err.message : String(err)).slice(0, 300)
        item.event = { ...item.event, kind: 'log', stream: 'stderr', body: `(a ${item.event.kind} event could not be stored: ${why})` }
        item.author = null
        try {
          await this.repo.insertEvents(this.releaseId, [item.event])
        } catch {
          return done
        }
      }
      done++
    }
    return done
  }
}
