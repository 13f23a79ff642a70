import type { PollAnswer } from './hub.ts'

/**
 * The wire form of an answer. Events were serialized once when published;
 * here they are only spliced together, and the bytes are made once per
 * distinct answer (a fan-out sends the same bytes to thousands of tabs).
 */
export function encodeAnswer(answer: PollAnswer): Buffer {
  const events = answer.events.map((e) => e.json).join(',')
  const rest = JSON.stringify({ cursors: answer.cursors, resets: answer.resets, more: answer.more, superseded: answer.superseded })
  return Buffer.from(`{"boot":${JSON.stringify(answer.boot)},"events":[${events}],${rest.slice(1)}`, 'utf8')
}

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
