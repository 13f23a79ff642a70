import { createCipheriv, createDecipheriv, createPrivateKey, randomBytes, type KeyObject } from 'node:crypto'
import { createRequire } from 'node:module'
import { fingerprint } from '../ssh/host-key.ts'

const VERSION = 'v1'

/** AES-256-GCM: `v1:` + base64(iv | tag | ciphertext). The tag makes tampering an error, not garbage. */
export function encryptSecret(plaintext: string, key: Buffer): string {
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
  return `${VERSION}:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`
}

export function decryptSecret(stored: string, key: Buffer): string {
  if (!stored.startsWith(`${VERSION}:`)) throw new Error('unknown credential encryption format')
  const raw = Buffer.from(stored.slice(VERSION.length + 1), 'base64')
  const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12))
  decipher.setAuthTag(raw.subarray(12, 28))
  return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8')
}

/**
 * The SHA256 fingerprint of a private key's public half, as `ssh-keygen -l`
 * prints it, or null when the key cannot be read (garbage, or an encrypted
 * key without its passphrase).
 */
export function keyFingerprint(privateKey: string, passphrase?: string): string | null {
  const result = inspectPrivateKey(privateKey, passphrase)
  return result.ok ? result.key.fingerprint : null
}

/** The part of ssh2's key parser we use; ssh2 (node-ssh's SSH engine) ships no types of its own. */
interface Ssh2Key {
  type: string
  isPrivateKey(): boolean
  getPublicSSH(): Buffer
}
type ParseKey = (data: string, passphrase?: string) => Ssh2Key | Ssh2Key[] | Error
let parseKeyFn: ParseKey | null = null
function ssh2ParseKey(data: string, passphrase?: string): Ssh2Key | Error {
  // loaded on first use: most requests never look at a key
  parseKeyFn ??= (createRequire(import.meta.url)('ssh2') as { utils: { parseKey: ParseKey } }).utils.parseKey
  const parsed = parseKeyFn(data, passphrase)
  return Array.isArray(parsed) ? (parsed[0] ?? new Error('empty key file')) : parsed
}

export type KeyProblem = 'not-a-key' | 'passphrase-needed' | 'wrong-passphrase' | 'unsupported'

export interface InspectedKey {
  /** ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256 ... */
  type: string
  /** SHA256:… exactly as `ssh-keygen -l` prints it. */
  fingerprint: string
  /** The key as the SSH client (ssh2) will load it. */
  privateKey: string
  /** Only when the stored key is itself encrypted. */
  passphrase: string
}

export type InspectResult = { ok: true; key: InspectedKey } | { ok: false; problem: KeyProblem }

// one PEM frame of a private key: PKCS#8 (plain or encrypted), PKCS#1, SEC1, DSA, or OpenSSH's own
const PEM_FRAME = /^-----BEGIN ((?:RSA |DSA |EC |OPENSSH |ENCRYPTED )?)PRIVATE KEY-----\n[\s\S]+?\n-----END \1PRIVATE KEY-----$/

function sshString(value: Buffer | string): Buffer {
  const data = typeof value === 'string' ? Buffer.from(value) : value
  const length = Buffer.alloc(4)
  length.writeUInt32BE(data.length)
  return Buffer.concat([length, data])
}

/** An unencrypted OpenSSH-format key file (PROTOCOL.key), the only Ed25519 form ssh2 reads. */
function ed25519ToOpenSsh(seed: Buffer, pub: Buffer): string {
  const publicBlob = Buffer.concat([sshString('ssh-ed25519'), sshString(pub)])
  const check = randomBytes(4)
  const secret = Buffer.concat([check, check, sshString('ssh-ed25519'), sshString(pub), sshString(Buffer.concat([seed, pub])), sshString('')])
  const padding: number[] = []
  for (let i = 1; (secret.length + padding.length) % 8 !== 0; i++) padding.push(i)
  const count = Buffer.alloc(4)
  count.writeUInt32BE(1)
  const body = Buffer.concat([
    Buffer.from('openssh-key-v1\0'),
    sshString('none'),
    sshString('none'),
    sshString(''),
    count,
    sshString(publicBlob),
    sshString(Buffer.concat([secret, Buffer.from(padding)])),
  ])
  const lines = body.toString('base64').match(/.{1,70}/g) ?? []
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`
}

/**
 * ssh2 reads OpenSSH and PKCS#1/SEC1 keys but not PKCS#8, which OpenSSL and
 * node write by default; such a key is rewritten into a form ssh2 reads, so a
 * key accepted here is a key the deploys can use. The rewritten key is left
 * unencrypted: it is only ever stored inside the AES-GCM encrypted secret.
 */
function fromPkcs8(text: string, passphrase: string): InspectResult {
  let key: KeyObject
  try {
    key = createPrivateKey({ key: text, format: 'pem', passphrase: passphrase || undefined })
  } catch {
    const encrypted = text.startsWith('-----BEGIN ENCRYPTED') || text.includes('Proc-Type: 4,ENCRYPTED')
    if (!encrypted) return { ok: false, problem: 'not-a-key' }
    return { ok: false, problem: passphrase ? 'wrong-passphrase' : 'passphrase-needed' }
  }
  let converted: string
  if (key.asymmetricKeyType === 'rsa') converted = String(key.export({ type: 'pkcs1', format: 'pem' }))
  else if (key.asymmetricKeyType === 'ec') converted = String(key.export({ type: 'sec1', format: 'pem' }))
  else if (key.asymmetricKeyType === 'ed25519') {
    const jwk = key.export({ format: 'jwk' })
    converted = ed25519ToOpenSsh(Buffer.from(String(jwk.d), 'base64url'), Buffer.from(String(jwk.x), 'base64url'))
  } else return { ok: false, problem: 'unsupported' }
  const parsed = ssh2ParseKey(converted)
  if (parsed instanceof Error || !parsed.isPrivateKey()) return { ok: false, problem: 'unsupported' }
  return { ok: true, key: { type: parsed.type, fingerprint: fingerprint(parsed.getPublicSSH()), privateKey: converted, passphrase: '' } }
}

/**
 * Checks that text is a private key in PEM or OpenSSH format that the given
 * passphrase (if any) unlocks, and returns its SSH fingerprint. Nothing is
 * written to disk and no ssh-keygen is spawned.
 */
export function inspectPrivateKey(input: string, passphrase = ''): InspectResult {
  const text = input.replace(/\r\n?/g, '\n').trim()
  if (!PEM_FRAME.test(text)) return { ok: false, problem: 'not-a-key' }
  let parsed = ssh2ParseKey(text)
  let needed = false
  if (parsed instanceof Error && /no passphrase given/.test(parsed.message)) {
    if (!passphrase) return { ok: false, problem: 'passphrase-needed' }
    needed = true
    parsed = ssh2ParseKey(text, passphrase)
    if (parsed instanceof Error && /passphrase/i.test(parsed.message)) return { ok: false, problem: 'wrong-passphrase' }
  }
  if (parsed instanceof Error) return fromPkcs8(text, passphrase)
  if (!parsed.isPrivateKey()) return { ok: false, problem: 'not-a-key' }
  return {
    ok: true,
    key: { type: parsed.type, fingerprint: fingerprint(parsed.getPublicSSH()), privateKey: text + '\n', passphrase: needed ? passphrase : '' },
  }
}
