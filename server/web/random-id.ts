import { randomBytes } from 'node:crypto'

const POOL_SIZE = 4096
let pool = Buffer.alloc(0)
let used = 0

/**
 * `bytes` random bytes as base64url, taken from a pooled CSPRNG buffer. Every
 * page view mints a poll client id; one `randomBytes` call per id cost about
 * 4 % of a list page's CPU under load (crypto's fixed cost per call), one per
 * 4 KB costs nothing measurable. The bytes are the same CSPRNG's either way.
 */
export function randomId(bytes: number): string {
  if (bytes > POOL_SIZE) return randomBytes(bytes).toString('base64url')
  if (used + bytes > pool.length) {
    pool = randomBytes(POOL_SIZE)
    used = 0
  }
  const id = pool.toString('base64url', used, used + bytes)
  used += bytes
  return id
}
