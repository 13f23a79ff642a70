/**
 * The release page in a real browser (headless chromium, as test/browser
 * runs it) while a hook prints its lines: how long until the page shows the
 * last line, how many lines the document holds, the page's JS heap, and the
 * long tasks (over 50 ms: input would wait that long) it ran meanwhile.
 */
import { chromium, type Browser } from 'playwright-core'
import { wallClock, type ConsoleSide } from './deploy-console.ts'
import { CHROMIUM, type Cleanup } from './deploy-hosts.ts'

export interface PageFigures {
  releaseId: number
  /** POST → the page shows the last line. */
  lastLineMs: number
  /** POST → the page's status badge says success. */
  successMs: number
  /** POST → the release's finished_at (the console's own end). */
  finishedMs: number
  /** Log lines in the document at the end (the page keeps a window). */
  domLines: number
  heapMb: number
  longTasks: number
  longestTaskMs: number
  longTasksMs: number
  errors: string[]
}

const LAUNCH_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic']

// counts long tasks from the first script on, before the page's own code runs
const OBSERVE_LONG_TASKS = `
  window.__bench = { count: 0, total: 0, max: 0 };
  try {
    new PerformanceObserver(function (list) {
      list.getEntries().forEach(function (e) {
        window.__bench.count++; window.__bench.total += e.duration; window.__bench.max = Math.max(window.__bench.max, e.duration);
      });
    }).observe({ entryTypes: ['longtask'] });
  } catch (e) {}
`

/**
 * The little of the page's globals used here: the bench is compiled without
 * the DOM's types, and the functions playwright runs in the page are sent as
 * source, so each reads globalThis itself rather than calling a helper.
 */
interface PageGlobals {
  document: {
    querySelectorAll(selector: string): ArrayLike<{ textContent: string | null }>
    getElementById(id: string): { textContent: string | null } | null
  }
  performance: { memory?: { usedJSHeapSize: number } }
  __bench: { count: number; total: number; max: number }
}

export async function watchInBrowser(cleanup: Cleanup, side: ConsoleSide, projectId: number, lines: number): Promise<PageFigures> {
  let browser: Browser | null = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: LAUNCH_ARGS })
  cleanup.after(async () => {
    await browser?.close()
    browser = null
  })
  try {
    // the console takes the API token for pages and for the page's polls alike
    const context = await browser.newContext({ baseURL: side.base, extraHTTPHeaders: { authorization: `Bearer ${side.apiToken}` } })
    await context.addInitScript(OBSERVE_LONG_TASKS)
    const page = await context.newPage()
    const errors: string[] = []
    page.on('pageerror', (err) => errors.push(err.message))
    // a failed request is named by its URL (the console message alone does not say which)
    page.on('console', (m) => {
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(m.text())
    })
    page.on('response', (res) => {
      if (res.status() >= 400) errors.push(`${res.status()} for ${new URL(res.url()).pathname}`)
    })
    const posted = performance.now()
    const postedWall = wallClock()
    const release = await side.startRelease(projectId)
    await page.goto(`/releases/${release.id}`)
    // The last stdout line of the window; cheap enough to ask 4 times a second.
    // (Functions, not strings: the page's CSP forbids eval, which string predicates need.)
    await page.waitForFunction(
      (last) => {
        const items = (globalThis as unknown as PageGlobals).document.querySelectorAll('#log li.stream-stdout .text')
        return items.length > 0 && items[items.length - 1]?.textContent === last
      },
      String(lines),
      { polling: 250, timeout: 300_000 },
    )
    const lastLineMs = performance.now() - posted
    await page.waitForFunction(() => /success|failed|cancelled|interrupted/.test((globalThis as unknown as PageGlobals).document.getElementById('release-status')?.textContent ?? ''), undefined, {
      polling: 100,
      timeout: 120_000,
    })
    const successMs = performance.now() - posted
    const status = await page.locator('#release-status').textContent()
    if (!/success/.test(status ?? '')) throw new Error(`the page shows release ${release.id} as ${status}`)
    const state = await page.evaluate(() => {
      const g = globalThis as unknown as PageGlobals
      return { domLines: g.document.querySelectorAll('#log li').length, heap: g.performance.memory?.usedJSHeapSize ?? NaN, long: g.__bench }
    })
    await context.close()
    const finished = await side.getRelease(release.id)
    return {
      releaseId: release.id,
      lastLineMs,
      successMs,
      finishedMs: Date.parse(finished.finished_at ?? '') - postedWall,
      domLines: state.domLines,
      heapMb: state.heap / 2 ** 20,
      longTasks: state.long.count,
      longestTaskMs: state.long.max,
      longTasksMs: state.long.total,
      errors,
    }
  } finally {
    await browser?.close()
    browser = null
  }
}
