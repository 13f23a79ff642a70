import { execFile } from 'node:child_process'
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import type { TestContext } from 'node:test'

/** Shared by the credential tests: real keys and what ssh-keygen says about them. */

const run = promisify(execFile)

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'longship-keys-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** The SHA256:… part of `ssh-keygen -l -f file`. */
export async function sshKeygenFingerprint(file: string): Promise<string> {
  const { stdout } = await run('ssh-keygen', ['-l', '-f', file])
  const match = /SHA256:[A-Za-z0-9+/]+/.exec(stdout)
  if (!match) throw new Error(`no fingerprint in: ${stdout}`)
  return match[0]
}

/** A fresh OpenSSH-format key from ssh-keygen itself, with the fingerprint ssh-keygen prints for it. */
export async function ed25519Key(t: TestContext, passphrase = ''): Promise<{ privateKey: string; fingerprint: string }> {
  const file = path.join(tempDir(t), 'id_ed25519')
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', 'test', '-f', file])
  return { privateKey: readFileSync(file, 'utf8'), fingerprint: await sshKeygenFingerprint(file + '.pub') }
}

/** An RSA key written by node (PKCS#1 or PKCS#8 PEM), fingerprinted by ssh-keygen from a 0600 file. */
export async function nodeRsaKey(t: TestContext, type: 'pkcs1' | 'pkcs8' = 'pkcs1'): Promise<{ privateKey: string; fingerprint: string }> {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type, format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } })
  const file = path.join(tempDir(t), 'id_rsa')
  writeFileSync(file, privateKey, { mode: 0o600 })
  return { privateKey, fingerprint: await sshKeygenFingerprint(file) }
}

/** Writes a key to a 0600 temp file (for ssh-keygen to read), returning the path. */
export function keyFile(t: TestContext, text: string): string {
  const file = path.join(tempDir(t), 'key')
  writeFileSync(file, text, { mode: 0o600 })
  return file
}

/** A multipart/form-data body built by hand, as a browser sends the credential form. */
export function multipart(fields: Record<string, string>, file?: { name: string; filename: string; content: string | Buffer }) {
  const boundary = '----longship' + randomBytes(8).toString('hex')
  const parts: Buffer[] = []
  for (const [name, value] of Object.entries(fields)) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`))
  }
  if (file) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${file.name}"; filename="${file.filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`))
    parts.push(Buffer.isBuffer(file.content) ? file.content : Buffer.from(file.content))
    parts.push(Buffer.from('\r\n'))
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`))
  return { payload: Buffer.concat(parts), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } }
}
