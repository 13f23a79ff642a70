/**
 * Every value that reaches a remote command goes through shellQuote: the
 * remote login shell parses the whole command line, so an unquoted path or
 * branch name would be code (`$(…)`, backticks, `;`) on the target server.
 */

/** A value that cannot be made safe for a remote command or path. */
export class UnsafeValueError extends Error {
  override readonly name = 'UnsafeValueError'
}

/**
 * POSIX sh single quoting: inside '…' nothing is special, and a quote itself
 * is written as '\'' (close, escaped quote, reopen). Newlines are fine inside
 * the quotes (hook scripts are multi-line); NUL is refused because the
 * command travels as a C string on the remote side and would be cut there.
 */
export function shellQuote(value: string): string {
  if (value.includes('\0')) throw new UnsafeValueError('a value for a remote command must not contain NUL characters')
  return `'${value.replaceAll("'", "'\\''")}'`
}

/** A command line from words, each quoted: shellJoin(['ln', '-sfn', '--', target, link]). */
export function shellJoin(words: readonly string[]): string {
  return words.map(shellQuote).join(' ')
}

export interface RemotePathRules {
  /** Require a path starting with "/" (deploy paths; relative ones would depend on the login directory). */
  absolute?: boolean
  /** Named in the error message: "deploy path must …". */
  label?: string
}

/**
 * Checks a remote path before it is used in a command or over SFTP, and
 * returns it. Quoting keeps a path from being code, but not from being an
 * option ("-rf" to rm) or from splitting a line-based protocol or log line,
 * so those are refused here.
 */
export function checkRemotePath(value: string, rules: RemotePathRules = {}): string {
  const label = rules.label ?? 'remote path'
  if (typeof value !== 'string' || value === '') throw new UnsafeValueError(`${label} must not be empty`)
  if (/[\0\r\n]/.test(value)) throw new UnsafeValueError(`${label} must not contain NUL characters or line breaks`)
  if (value.startsWith('-')) throw new UnsafeValueError(`${label} must not start with "-" (it would be read as an option)`)
  if (rules.absolute && !value.startsWith('/')) throw new UnsafeValueError(`${label} must be absolute (start with "/")`)
  return value
}
