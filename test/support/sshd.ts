import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir, userInfo } from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import type { TestContext } from 'node:test'
import { promisify } from 'node:util'

/**
 * Real OpenSSH servers on loopback for the SSH tests: Debian's sshd, run as
 * the current user with its own config, host key, authorized_keys and a
 * "remote root" directory, all in a temp dir removed when the test ends.
 */

export const SSHD = '/usr/sbin/sshd'
const run = promisify(execFile)
const START_TIMEOUT_MS = 10_000
const LOG_LINES = 200

export type UserKeyType = 'ed25519' | 'rsa'

export interface SshdOptions {
  /** Let sshd accept passwords. The user's real password applies: root's is locked ("*") here, see ssh tests. */
  passwordAuthentication?: boolean
  /** Type of the user key pair generated for this host; default ed25519. */
  keyType?: UserKeyType
  /** Encrypt the generated user key with this passphrase. */
  passphrase?: string
}

export interface SshHost {
  host: '127.0.0.1'
  port: number
  username: string
  /** The authorized user key, OpenSSH PEM ("-----BEGIN OPENSSH PRIVATE KEY-----"). */
  privateKey: string
  publicKey: string
  /** "SHA256:…" of the current host key, as ssh-keygen -lf prints it. */
  hostKeyFingerprint: string
  /** "ssh-ed25519 AAAA…" of the current host key (what the console pins). */
  hostPublicKey: string
  /** The temp dir holding config, keys, pid file and remoteRoot. */
  dir: string
  /** A directory of this host's own, to use as deploy path. */
  remoteRoot: string
  /** sshd's recent stderr lines, for failure messages. */
  log(): string
  stop(): Promise<void>
  /** Stops sshd, replaces its host key and starts it again on the same port. */
  restartWithNewHostKey(): Promise<void>
}

/**
 * Why the SSH tests are skipped, or false to run them. Under CI=true a
 * missing sshd never skips: startSshd throws, so the run fails loudly.
 */
export function sshdSkipReason(): string | false {
  if (existsSync(SSHD) || process.env.CI === 'true') return false
  return `${SSHD} is missing: apt-get install openssh-server (npm test does it as root)`
}

// last resort for a test process that dies without running its after hooks
const running = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

async function keygen(type: UserKeyType, file: string, passphrase = ''): Promise<{ privateKey: string; publicKey: string; fingerprint: string }> {
  const size = type === 'rsa' ? ['-b', '2048'] : []
  await run('ssh-keygen', ['-q', '-t', type, ...size, '-N', passphrase, '-C', 'longship-test', '-f', file])
  const { stdout } = await run('ssh-keygen', ['-l', '-f', `${file}.pub`])
  const fingerprint = /SHA256:[A-Za-z0-9+/]+/.exec(stdout)?.[0]
  if (!fingerprint) throw new Error(`ssh-keygen printed no fingerprint: ${stdout}`)
  return { privateKey: readFileSync(file, 'utf8'), publicKey: readFileSync(`${file}.pub`, 'utf8').trim(), fingerprint }
}

