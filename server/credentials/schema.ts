import { FieldReader, type FieldErrors } from '../web/validate.ts'
import { inspectPrivateKey, type KeyProblem } from './crypto.ts'
import { CREDENTIAL_KINDS, type CredentialKind } from './repository.ts'

/** What the SSH runner gets back from a credential. */
export type CredentialSecret = { kind: 'key'; privateKey: string; passphrase?: string } | { kind: 'password'; password: string }

export interface CredentialValue {
  name: string
  kind: CredentialKind
  notes: string
  /** null on an edit that keeps the stored secret. */
  secret: CredentialSecret | null
  /** The key's SHA256 fingerprint ('' for a password); set along with a new secret. */
  fingerprint: string
}

/** The largest key accepted, uploaded (app.ts gives it to multipart as the file size cap) or pasted. */
export const KEY_FILE_LIMIT = 64 * 1024
const SECRET_MAX = 1024

const KEY_PROBLEMS: Record<KeyProblem, string> = {
  'not-a-key': 'This is not a private key in PEM or OpenSSH format',
  'passphrase-needed': 'This key is encrypted: enter its passphrase',
  'wrong-passphrase': 'The passphrase does not unlock this key',
  unsupported: 'This type of key cannot be used for SSH (use Ed25519, ECDSA or RSA)',
}

/** A passphrase or password is taken exactly as typed: spaces at either end are part of it. */
function secretText(r: FieldReader, name: string, label: string): string {
  const value = r.raw(name)
  if (value === undefined || value === null) return ''
  if (typeof value !== 'string') {
    r.fail(name, `${label} must be text`)
    return ''
  }
  if (value.length > SECRET_MAX) r.fail(name, `${label} is too long (at most ${SECRET_MAX} characters)`)
  else if (value.includes('\0')) r.fail(name, `${label} must not contain NUL characters`)
  return value
}

/**
 * The key as uploaded (key_file, a Buffer from multipart; empty when no file
 * was chosen) or pasted (private_key), with the field to blame for problems.
 */
function keySource(r: FieldReader): { text: string; field: 'key_file' | 'private_key' } | null {
  const file = r.raw('key_file')
  const pasted = r.raw('private_key')
  if (pasted !== undefined && pasted !== null && typeof pasted !== 'string') {
    r.fail('private_key', 'Private key must be text')
    return null
  }
  const fileText = Buffer.isBuffer(file) ? file.toString('utf8') : typeof file === 'string' ? file : ''
  const pastedText = pasted ?? ''
  if (fileText.trim() && pastedText.trim()) {
    r.fail('key_file', 'Choose a key file or paste a key, not both')
    return null
  }
  if (fileText.trim()) return { text: fileText, field: 'key_file' }
  if (pastedText.trim()) return { text: pastedText, field: 'private_key' }
  return null
}

function readKey(r: FieldReader, needSecret: boolean, changingKind: boolean): Pick<CredentialValue, 'secret' | 'fingerprint'> {
  const passphrase = secretText(r, 'passphrase', 'Passphrase')
  const source = keySource(r)
  if (!source) {
    if (needSecret) {
      r.fail('private_key', changingKind ? 'Changing the kind needs a new key: paste it or choose its file' : 'A private key is required: paste it or choose its file')
    } else if (passphrase) {
      r.fail('passphrase', 'Give the passphrase together with the key it unlocks')
    }
    return { secret: null, fingerprint: '' }
  }
  if (source.text.length > KEY_FILE_LIMIT) {
    r.fail(source.field, `The key is too long (at most ${KEY_FILE_LIMIT / 1024} KiB)`)
    return { secret: null, fingerprint: '' }
  }
  if (r.errors.passphrase) return { secret: null, fingerprint: '' }
  const result = inspectPrivateKey(source.text, passphrase)
  if (!result.ok) {
    const field = result.problem === 'passphrase-needed' || result.problem === 'wrong-passphrase' ? 'passphrase' : source.field
    r.fail(field, KEY_PROBLEMS[result.problem])
    return { secret: null, fingerprint: '' }
  }
  const { privateKey, passphrase: kept, fingerprint } = result.key
  return { secret: kept ? { kind: 'key', privateKey, passphrase: kept } : { kind: 'key', privateKey }, fingerprint }
}

function readPassword(r: FieldReader, needSecret: boolean, changingKind: boolean): Pick<CredentialValue, 'secret' | 'fingerprint'> {
  const password = secretText(r, 'password', 'Password')
  if (!password) {
    if (needSecret && !r.errors.password) r.fail('password', changingKind ? 'Changing the kind needs a new password' : 'A password is required')
    return { secret: null, fingerprint: '' }
  }
  return { secret: r.errors.password ? null : { kind: 'password', password }, fingerprint: '' }
}

/**
 * Reads a credential form (multipart or urlencoded). On an edit
 * (`existingKind` given) empty secret fields keep the stored secret, unless
 * the kind changes: then the new kind's secret is required.
 */
export function readCredential(input: Record<string, unknown>, existingKind?: CredentialKind): { value: CredentialValue; errors: FieldErrors } {
  const r = new FieldReader(input)
  const name = r.text('name', { label: 'Name', required: true, max: 128 })
  const kind = r.choice('kind', CREDENTIAL_KINDS, { label: 'Kind' })
  const notes = r.text('notes', { label: 'Notes', max: 10_000, multiline: true })
  let secret: Pick<CredentialValue, 'secret' | 'fingerprint'> = { secret: null, fingerprint: '' }
  if (!r.errors.kind) {
    const changingKind = existingKind !== undefined && existingKind !== kind
    const needSecret = existingKind === undefined || changingKind
    secret = kind === 'key' ? readKey(r, needSecret, changingKind) : readPassword(r, needSecret, changingKind)
  }
  return { value: { name, kind, notes, ...secret }, errors: r.errors }
}
