import type { HubEvent, PollAnswer } from './hub.ts'

/**
 * The wire form of an answer. Events were serialized once when published;
 * here only their bytes are copied side by side, and the bytes are made once
 * per distinct answer (a fan-out sends the same bytes to thousands of tabs).
 *
 * Why bytes rather than one string: in a stream every tab's answer is a
 * different run of hundreds of events. Joining their JSON into one string
 * and encoding that to UTF-8 took about 1 ms per answer of 600 events and
 * was 44 % of the console's CPU in the stream benchmark; an event is now
 * encoded once, by the first answer that carries it, and an answer is one
 * allocation and a copy per event.
 */
export function encodeAnswer(answer: PollAnswer): Buffer {
  const events = answer.events
  const head = `{"boot":${JSON.stringify(answer.boot)},"events":[`
  const rest = JSON.stringify({ cursors: answer.cursors, resets: answer.resets, more: answer.more, superseded: answer.superseded })
  const tail = `],${rest.slice(1)}`
  let length = Buffer.byteLength(head) + Buffer.byteLength(tail) + Math.max(0, events.length - 1)
  for (const event of events) length += (event.bytes ??= Buffer.from(event.json, 'utf8')).length
  const out = Buffer.allocUnsafe(length)
  let at = out.write(head, 0)
  for (let i = 0; i < events.length; i++) {
    if (i > 0) out[at++] = COMMA
    const bytes = (events[i] as HubEvent).bytes as Buffer
    out.set(bytes, at)
    at += bytes.length
  }
  out.write(tail, at)
  return out
}

const COMMA = 0x2c

/** Two answers with this key carry the same bytes. */
export function answerKey(answer: PollAnswer): string {
  let key = `${answer.more ? 1 : 0}${answer.superseded ? 1 : 0}${answer.resets.join(',')}|`
  for (const name in answer.cursors) key += `${name}=${answer.cursors[name]},`
  key += '|'
  for (const event of answer.events) key += `${event.topic}:${event.seq},`
  return key
}

/**
 * Whether two answers carry the same content (same event objects, cursors,
 * resets and flags), checked without building anything: a fan-out compares
 * each tab's answer with the one before instead of making a key per tab.
 * Cursors may be listed in another order; the JSON means the same.
 */
export function sameAnswer(a: PollAnswer, b: PollAnswer): boolean {
  if (a.more !== b.more || a.superseded !== b.superseded || a.boot !== b.boot) return false
  if (a.events.length !== b.events.length || a.resets.length !== b.resets.length) return false
  for (let i = 0; i < a.events.length; i++) if (a.events[i] !== b.events[i]) return false
  for (let i = 0; i < a.resets.length; i++) if (a.resets[i] !== b.resets[i]) return false
  let names = 0
  for (const name in a.cursors) {
    if (a.cursors[name] !== b.cursors[name]) return false
    names++
  }
  for (const _name in b.cursors) names--
  return names === 0
}
