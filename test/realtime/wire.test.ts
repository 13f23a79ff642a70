import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { HubEvent, PollAnswer } from '../../server/realtime/hub.ts'
import { answerKey, encodeAnswer, sameAnswer } from '../../server/realtime/wire.ts'

const event = (topic: string, seq: number): HubEvent => ({ topic, seq, json: JSON.stringify({ topic, seq, data: seq }) })
const one = event('news', 1)
const two = event('news', 2)

function answer(over: Partial<PollAnswer> = {}): PollAnswer {
  return { boot: 'b1', events: [one, two], cursors: { news: 2, other: 0 }, resets: [], more: false, superseded: false, ...over }
}

test('sameAnswer: the same content, whatever the objects holding it, is the same answer', () => {
  assert.equal(sameAnswer(answer(), answer()), true)
  assert.equal(sameAnswer(answer({ resets: ['other'] }), answer({ resets: ['other'] })), true)
  assert.equal(answerKey(answer()), answerKey(answer()))
  assert.deepEqual(encodeAnswer(answer()), encodeAnswer(answer()))
})

test('sameAnswer: any difference the bytes would show makes it another answer', () => {
  const base = answer()
  const others: PollAnswer[] = [
    answer({ boot: 'b2' }),
    answer({ events: [one] }),
    answer({ events: [two, one] }),
    answer({ events: [one, event('news', 2)] }), // the same seq from another object: not assumed equal
    answer({ cursors: { news: 3, other: 0 } }),
    answer({ cursors: { news: 2 } }),
    answer({ cursors: { news: 2, other: 0, third: 0 } }),
    answer({ cursors: { news: 2, third: 0 } }),
    answer({ resets: ['other'] }),
    answer({ more: true }),
    answer({ superseded: true }),
  ]
  for (const other of others) {
    assert.equal(sameAnswer(base, other), false, JSON.stringify(other))
    assert.equal(sameAnswer(other, base), false, JSON.stringify(other))
  }
})

test('encodeAnswer: the bytes are the answer as JSON, whatever the events hold and however many', () => {
  const texts = ['plain', 'Grüße, 東京 🚢', 'quote " backslash \\ newline \n', '']
  const events = texts.map((text, i): HubEvent => ({ topic: 'room', seq: i + 1, json: JSON.stringify({ topic: 'room', seq: i + 1, data: { text } }) }))
  for (const count of [0, 1, 2, events.length]) {
    const a = answer({ boot: 'bööt', events: events.slice(0, count), cursors: { room: count }, resets: ['other'], more: count === 2 })
    const expected = { boot: 'bööt', events: events.slice(0, count).map((e) => JSON.parse(e.json)), cursors: { room: count }, resets: ['other'], more: count === 2, superseded: false }
    const encoded = encodeAnswer(a)
    assert.deepEqual(JSON.parse(encoded.toString('utf8')), expected)
    // an event's bytes are made once and reused by the next answer that carries it
    const made = a.events.map((e) => e.bytes)
    assert.equal(encodeAnswer(a).equals(encoded), true)
    a.events.forEach((e, i) => assert.equal(e.bytes, made[i]))
  }
})
