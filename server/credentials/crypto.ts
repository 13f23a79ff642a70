import { createCipheriv, createDecipheriv, createHash, createPublicKey, createPrivateKey, randomBytes } from 'node:crypto'

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
 * prints it, or null when node cannot parse the key (e.g. an encrypted key).
 */
export function keyFingerprint(privateKey: string, passphrase?: string): string | null {
  try {
    const pub = createPublicKey(createPrivateKey({ key: privateKey, format: 'pem', passphrase }))
    const der = pub.export({ format: 'der', type: 'spki' })
    return 'SHA256:' + createHash('sha256').update(der).digest('base64').replace(/=+$/, '')
  } catch {
    return null
  }
}
