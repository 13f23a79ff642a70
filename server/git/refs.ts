/**
 * What a deployer may type as the thing to release: a branch, a tag or a
 * commit id. The value ends up as an argument of git, so the check is
 * stricter than git's own (check-ref-format): a small character set leaves
 * nothing a shell, an option parser or a revision expression (`~`, `^`, `:`,
 * `@{`) could read as more than a name.
 */

export type RefCheck = { ok: true; ref: string } | { ok: false; error: string }

export const MAX_REF_LENGTH = 255

const SAFE_CHARS = /^[A-Za-z0-9._/-]+$/
const COMMIT_ID = /^(?:[0-9a-f]{7,40}|[0-9a-f]{64})$/i

const GENERAL = "A ref is a branch, tag or commit id: letters, digits, '.', '_', '-' and '/'; it must not start with '-'"

/** True for a full or abbreviated (7+ hex digits) SHA-1 or a full SHA-256 commit id. */
export function isCommitId(s: string): boolean {
  return COMMIT_ID.test(s)
}

/** Checks and trims a branch, tag or commit id from a form or the API; the error is meant for the person who typed it. */
export function validateRef(input: unknown): RefCheck {
  if (typeof input !== 'string') return { ok: false, error: 'Give a branch, tag or commit id' }
  const ref = input.trim()
  if (ref === '') return { ok: false, error: 'Give a branch, tag or commit id' }
  if (ref.length > MAX_REF_LENGTH) return { ok: false, error: `A ref is at most ${MAX_REF_LENGTH} characters long` }
  if (ref.startsWith('-') || !SAFE_CHARS.test(ref)) return { ok: false, error: GENERAL }
  // the rest of git check-ref-format's rules that the character set lets through
  if (ref.includes('..')) return { ok: false, error: "A ref must not contain '..'" }
  if (ref.startsWith('/') || ref.endsWith('/') || ref.includes('//')) {
    return { ok: false, error: "A ref must not start or end with '/' or contain '//'" }
  }
  if (ref.endsWith('.')) return { ok: false, error: "A ref must not end with '.'" }
  for (const part of ref.split('/')) {
    if (part.startsWith('.')) return { ok: false, error: "No part of a ref may start with '.'" }
    if (part.endsWith('.lock')) return { ok: false, error: "No part of a ref may end with '.lock'" }
  }
  return { ok: true, ref }
}
