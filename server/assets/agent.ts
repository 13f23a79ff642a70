import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { checkCollectorNames, collectAll, collectorNames, type CollectorName } from './collectors/index.ts'
import { createLocalTarget } from './targets/local.ts'

/**
 * The agent: collect on this machine, report to the console, and remember
 * who we are. Meant for cron, so it prints one line and exits 0 on success,
 * or one line on stderr and a non-zero status on any failure.
 *
 * The identity file (agent id + the hostname last reported) is rewritten
 * only after the console answered 2xx: a report the console refused or
 * never got must not move the name the next report is matched by.
 */

export interface AgentOptions {
  server: URL
  token: string
  identityFile: string
  collectors: CollectorName[]
  timeoutMs: number
}

export interface Identity {
  agent_id: string
  hostname: string | null
}

export class UsageError extends Error {}

export const USAGE = 'usage: longship-agent --server URL (--token TOKEN | --token-file FILE) [--identity FILE] [--collectors os,cpu,...] [--timeout SECONDS]'

function defaultIdentityFile(): string {
  // root's cron: a system path that survives reinstalling the project; anyone else: their home
  return process.getuid?.() === 0 ? '/var/lib/longship-agent/identity.json' : path.join(os.homedir(), '.longship-agent.json')
}

export function parseArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): AgentOptions {
  const values = new Map<string, string>()
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    const match = /^--(server|token|token-file|identity|collectors|timeout)(?:=(.*))?$/.exec(arg)
    if (!match) throw new UsageError(`unknown argument ${arg}`)
    const value = match[2] ?? argv[++i]
    if (value === undefined) throw new UsageError(`--${match[1]} needs a value`)
    values.set(match[1] as string, value)
  }
  const serverRaw = values.get('server') ?? env.LONGSHIP_SERVER
  // the token may come from a file or the environment, so it need not show in `ps` or the crontab
  const tokenFile = values.get('token-file')
  const token = values.get('token') ?? (tokenFile === undefined ? env.LONGSHIP_TOKEN : readTokenFile(tokenFile))
  if (!serverRaw) throw new UsageError('--server is required')
  if (!token) throw new UsageError('--token is required (or --token-file, or LONGSHIP_TOKEN)')
  let server: URL
  try {
    server = new URL(serverRaw)
  } catch {
    throw new UsageError(`--server ${serverRaw} is not a URL (http://console.example.com:3000)`)
  }
  if (server.protocol !== 'http:' && server.protocol !== 'https:') throw new UsageError('--server must be an http:// or https:// URL')
  let collectors = collectorNames
  const list = values.get('collectors')
  if (list) {
    try {
      collectors = checkCollectorNames(list.split(',').map((s) => s.trim()).filter(Boolean))
    } catch (err) {
      throw new UsageError(`--collectors: ${(err as Error).message}`)
    }
  }
  const timeout = values.get('timeout') ?? '60'
  if (!/^\d+$/.test(timeout) || Number(timeout) < 1) throw new UsageError('--timeout must be a whole number of seconds')
  return { server, token, identityFile: values.get('identity') ?? defaultIdentityFile(), collectors, timeoutMs: Number(timeout) * 1000 }
}

function readTokenFile(file: string): string {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new UsageError(`cannot read --token-file ${file}: ${(err as Error).message}`)
  }
  const token = text.trim()
  if (!token) throw new UsageError(`--token-file ${file} is empty`)
  return token
}

export async function readIdentity(file: string): Promise<Identity | null> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw new Error(`cannot read the identity file ${file}: ${(err as Error).message}`)
  }
  try {
    const data = JSON.parse(text) as Record<string, unknown>
    if (typeof data.agent_id !== 'string' || !/^[A-Za-z0-9_-]{8,64}$/.test(data.agent_id)) throw new Error('no valid agent_id')
    return { agent_id: data.agent_id, hostname: typeof data.hostname === 'string' && data.hostname ? data.hostname : null }
  } catch (err) {
    // a damaged file is not silently replaced: a new id would make this machine a stranger to the console
    throw new Error(`the identity file ${file} is damaged (${(err as Error).message}); fix or remove it`)
  }
}

/** Written aside and renamed over, so a crash mid-write never leaves half a file. */
export async function writeIdentity(file: string, identity: Identity): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true })
  const temp = `${file}.${process.pid}.tmp`
  await writeFile(temp, JSON.stringify(identity, null, 2) + '\n', { mode: 0o600 })
  await rename(temp, file)
}

/** One collection and report; resolves with the line to print, rejects with the line to complain with. */
export async function runAgent(opts: AgentOptions): Promise<string> {
  const stored = await readIdentity(opts.identityFile)
  const agentId = stored?.agent_id ?? randomBytes(16).toString('hex')
  const collection = await collectAll(createLocalTarget(), opts.collectors)
  const hostname = (collection.facts.os?.hostname ?? os.hostname()).trim()
  const url = new URL('api/assets', opts.server.href.endsWith('/') ? opts.server : new URL(opts.server.href + '/'))
  let response: Response
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${opts.token}`, 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ agent_id: agentId, hostname, previous_hostname: stored?.hostname ?? null, facts: collection.facts, errors: collection.errors }),
      signal: AbortSignal.timeout(opts.timeoutMs),
    })
  } catch (err) {
    const cause = (err as { cause?: { message?: string } }).cause?.message
    throw new Error(`cannot reach ${url.origin}: ${cause ?? (err as Error).message}`)
  }
  const text = await response.text()
  let answer: Record<string, unknown> = {}
  try {
    answer = JSON.parse(text) as Record<string, unknown>
  } catch {
    // a proxy's HTML error page: the status says enough
  }
  if (!response.ok) {
    const reason = typeof answer.error === 'string' ? answer.error : text.slice(0, 200).replace(/\s+/g, ' ')
    throw new Error(`the console answered ${response.status}: ${reason}`)
  }
  await writeIdentity(opts.identityFile, { agent_id: agentId, hostname })
  const changes = Array.isArray(answer.changes) ? answer.changes.length : 0
  const warning = typeof answer.warning === 'string' ? ` (warning: ${answer.warning})` : ''
  const failed = collection.errors.length ? `, ${collection.errors.length} collector error(s)` : ''
  return `reported ${hostname} as asset ${String(answer.asset_id)}: ${String(answer.result)}, ${changes} change(s)${failed}${warning}`
}
