import { FieldReader, isAddress, isHostname, type FieldErrors } from '../web/validate.ts'
import { ENVIRONMENTS } from '../web/environments.ts'
import type { ServerInput } from './repository.ts'

export const SERVER_FIELDS = ['hostname', 'address', 'port', 'username', 'credential_id', 'env', 'tags', 'notes'] as const

function readTags(reader: FieldReader): string[] {
  const raw = reader.raw('tags')
  if (raw === undefined || raw === null || raw === '') return []
  const list = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(/[\s,]+/) : null
  if (!list || list.some((t) => typeof t !== 'string')) {
    reader.fail('tags', 'Tags must be text, separated by commas or spaces')
    return []
  }
  const tags = [...new Set((list as string[]).map((t) => t.trim()).filter(Boolean))]
  if (tags.some((t) => !/^[A-Za-z0-9._:-]{1,64}$/.test(t))) {
    reader.fail('tags', 'A tag may hold letters, digits, dot, dash, underscore and colon (64 at most)')
  } else if (tags.length > 20) {
    reader.fail('tags', 'At most 20 tags')
  } else if (tags.join(',').length > 500) {
    reader.fail('tags', 'Tags are too long all together')
  }
  return tags
}

/**
 * Reads a server from a form or a JSON body. With `partial` (PATCH) only the
 * fields present are read and returned.
 */
export function readServer(input: Record<string, unknown>, partial = false): { value: Partial<ServerInput>; errors: FieldErrors } {
  const r = new FieldReader(input, partial)
  const value: Partial<ServerInput> = {}
  if (r.has('hostname')) {
    value.hostname = r.text('hostname', { label: 'Hostname', required: true, max: 253 })
    if (value.hostname && !r.errors.hostname && !isHostname(value.hostname)) {
      r.fail('hostname', 'Hostname must be letters, digits and inner hyphens in dot-separated labels (RFC 1123)')
    }
  }
  if (r.has('address')) {
    value.address = r.text('address', { label: 'Address', required: true, max: 255 })
    if (value.address && !r.errors.address && !isAddress(value.address)) r.fail('address', 'Address must be an IP address or a DNS name')
  }
  if (r.has('port')) value.port = r.integer('port', { label: 'Port', min: 1, max: 65535, fallback: 22 })
  if (r.has('username')) {
    value.username = r.text('username', { label: 'SSH user', max: 32 }) || 'root'
    if (!r.errors.username && !/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(value.username)) {
      r.fail('username', 'SSH user must be a login name (letters, digits, dot, dash, underscore; no leading dash)')
    }
  }
  if (r.has('credential_id')) {
    const raw = r.raw('credential_id')
    value.credential_id = raw === undefined || raw === null || raw === '' ? null : r.integer('credential_id', { label: 'Credential', min: 1, max: 2_147_483_647 })
  }
  if (r.has('env')) value.env = r.choice('env', ENVIRONMENTS, { label: 'Environment', fallback: partial ? undefined : 'test' })
  if (r.has('tags')) value.tags = readTags(r)
  if (r.has('notes')) value.notes = r.text('notes', { label: 'Notes', max: 10_000, multiline: true })
  return { value, errors: r.errors }
}
