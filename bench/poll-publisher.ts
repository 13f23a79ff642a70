/**
 * The stream publisher of bench/poll.ts, run as a process of its own (node
 * --import tsx bench/poll-publisher.ts, the job over IPC) so that its pace
 * does not depend on how busy the tabs keep the generator's event loop.
 *
 * It sends `rate` lines a second for `durationS` seconds, one request at a
 * time (so the server sees the lines in order): each request carries every
 * line that is due, up to the target's limit (the console takes 100 a call,
 * Nchan one message a POST). Each line holds the moment its request was
 * built and its number.
 */
import http from 'node:http'
import { line, now } from './poll-clients.ts'
import { publish, type PublishSpec } from './poll-targets.ts'

export interface PublisherJob {
  spec: PublishSpec
  rate: number
  durationS: number
}

export interface PublisherReport {
  sent: number
  requests: number
  startedAt: number
  elapsedS: number
  error: string | null
}

async function run(job: PublisherJob): Promise<PublisherReport> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  const startedAt = now()
  const end = startedAt + job.durationS * 1000
  let sent = 0
  let requests = 0
  let error: string | null = null
  try {
    for (;;) {
      const at = now()
      if (at >= end) break
      const due = Math.floor(((at - startedAt) / 1000) * job.rate)
      if (due <= sent) {
        await new Promise((resolve) => setTimeout(resolve, 1))
        continue
      }
      const count = Math.min(due - sent, job.spec.maxLines)
      const t = now()
      const lines = Array.from({ length: count }, (_, i) => line(t, sent + i + 1))
      await publish(job.spec, agent, lines)
      sent += count
      requests++
    }
  } catch (err) {
    error = (err as Error).message
  } finally {
    agent.destroy()
  }
  return { sent, requests, startedAt, elapsedS: (now() - startedAt) / 1000, error }
}

if (process.send) {
  process.once('message', (job: PublisherJob) => {
    void run(job).then((report) => process.send?.(report, () => process.disconnect()))
  })
}
