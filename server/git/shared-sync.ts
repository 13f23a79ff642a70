/**
 * One sync of a repository, shared by every caller that asks while it runs.
 * It is stopped only when all of them have aborted; one caller aborting
 * while others wait just stops waiting.
 */
export class SharedSync {
  private readonly controller = new AbortController()
  private readonly listeners = new Set<(line: string) => void>()
  private waiting = 0
  readonly done: Promise<void>

  constructor(run: (signal: AbortSignal, emit: (line: string) => void) => Promise<void>) {
    this.done = run(this.controller.signal, (line) => {
      for (const listener of this.listeners) {
        try {
          listener(line)
        } catch {
          // a caller's broken callback must not stop the sync the others wait for
        }
      }
    })
    this.done.catch(() => {}) // every caller gets the error through join
  }

  /** True once every caller has aborted: the run is being stopped and must not be joined. */
  get stopping(): boolean {
    return this.controller.signal.aborted
  }

  join(opts: { signal?: AbortSignal; onLine?: (line: string) => void }): Promise<void> {
    const { signal, onLine } = opts
    this.waiting++
    if (onLine) this.listeners.add(onLine)
    return new Promise<void>((resolve, reject) => {
      const leave = () => {
        this.waiting--
        if (onLine) this.listeners.delete(onLine)
        signal?.removeEventListener('abort', onAbort)
      }
      const onAbort = () => {
        leave()
        if (this.waiting > 0) return reject(signal?.reason)
        this.controller.abort(signal?.reason)
        this.done.then(
          () => reject(signal?.reason),
          () => reject(signal?.reason),
        )
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.done.then(
        () => {
          if (signal?.aborted) return
          leave()
          resolve()
        },
        (err: unknown) => {
          if (signal?.aborted) return
          leave()
          reject(err)
        },
      )
    })
  }
}
