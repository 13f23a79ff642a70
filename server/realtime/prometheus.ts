import type { Hub } from './hub.ts'

type Snapshot = ReturnType<Hub['snapshot']>

const METRICS: Array<[keyof Snapshot, 'gauge' | 'counter', string, string]> = [
  ['clients', 'gauge', 'longship_poll_clients', 'Browser tabs (poll clients) the hub holds a queue for'],
  ['waiting', 'gauge', 'longship_poll_waiting', 'Long polls held open right now'],
  ['queued', 'gauge', 'longship_poll_queued_events', 'Events in client queues, sent or not, not yet acknowledged'],
  ['topics', 'gauge', 'longship_poll_topics', 'Topics the hub knows in memory'],
  ['published', 'counter', 'longship_poll_published_total', 'Events published'],
  ['delivered', 'counter', 'longship_poll_delivered_total', 'Events sent in poll answers (a resend counts again)'],
  ['answered', 'counter', 'longship_poll_answers_total', 'Poll answers sent'],
  ['timeouts', 'counter', 'longship_poll_timeouts_total', 'Polls answered empty at the timeout'],
  ['aborted', 'counter', 'longship_poll_aborted_total', 'Polls the browser closed while they waited'],
  ['superseded', 'counter', 'longship_poll_superseded_total', 'Polls answered empty because a newer poll of the same tab came'],
  ['overflows', 'counter', 'longship_poll_queue_overflows_total', 'Events dropped from a full client queue (each becomes a gap to fill)'],
  ['gapsFilled', 'counter', 'longship_poll_gaps_filled_total', 'Gaps filled from a topic ring buffer or the database'],
  ['resets', 'counter', 'longship_poll_resets_total', 'Gaps that could not be filled: the page was told to reload its state'],
  ['clientsCreated', 'counter', 'longship_poll_clients_created_total', 'Poll clients created (new tabs, or returning after being dropped)'],
  ['idleDropped', 'counter', 'longship_poll_clients_dropped_total', 'Clients dropped after two poll timeouts without a poll'],
  ['publishedPerSecond', 'gauge', 'longship_poll_published_per_second', 'Events published per second over the last few seconds'],
  ['deliveredPerSecond', 'gauge', 'longship_poll_delivered_per_second', 'Events delivered per second over the last few seconds'],
]

/** The hub's figures in Prometheus text exposition format 0.0.4. */
export function prometheusText(hub: Hub): string {
  const snapshot = hub.snapshot()
  const lines: string[] = []
  for (const [key, type, name, help] of METRICS) {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${Number(snapshot[key]).toString()}`)
  }
  lines.push('# HELP longship_process_resident_bytes Resident memory of the console process', '# TYPE longship_process_resident_bytes gauge', `longship_process_resident_bytes ${process.memoryUsage.rss()}`)
  // with WORKERS > 1 each scrape reaches one of the processes: this says which
  lines.push('# HELP longship_process_id Process id of the console process that answered', '# TYPE longship_process_id gauge', `longship_process_id ${process.pid}`)
  return lines.join('\n') + '\n'
}