function sshdConfig(dir: string, port: number, opts: SshdOptions): string {
  const password = opts.passwordAuthentication ? 'yes' : 'no'
  return [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey "${path.join(dir, 'host_key')}"`,
    'HostKeyAlgorithms ssh-ed25519',
    `PidFile "${path.join(dir, 'sshd.pid')}"`,
    `AuthorizedKeysFile "${path.join(dir, 'authorized_keys')}"`,
    'PubkeyAuthentication yes',
    `PasswordAuthentication ${password}`,
    'KbdInteractiveAuthentication no',
    `PermitRootLogin ${opts.passwordAuthentication ? 'yes' : 'prohibit-password'}`,
    // the temp dir belongs to whoever runs the tests; PAM would read system accounts and sessions
    'StrictModes no',
    'UsePAM no',
    'UseDNS no',
    // many hosts and parallel connections from one test process must never be throttled
    'MaxStartups 100:30:200',
    'MaxSessions 50',
    'MaxAuthTries 10',
    'Subsystem sftp internal-sftp',
    'PrintMotd no',
    'PrintLastLog no',
    'X11Forwarding no',
    // a HOME of its own: bash sources ~/.bashrc for every command sshd starts, and the
    // machine's (root's runs pyenv init here) would add 0.5 s or more to each one
    `SetEnv HOME=${path.join(dir, 'home')}`,
    'LogLevel INFO',
    '',
  ].join('\n')
}

/** A TCP port free on 127.0.0.1 right now (for a server a test starts next). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}

/** Resolves once the port answers with an SSH banner. */
function awaitBanner(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.setTimeout(START_TIMEOUT_MS, () => socket.destroy(new Error(`no SSH banner on port ${port}`)))
    socket.once('data', (data) => {
      socket.destroy()
      if (data.toString('latin1').startsWith('SSH-2.0-')) resolve()
      else reject(new Error(`port ${port} answered something else than SSH: ${data.toString('latin1').slice(0, 80)}`))
    })
    socket.once('error', reject)
  })
}

/** Every process below pid (sshd's per-connection children, the sessions' shells and commands). */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    let stat: string
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
    } catch {
      continue // exited while we looked
    }
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so read after the last ")"
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)])
  }
  const found: number[] = []
  for (let queue = [root]; queue.length; ) {
    const next = children.get(queue.shift() as number) ?? []
    found.push(...next)
    queue.push(...next)
  }
  return found
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig)
  } catch {
    // already gone
  }
}

/** True while pid exists and is not a zombie (an exited process its parent has not reaped yet). */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return false
  }
}

/**
 * Ends sshd and everything below it. sshd's connection children and their
 * sessions call setsid, so neither a process-group kill nor SIGTERM to the
 * listener reaches them; the tree is frozen with SIGSTOP (nothing can fork
 * while we collect it) and then killed at once.
 */
async function killTree(child: ChildProcess): Promise<void> {
  const pid = child.pid
  if (pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  const frozen = new Set<number>()
  for (let round = 0; round < 50; round++) {
    const fresh = [pid, ...descendants(pid)].filter((p) => !frozen.has(p))
    if (!fresh.length) break
    for (const p of fresh) {
      signal(p, 'SIGSTOP')
      frozen.add(p)
    }
  }
  for (const p of frozen) signal(p, 'SIGKILL')
  await exited
  running.delete(child)
}

/** Starts sshd and resolves once it logged "Server listening"; rejects with its log when it exits instead. */
function launch(dir: string, log: string[]): Promise<ChildProcess> {
  const child = spawn(SSHD, ['-D', '-e', '-f', path.join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] })
  running.add(child)
  return new Promise((resolve, reject) => {
    const fail = (err: Error) => {
      clearTimeout(timer)
      void killTree(child).then(() => reject(err))
    }
    const timer = setTimeout(() => fail(new Error(`sshd did not start within ${START_TIMEOUT_MS} ms:\n${log.join('\n')}`)), START_TIMEOUT_MS)
    createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (line) => {
      log.push(line)
      if (log.length > LOG_LINES) log.shift()
      if (/Server listening on/.test(line)) {
        clearTimeout(timer)
        resolve(child)
      }
    })
    child.once('error', fail)
    child.once('exit', (code, sig) => {
      running.delete(child)
      fail(new Error(`sshd exited (${code ?? sig}) before listening:\n${log.join('\n')}`))
    })
  })
}

/**
 * Where startSshd registers its cleanup: a test's TestContext, or anything
 * else with an `after` that runs the function at the end (the deploy bench
 * starts its sshds outside node:test and stops them itself).
 */
export interface CleanupRegistrar {
  after(fn: () => Promise<void>): void
}

/** A loopback sshd of the test's own, stopped (with every process it spawned) when the test ends. */
export async function startSshd(t: TestContext | CleanupRegistrar, opts: SshdOptions = {}): Promise<SshHost> {
  if (!existsSync(SSHD)) throw new Error(`${SSHD} is missing: install Debian's openssh-server (npm test does it when run as root)`)
  // sshd run by root checks for its privilege separation directory; systemd or the init script normally make it
  if (process.getuid?.() === 0) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 })
  const dir = mkdtempSync(path.join(tmpdir(), 'longship-sshd-'))
  const remoteRoot = path.join(dir, 'remote')
  mkdirSync(remoteRoot)
  mkdirSync(path.join(dir, 'home'))
  let child: ChildProcess | null = null
  t.after(async () => {
    if (child) await killTree(child)
    rmSync(dir, { recursive: true, force: true })
  })

  const hostKeyFile = path.join(dir, 'host_key')
  const [user, hostKey] = await Promise.all([keygen(opts.keyType ?? 'ed25519', path.join(dir, 'user_key'), opts.passphrase), keygen('ed25519', hostKeyFile)])
  writeFileSync(path.join(dir, 'authorized_keys'), user.publicKey + '\n', { mode: 0o600 })
  const log: string[] = []

  const listen = async (port: number) => {
    writeFileSync(path.join(dir, 'sshd_config'), sshdConfig(dir, port, opts))
    child = await launch(dir, log)
    await awaitBanner(port)
  }
  let port = 0
  for (let attempt = 1; ; attempt++) {
    port = await freePort()
    try {
      await listen(port)
      break
    } catch (err) {
      // another process took the port between our probe and sshd's bind
      if (attempt >= 5 || !/Address already in use/.test(String(err))) throw err
    }
  }

  const host: SshHost = {
    host: '127.0.0.1',
    port,
    username: userInfo().username,
    privateKey: user.privateKey,
    publicKey: user.publicKey,
    hostKeyFingerprint: hostKey.fingerprint,
    hostPublicKey: hostKey.publicKey,
    dir,
    remoteRoot,
    log: () => log.join('\n'),
    async stop() {
      if (child) await killTree(child)
    },
    async restartWithNewHostKey() {
      await host.stop()
      rmSync(hostKeyFile, { force: true })
      rmSync(`${hostKeyFile}.pub`, { force: true })
      const fresh = await keygen('ed25519', hostKeyFile)
      await listen(port)
      host.hostKeyFingerprint = fresh.fingerprint
      host.hostPublicKey = fresh.publicKey
    },
  }
  return host
}

/** n sshds started in parallel (each with its own port, keys and remote root). */
export function startSshds(t: TestContext | CleanupRegistrar, n: number, opts: SshdOptions = {}): Promise<SshHost[]> {
  return Promise.all(Array.from({ length: n }, () => startSshd(t, opts)))
}
