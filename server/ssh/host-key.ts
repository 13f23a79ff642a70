import { createHash } from 'node:crypto'

/** A server's public host key, in the forms the servers table and the pages use. */
export interface HostKey {
  /** ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256 … (read from the key itself). */
  type: string
  /** The key in SSH wire format (RFC 4253), the bytes ssh-keygen hashes. */
  blob: Buffer
  /** "ssh-ed25519 AAAA…", the form of known_hosts and *.pub files: what to store in servers.host_key. */
  openssh: string
  /** "SHA256:…" exactly as `ssh-keygen -l` prints it. */
  fingerprint: string
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/

/**
 * The SHA256 fingerprint of a public key blob, as `ssh-keygen -lf` prints it:
 * base64 of the SHA-256 of the wire-format key, without the "=" padding.
 * ssh-keygen hashes the wire form (RFC 4253), not DER. Credentials use it
 * for user keys too (from the public half of the private key).
 */
export function fingerprint(publicKey: Buffer | string): string {
  const blob = typeof publicKey === 'string' ? parsePublicKey(publicKey) : publicKey
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')
}

/** The key type named inside a blob (its first SSH string), or null when the blob is not one. */
function blobType(blob: Buffer): string | null {
  if (blob.length < 4) return null
  const length = blob.readUInt32BE(0)
  if (length === 0 || length > 64 || blob.length < 4 + length) return null
  const type = blob.subarray(4, 4 + length).toString('latin1')
  return /^[a-z0-9@.-]+$/i.test(type) ? type : null
}

/**
 * A pinned key as stored: an OpenSSH line ("ssh-ed25519 AAAA… comment") or
 * the bare base64 blob. Throws when it is neither, so a damaged pin is an
 * error rather than a silent trust-on-first-use.
 */
export function parsePublicKey(text: string): Buffer {
  const words = text.trim().split(/\s+/)
  const [first = '', second] = words
  const named = second !== undefined && !BASE64.test(first) ? first : null
  const encoded = named ? second : first
  if (!encoded || !BASE64.test(encoded)) throw new Error('not an SSH public key (expected "type AAAA…" or the base64 key)')
  const blob = Buffer.from(encoded, 'base64')
  const type = blobType(blob)
  if (!type) throw new Error('not an SSH public key (the base64 does not hold a key)')
  if (named && named !== type) throw new Error(`not an SSH public key (the line says ${named}, the key is ${type})`)
  return blob
}

export function describeHostKey(blob: Buffer): HostKey {
  const type = blobType(blob) ?? 'unknown'
  return { type, blob, openssh: `${type} ${blob.toString('base64')}`, fingerprint: fingerprint(blob) }
}

/**
 * The host key algorithms to ask for when a key is pinned: only its own
 * type, as OpenSSH does for known hosts. A server with several host keys
 * would otherwise answer with another type (ssh2 prefers Ed25519) and look
 * like a changed key. An RSA key signs with any of the three RSA algorithms.
 */
export function hostKeyAlgorithms(type: string): string[] | null {
  if (type === 'ssh-rsa') return ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']
  if (type === 'ssh-ed25519' || /^ecdsa-sha2-nistp(256|384|521)$/.test(type)) return [type]
  return null
}
