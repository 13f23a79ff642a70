import type { Knex } from 'knex'
import { isUniqueViolation } from '../db/connection.ts'
import type { FieldErrors } from '../web/validate.ts'
import { decryptSecret, encryptSecret } from './crypto.ts'
import { createCredentialsRepository, type Credential } from './repository.ts'
import { readCredential, type CredentialSecret } from './schema.ts'

export type { CredentialSecret } from './schema.ts'

export type SaveResult = { ok: true; credential: Credential } | { ok: false; errors: FieldErrors; notFound?: boolean }

/** The stored JSON, before encryption: {private_key, passphrase} or {password}. */
function serialize(secret: CredentialSecret): string {
  return JSON.stringify(secret.kind === 'key' ? { private_key: secret.privateKey, passphrase: secret.passphrase ?? '' } : { password: secret.password })
}

function duplicate(name: string): FieldErrors {
  return { name: `A credential named ${name} already exists` }
}

/**
 * The one place a credential is validated, encrypted and written. The
 * plaintext secret lives only in this request's memory: the database gets
 * the AES-GCM ciphertext, pages get the fingerprint.
 */
export function createCredentialsService(knex: Knex, secretKey: Buffer) {
  const repo = createCredentialsRepository(knex)

  return {
    repo,

    async create(input: Record<string, unknown>): Promise<SaveResult> {
      const { value, errors } = readCredential(input)
      if (Object.keys(errors).length || !value.secret) return { ok: false, errors }
      try {
        const credential = await repo.create({
          name: value.name,
          kind: value.kind,
          notes: value.notes,
          fingerprint: value.fingerprint,
          secret_encrypted: encryptSecret(serialize(value.secret), secretKey),
        })
        return { ok: true, credential }
      } catch (err) {
        if (isUniqueViolation(err)) return { ok: false, errors: duplicate(value.name) }
        throw err
      }
    },

    async update(id: number, input: Record<string, unknown>): Promise<SaveResult> {
      const existing = await repo.findById(id)
      if (!existing) return { ok: false, errors: {}, notFound: true }
      const { value, errors } = readCredential(input, existing.kind)
      if (Object.keys(errors).length) return { ok: false, errors }
      const secret = value.secret ? { secret_encrypted: encryptSecret(serialize(value.secret), secretKey), fingerprint: value.fingerprint } : {}
      try {
        const credential = await repo.update(id, { name: value.name, kind: value.kind, notes: value.notes, ...secret })
        return credential ? { ok: true, credential } : { ok: false, errors: {}, notFound: true }
      } catch (err) {
        if (isUniqueViolation(err)) return { ok: false, errors: duplicate(value.name) }
        throw err
      }
    },
  }
}

export type CredentialsService = ReturnType<typeof createCredentialsService>

/**
 * The decrypted secret of a credential, for the SSH runner; null when the
 * credential does not exist. Throws when the ciphertext was tampered with or
 * the SECRET_KEY changed (GCM's tag does not match).
 */
export async function loadSecret(knex: Knex, secretKey: Buffer, credentialId: number): Promise<CredentialSecret | null> {
  const credential = await createCredentialsRepository(knex).encryptedSecret(credentialId)
  if (!credential) return null
  const data = JSON.parse(decryptSecret(credential.secret_encrypted, secretKey)) as Record<string, unknown>
  if (credential.kind === 'password' && typeof data.password === 'string') return { kind: 'password', password: data.password }
  if (credential.kind === 'key' && typeof data.private_key === 'string') {
    const passphrase = typeof data.passphrase === 'string' && data.passphrase ? data.passphrase : undefined
    return passphrase ? { kind: 'key', privateKey: data.private_key, passphrase } : { kind: 'key', privateKey: data.private_key }
  }
  throw new Error(`credential ${credentialId} holds no ${credential.kind} secret`)
}
