import type { TestContext } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { COLLECT_TOPIC, type CollectEvent } from '../../../server/assets/collect-runs.ts'

/** Every collection-progress event the app publishes from now until the test ends, in order. */
export function recordCollectEvents(t: TestContext, app: FastifyInstance): CollectEvent[] {
  const events: CollectEvent[] = []
  const original = app.hub.publish.bind(app.hub)
  app.hub.publish = (name, data, seq) => {
    if (name === COLLECT_TOPIC) events.push(data as CollectEvent)
    return original(name, data, seq)
  }
  t.after(() => {
    app.hub.publish = original
  })
  return events
}
