import { isIP } from 'node:net'

export type FieldErrors = Record<string, string>

/** RFC 1123: dot-separated labels of letters, digits and inner hyphens, 253 characters at most. */
export function isHostname(value: string): boolean {
  if (value.length === 0 || value.length > 253) return false
  return value.split('.').every((label) => /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(label))
}

/** An IP address or a DNS name: what SSH will be pointed at. */
export function isAddress(value: string): boolean {
  return isIP(value) !== 0 || isHostname(value)
}

/**
 * A deploy path is used on remote shells, so besides being absolute it may
 * hold only characters that need no quoting (we quote anyway).
 */
export function isSafeAbsolutePath(value: string): boolean {
  return /^\/[A-Za-z0-9._\-/]*$/.test(value) && !value.split('/').includes('..') && value.length <= 512
}

/**
 * A deploy path: absolute, or under the login user's home ("~/apps/web"),
 * which each host resolves for itself (deploy users often own nothing
 * outside their home).
 */
export function isDeployPath(value: string): boolean {
  if (value.startsWith('~/')) return value.length > 2 && isSafeAbsolutePath(value.slice(1))
  return isSafeAbsolutePath(value)
}

/** https://, ssh://, git://, file:// URLs, scp-like git@host:path, or an absolute local path. */
export function isRepoUrl(value: string): boolean {
  if (value.length > 1024 || /\s/.test(value) || value.startsWith('-')) return false
  if (/^(https?|ssh|git|file):\/\//.test(value)) {
    try {
      const url = new URL(value)
      return url.protocol === 'file:' ? url.pathname.length > 1 : url.hostname.length > 0
    } catch {
      return false
    }
  }
  if (/^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[A-Za-z0-9._~\-/]+$/.test(value)) return true
  return /^\/[^\0]*$/.test(value)
}

interface TextOptions {
  label: string
  required?: boolean
  max?: number
  /** Collapse a multi-line value to single-line text (names, addresses). */
  multiline?: boolean
}

/**
 * Reads one form or JSON body field by field, collecting a message per bad
 * field, so that a form re-renders with every problem at once and the API
 * answers with all of them in `details`.
 */
export class FieldReader {
  readonly errors: FieldErrors = {}

  constructor(
    private readonly input: Record<string, unknown>,
    /** For PATCH: fields that are absent are not read at all. */
    private readonly partial = false,
  ) {}

  has(name: string): boolean {
    return !this.partial || Object.prototype.hasOwnProperty.call(this.input, name)
  }

  fail(name: string, message: string): void {
    if (!this.errors[name]) this.errors[name] = message
  }

  get ok(): boolean {
    return Object.keys(this.errors).length === 0
  }

  raw(name: string): unknown {
    return this.input[name]
  }

  text(name: string, opts: TextOptions): string {
    const value = this.input[name]
    if (value !== undefined && value !== null && typeof value !== 'string' && typeof value !== 'number') {
      this.fail(name, `${opts.label} must be text`)
      return ''
    }
    const text = value === undefined || value === null ? '' : String(value)
    const trimmed = opts.multiline ? text.replace(/\r\n/g, '\n') : text.trim()
    if (opts.required && trimmed.trim() === '') {
      this.fail(name, `${opts.label} is required`)
    } else if (trimmed.length > (opts.max ?? 255)) {
      this.fail(name, `${opts.label} is too long (at most ${opts.max ?? 255} characters)`)
    } else if (!opts.multiline && /[\u0000-\u001f\u007f]/.test(trimmed)) {
      this.fail(name, `${opts.label} must not contain control characters`)
    } else if (opts.multiline && /\u0000/.test(trimmed)) {
      this.fail(name, `${opts.label} must not contain NUL characters`)
    }
    return trimmed
  }

  integer(name: string, opts: { label: string; min: number; max: number; fallback?: number }): number {
    const value = this.input[name]
    if ((value === undefined || value === null || value === '') && opts.fallback !== undefined) return opts.fallback
    const number = typeof value === 'number' ? value : typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : NaN
    if (!Number.isSafeInteger(number)) {
      this.fail(name, value === undefined || value === '' ? `${opts.label} is required` : `${opts.label} must be a whole number`)
      return opts.fallback ?? opts.min
    }
    if (number < opts.min || number > opts.max) {
      this.fail(name, `${opts.label} must be between ${opts.min} and ${opts.max}`)
    }
    return number
  }

  choice<T extends string>(name: string, options: readonly T[], opts: { label: string; fallback?: T }): T {
    const value = this.input[name]
    // only an absent field takes the default: an empty choice is a mistake to report
    if ((value === undefined || value === null) && opts.fallback !== undefined) return opts.fallback
    if (typeof value === 'string' && (options as readonly string[]).includes(value)) return value as T
    this.fail(name, `${opts.label} must be one of: ${options.join(', ')}`)
    return opts.fallback ?? (options[0] as T)
  }

  boolean(name: string, label: string, fallback: boolean): boolean {
    const value = this.input[name]
    if (value === undefined || value === null || value === '') return this.partial ? fallback : false
    if (typeof value === 'boolean') return value
    if (value === 'on' || value === 'true' || value === '1' || value === 1) return true
    if (value === 'false' || value === '0' || value === 0) return false
    this.fail(name, `${label} must be true or false`)
    return fallback
  }

  /** A list of ids from a multi-select (string or array) or a JSON array. */
  ids(name: string, label: string): number[] {
    const value = this.input[name]
    if (value === undefined || value === null || value === '') return []
    const list = Array.isArray(value) ? value : [value]
    const ids: number[] = []
    for (const item of list) {
      const n = typeof item === 'number' ? item : typeof item === 'string' && /^\d+$/.test(item) ? Number(item) : NaN
      if (!Number.isSafeInteger(n) || n < 1) {
        this.fail(name, `${label} must be a list of ids`)
        return []
      }
      if (!ids.includes(n)) ids.push(n)
    }
    return ids
  }
}
