import { randomBytes } from 'node:crypto'
import type { TestContext } from 'node:test'
import { Redis } from 'ioredis'

/** The Redis the tests share (the machine's, on loopback); each test keeps to a prefix of its own. */
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

/**
 * A fresh key prefix, its keys deleted when the test ends, and a client for
 * poking at them. Without Redis the test is skipped, except in CI, where a
 * missing service is a failure.
 */
export async function redisPrefix(t: TestContext): Promise<{ prefix: string; redis: Redis } | null> {
  const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null })
  redis.on('error', () => undefined)
  try {
    await redis.connect()
  } catch (err) {
    redis.disconnect()
    if (process.env.CI === 'true') throw new Error(`Redis is needed at ${TEST_REDIS_URL}: ${(err as Error).message}`)
    t.skip(`no Redis at ${TEST_REDIS_URL}`)
    return null
  }
  const prefix = `longship-test-${process.pid}-${randomBytes(4).toString('hex')}`
  t.after(async () => {
    const keys = await redis.keys(`${prefix}:*`)
    if (keys.length) await redis.del(...keys)
    await redis.quit()
  })
  return { prefix, redis }
}
