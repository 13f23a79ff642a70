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
