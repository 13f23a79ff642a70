import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import type { Hub, Relay } from './hub.ts'

/**
 * The Redis pub/sub backplane: several instances of the console (processes
 * of one machine, or machines behind a load balancer) share every event.
 *
 * Every publish goes to Redis and comes back to every instance, the sender
 * included, on one channel, so all hubs see the same events in the same
 * order. Memory topics are numbered in Redis by a script that increments the
 * topic's counter and publishes in one step (Redis runs scripts one at a
 * time, so numbers and channel order agree); persisted topics carry the
 * database's id. The counters and a boot id (which names this numbering)
 * live under `<prefix>:`; if Redis loses them, the boot changes and tabs
 * reload their memory topics instead of trusting old numbers.
 *
 * A message is one header line of JSON and then the data's JSON, so the data
 * is serialized once by the publisher and never parsed by the relay.
 */

export interface RedisRelayOptions {
  url: string
  /** Key and channel prefix: consoles that must not share events use different ones. */
  prefix: string
  onError(err: Error, message: string): void
}

interface Header {
  /** Memory topics: the boot the script numbered under. */
  boot?: string
  topic?: string
  seq?: number
  /** A control message for the other instances' caches, from instance `from`; its payload follows the newline. */
  ctl?: string
  from?: string
}

// KEYS: counters hash, boot key, channel; ARGV: topic, a boot to use when there is none, data JSON
const PUBLISH_MEMORY = `
local boot = redis.call('GET', KEYS[2])
if not boot then
  boot = ARGV[2]
  redis.call('SET', KEYS[2], boot)
  redis.call('DEL', KEYS[1])
end
local seq = redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('PUBLISH', KEYS[3], cjson.encode({ boot = boot, topic = ARGV[1], seq = seq }) .. '\\n' .. ARGV[3])
return seq
`

type ScriptRedis = Redis & { longshipPublish(heads: string, boot: string, channel: string, topic: string, newBoot: string, data: string): Promise<number> }

export interface RedisRelay extends Relay {
  /**
   * Tells the other instances something their caches must hear (a table
   * written here, a session changed here); `handle(kind, ...)` there gets it.
   */
  broadcast(kind: string, payload: string): void
  /** What to do with a `kind` of control message from another instance. */
  handle(kind: string, handler: (payload: string) => void): void
  /** The next number of a counter every instance shares (1, 2, ...). */
  counter(name: string): Promise<number>
  close(): Promise<void>
}

/** Connects, joins the hub to the backplane, and keeps it joined across reconnects. Throws when Redis cannot be reached. */
export async function connectRedisRelay(hub: Hub, opts: RedisRelayOptions): Promise<RedisRelay> {
  const keys = { heads: `${opts.prefix}:heads`, boot: `${opts.prefix}:boot`, channel: `${opts.prefix}:events` }
  const self = randomBytes(8).toString('base64url')
  // fail at start with one clear line rather than queueing commands for a Redis that is not there
  const common = { lazyConnect: true, connectTimeout: 5_000, maxRetriesPerRequest: null, retryStrategy: (n: number) => Math.min(n * 200, 2_000) }
  const pub = new Redis(opts.url, common) as ScriptRedis
  const sub = new Redis(opts.url, common)
  pub.defineCommand('longshipPublish', { numberOfKeys: 3, lua: PUBLISH_MEMORY })
  let closing = false
  /** Until joined, a failure is the start's error (one line), not a log entry per retry. */
  let started = false
  let firstError: Error | null = null
  const logged = (what: string) => (err: Error) => {
    if (!started) firstError ??= err
    else if (!closing) opts.onError(err, what)
  }
  pub.on('error', logged('Redis (publishing) failed'))
  sub.on('error', logged('Redis (receiving) failed'))

  /** Messages that arrive while the boot and heads are read wait here, then follow them. */
  let held: string[] | null = []
  const handlers = new Map<string, (payload: string) => void>()
  const relay: RedisRelay = {
    send(topic, dataJson, seq) {
      const sent =
        seq === null
          ? pub.longshipPublish(keys.heads, keys.boot, keys.channel, topic, randomBytes(6).toString('base64url'), dataJson)
          : pub.publish(keys.channel, JSON.stringify({ topic, seq }) + '\n' + dataJson)
      sent.catch(logged(`an event of ${topic} did not reach Redis`))
    },
    broadcast(kind, payload) {
      pub.publish(keys.channel, JSON.stringify({ ctl: kind, from: self }) + '\n' + payload).catch(logged(`a ${kind} message did not reach Redis`))
    },
    handle(kind, handler) {
      handlers.set(kind, handler)
    },
    counter(name) {
      return pub.incr(`${opts.prefix}:counter:${name}`)
    },
    async close() {
      closing = true
      await Promise.allSettled([sub.quit(), pub.quit()])
      sub.disconnect()
      pub.disconnect()
    },
  }

  const handle = (message: string) => {
    const newline = message.indexOf('\n')
    if (newline < 0) return
    let header: Header
    try {
      header = JSON.parse(message.slice(0, newline)) as Header
    } catch {
      return // not ours: another program on the channel
    }
    if (header.ctl !== undefined) {
      if (header.from !== self) handlers.get(header.ctl)?.(message.slice(newline + 1))
      return
    }
    if (typeof header.topic !== 'string' || typeof header.seq !== 'number') return
    if (header.boot !== undefined && header.boot !== hub.boot) hub.resync(header.boot, {})
    hub.receive(header.topic, header.seq, message.slice(newline + 1))
  }
  sub.on('message', (_channel: string, message: string) => {
    if (held) held.push(message)
    else handle(message)
  })

  /** The relay's state now: its boot (made when there is none) and every memory topic's newest number. */
  const readState = async (): Promise<{ boot: string; heads: Record<string, number> }> => {
    // a new boot starts a new numbering: counters left without their boot mean nothing
    if ((await pub.set(keys.boot, randomBytes(6).toString('base64url'), 'NX')) === 'OK') await pub.del(keys.heads)
    const [boot, raw] = await Promise.all([pub.get(keys.boot), pub.hgetall(keys.heads)])
    const heads: Record<string, number> = {}
    for (const [topic, n] of Object.entries(raw)) heads[topic] = Number(n)
    return { boot: boot as string, heads }
  }

  try {
    await Promise.all([pub.connect(), sub.connect()])
    // subscribed first: an event published while the heads are read is held, not lost
    await sub.subscribe(keys.channel)
    const state = await readState()
    hub.attachRelay(relay, state.boot, state.heads)
  } catch (err) {
    await relay.close()
    throw firstError ?? err
  }
  started = true
  const pending = held
  held = null
  for (const message of pending) handle(message)

  // after a reconnect, what was published meanwhile never came: take Redis's state as the truth
  let joined = true
  sub.on('end', () => (joined = false))
  sub.on('close', () => (joined = false))
  sub.on('ready', () => {
    if (joined || closing) return
    joined = true
    held = []
    readState().then(
      (state) => {
        hub.resync(state.boot, state.heads)
        const later = held ?? []
        held = null
        for (const message of later) handle(message)
      },
      (err: Error) => {
        held = null
        logged('Redis state could not be read after a reconnect')(err)
      },
    )
  })
  return relay
}
