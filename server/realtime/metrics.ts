/** Counters of the hub, and per-second rates over the last sweep window, for /metrics. */
export class HubMetrics {
  published = 0
  delivered = 0
  answered = 0
  waits = 0
  timeouts = 0
  aborted = 0
  superseded = 0
  overflows = 0
  gapsFilled = 0
  resets = 0
  clientsCreated = 0
  idleDropped = 0
  private window = { at: Date.now(), published: 0, delivered: 0 }
  private rates = { published: 0, delivered: 0 }

  count(answer: { events: unknown[] }): void {
    this.answered++
    this.delivered += answer.events.length
  }

  /** Rates are refreshed at most every 5 s, so they average over a few seconds. */
  tick(now: number): void {
    const seconds = (now - this.window.at) / 1000
    if (seconds < 5) return
    this.rates = {
      published: (this.published - this.window.published) / seconds,
      delivered: (this.delivered - this.window.delivered) / seconds,
    }
    this.window = { at: now, published: this.published, delivered: this.delivered }
  }

  snapshot() {
    return {
      published: this.published,
      delivered: this.delivered,
      answered: this.answered,
      waits: this.waits,
      timeouts: this.timeouts,
      aborted: this.aborted,
      superseded: this.superseded,
      overflows: this.overflows,
      gapsFilled: this.gapsFilled,
      resets: this.resets,
      clientsCreated: this.clientsCreated,
      idleDropped: this.idleDropped,
      publishedPerSecond: this.rates.published,
      deliveredPerSecond: this.rates.delivered,
    }
  }
}
