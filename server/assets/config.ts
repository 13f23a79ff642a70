import { ConfigError, integer } from '../config.ts'
import { checkCollectorNames, collectorNames, type CollectorName } from './collectors/index.ts'

export interface AssetConfig {
  /** Hosts collected at once over SSH. */
  concurrency: number
  /** Bound on one host over SSH: connect, every collector, and the answer. */
  timeoutMs: number
  /** Which collectors the console runs over SSH (the agent chooses its own with --collectors). */
  collectors: CollectorName[]
  /** Collect every server over SSH this often (0: only when someone presses the button). */
  everyMs: number
}

/** The CMDB's settings from the environment; loadConfig (server/config.ts) calls it, so a bad value stops the start like any other. */
export function loadAssetConfig(env: NodeJS.ProcessEnv = process.env): AssetConfig {
  let collectors: CollectorName[] = collectorNames
  if (env.COLLECTORS) {
    try {
      collectors = checkCollectorNames(env.COLLECTORS.split(/[\s,]+/).filter(Boolean))
    } catch (err) {
      throw new ConfigError(`COLLECTORS: ${(err as Error).message}`)
    }
  }
  return {
    concurrency: integer(env, 'COLLECT_CONCURRENCY', 20, 1, 500),
    timeoutMs: integer(env, 'COLLECT_TIMEOUT_S', 60, 1, 3600) * 1000,
    collectors,
    everyMs: integer(env, 'COLLECT_EVERY_S', 0, 0, 7 * 24 * 3600) * 1000,
  }
}
