import { FieldReader, type FieldErrors } from '../web/validate.ts'
import { ROLES, type Role } from './repository.ts'

export const MIN_PASSWORD = 8

export interface UserInput {
  username: string
  display_name: string
  role: Role
  password: string
}

export function readPassword(reader: FieldReader, name = 'password', confirm = 'password_confirm'): string {
  const raw = reader.raw(name)
  if (raw !== undefined && typeof raw !== 'string') {
    reader.fail(name, 'Password must be text')
    return ''
  }
  const password = (raw as string | undefined) ?? ''
  if (password.length < MIN_PASSWORD) reader.fail(name, `Password must be at least ${MIN_PASSWORD} characters`)
  else if (password.length > 1024) reader.fail(name, 'Password is too long (at most 1024 characters)')
  const again = reader.raw(confirm)
  if (again !== undefined && again !== password) reader.fail(confirm, 'The two passwords differ')
  return password
}

/**
 * On create the password is required; on edit an empty password keeps the
 * old one.
 */
export function readUser(input: Record<string, unknown>, mode: 'create' | 'edit'): { value: UserInput; errors: FieldErrors } {
  const reader = new FieldReader(input)
  const username = reader.text('username', { label: 'Username', required: true, max: 64 })
  if (username && !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(username)) {
    reader.fail('username', 'Username may hold letters, digits, dot, dash and underscore, and starts with a letter or digit')
  }
  const display_name = reader.text('display_name', { label: 'Display name', max: 128 })
  const role = reader.choice('role', ROLES, { label: 'Role' })
  const wantsPassword = mode === 'create' || (typeof input.password === 'string' && input.password !== '')
  const password = wantsPassword ? readPassword(reader) : ''
  return { value: { username, display_name, role, password }, errors: reader.errors }
}
