import { spawn, type ChildProcess } from 'node:child_process'
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { loadSecret } from '../credentials/service.ts'
import { createServersRepository, type SshServer } from '../servers/repository.ts'
import { connect } from '../ssh/runner.ts'
import { carryForward, factsFromAnsible } from './ansible-facts.ts'
import { createRunBook, type CollectorOptions, type CollectRun, type HostProgress, type HostStatus } from './collect-runs.ts'

/** Debian's ansible, found on PATH like a shell would. */
export const ANSIBLE = 'ansible'
/** Debian's Python on the targets: naming it spares a discovery round trip per host. */
export const TARGET_PYTHON = '/usr/bin/python3'

/**
 * Ansible runs are numbered apart from SSH runs: both publish on the same
 * topic, and the /assets page swaps its table when the run id changes.
 */
const FIRST_RUN_ID = 100_001
/** After SIGTERM, how long ansible and its forks get before SIGKILL. */
const KILL_GRACE_MS = 3000

/** The ansible executable on PATH, or null when it is not installed. */
export function findAnsible(env: NodeJS.ProcessEnv = process.env): string | null {
  for (const dir of (env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const file = path.join(dir, ANSIBLE)
    try {
      accessSync(file, constants.X_OK)
      return file
    } catch {
      // not in this one
    }
  }
  return null
}

interface Options extends CollectorOptions {
  /** Where ansible is; found on PATH by default (tests point it elsewhere). */
  ansiblePath?: () => string | null
}

/** One inventory host: how ansible reaches the server and which server it is. */
interface Prepared {
  server: SshServer
  progress: HostProgress
  keyFile: string
}

/** `host | SUCCESS => {...}`, `host | FAILED! => {...}`, `host | UNREACHABLE!: msg`: the oneline callback (-o), one line per host as it ends. */
const RESULT = /^(s\d+) \| (SUCCESS|CHANGED|FAILED!|UNREACHABLE!)(?: => |: )(.*)$/

function knownHostsLine(s: SshServer): string {
  const at = s.port === 22 ? s.address : `[${s.address}]:${s.port}`
  return `${at} ${(s.host_key as string).trim()}\n`
}

/** The reason in a FAILED! result: module_stderr (a Python missing), msg, or the exception's last line. */
function failureOf(json: string): string {
  try {
    const r = JSON.parse(json) as { msg?: unknown; module_stderr?: unknown; exception?: unknown }
    const parts = [r.msg, r.module_stderr].filter((p): p is string => typeof p === 'string' && p.trim() !== '').map((p) => p.trim())
    return (parts.join(': ') || String(r.exception ?? 'failed')).slice(0, 1000)
  } catch {
    return json.slice(0, 1000)
  }
}

/**
 * The console's Ansible mode: the same facts as SSH mode through Debian's
 * `ansible all -m setup`, for teams that run Ansible already. Each run
 * writes an inventory into a temp dir of its own (0700): one host per
 * server with its address, port and user, its key credential in a 0600
 * file, and a known_hosts from the servers' pinned host keys, checked
 * strictly. A server with no pinned key gets one the way SSH mode pins it:
 * a first SSH connection trusts and stores it (ansible never does). The
 * dir goes whatever happens, keys with it.
 *
 * Results come back one line per host as each ends (the oneline callback),
 * so progress is live like SSH mode's; each host is stored through the
 * same service with mode 'ansible', its run has SSH mode's shape, and
 * events go to the same topic.
 */
export function createAnsibleCollector(opts: Options) {
  const servers = createServersRepository(opts.knex)
  const locate = opts.ansiblePath ?? (() => findAnsible())
  const book = createRunBook({ knex: opts.knex, hub: opts.hub, firstId: FIRST_RUN_ID, what: 'an Ansible collection run', onError: opts.onError, runIds: opts.runIds })
  const { publish } = book
  const children = new Set<ChildProcess>()
  let stopping = false

  async function finish(run: CollectRun, progress: HostProgress, status: HostStatus, message: string | null, started: number): Promise<void> {
    progress.status = status
    progress.message = message
    progress.ms = Date.now() - started
    run.done++
    if (status === 'failed' || status === 'refused') run.failed++
    publish(run, progress)
  }

  async function hostFailed(run: CollectRun, progress: HostProgress, message: string, started: number, stack: string | null = null): Promise<void> {
    try {
      const asset = await opts.service.repo.findByServerId(progress.serverId)
      await opts.service.hostFailed('ansible', progress.hostname, asset?.id ?? null, message, stack)
    } catch (err) {
      opts.onError?.(err, `storing the failure of ${progress.hostname} failed`)
    }
    await finish(run, progress, 'failed', message, started)
  }

  /** Its key in a 0600 file and a pinned host key (pinned now over SSH when there was none); throws why the host cannot be in the inventory. */
  async function prepare(server: SshServer, dir: string): Promise<string> {
    if (server.credential_id === null) throw new Error(`${server.hostname} has no credential: pick one on its edit page`)
    const secret = await loadSecret(opts.knex, opts.secretKey, server.credential_id)
    if (!secret) throw new Error(`${server.hostname}: its credential no longer exists`)
    // ansible would need sshpass for passwords and a prompt for a passphrase; the console has neither
    if (secret.kind !== 'key') throw new Error(`${server.hostname}: Ansible mode needs a key credential (this one is a password); collect it over SSH`)
    if (secret.passphrase) throw new Error(`${server.hostname}: Ansible mode cannot use a key with a passphrase; collect it over SSH`)
    if (!server.host_key) {
      const conn = await connect({ host: server.address, port: server.port, username: server.username, hostKey: null }, secret, {
        readyTimeoutMs: Math.min(opts.connectTimeoutMs, opts.config.timeoutMs),
      })
      try {
        await servers.pinHostKey(server.id, conn.hostKey.openssh, conn.hostKey.fingerprint)
        server.host_key = conn.hostKey.openssh
      } finally {
        conn.close()
      }
    }
    const keyFile = path.join(dir, `key-${server.id}`)
    // ssh refuses a private key others can read
    writeFileSync(keyFile, secret.privateKey.endsWith('\n') ? secret.privateKey : `${secret.privateKey}\n`, { mode: 0o600 })
    return keyFile
  }

  function writeInventory(dir: string, hosts: Prepared[]): string {
    const knownHosts = path.join(dir, 'known_hosts')
    writeFileSync(knownHosts, hosts.map((h) => knownHostsLine(h.server)).join(''), { mode: 0o600 })
    const inventory: Record<string, unknown> = {
      all: {
        vars: { ansible_python_interpreter: TARGET_PYTHON },
        hosts: Object.fromEntries(
          hosts.map((h) => [
            `s${h.server.id}`,
            { ansible_host: h.server.address, ansible_port: h.server.port, ansible_user: h.server.username, ansible_ssh_private_key_file: h.keyFile },
          ]),
        ),
      },
    }
    // JSON is YAML: ansible's yaml inventory plugin reads it, and no value needs quoting by hand
    const file = path.join(dir, 'inventory.json')
    writeFileSync(file, JSON.stringify(inventory))
    // -F /dev/null: the console's user's ~/.ssh/config is not the console's settings (SSH mode ignores it too);
    // no ControlPersist: a master outliving the run would outlive the temp dir and app close too
    const sshArgs = ['-F', '/dev/null', '-o', 'ControlMaster=no', '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile="${knownHosts}"`]
    writeFileSync(
      path.join(dir, 'ansible.cfg'),
      [
        '[defaults]',
        'host_key_checking = True',
        'retry_files_enabled = False',
        'deprecation_warnings = False',
        'interpreter_python = ' + TARGET_PYTHON,
        '',
        '[ssh_connection]',
        // one ssh exec per host: the module goes through stdin, no remote temp dir
        'pipelining = True',
        `ssh_args = ${sshArgs.join(' ')}`,
        '',
      ].join('\n'),
    )
    return file
  }

  /** Runs `ansible all -m setup` and hands each host's result line to onResult as it comes; resolves with ansible's exit and stderr's tail. */
  function runAnsible(bin: string, dir: string, inventory: string, hostCount: number, onResult: (name: string, kind: string, rest: string) => void): Promise<{ code: number | null; signal: string | null; stderr: string }> {
    const forks = Math.min(opts.config.concurrency, hostCount)
    const connectS = Math.max(1, Math.ceil(Math.min(opts.connectTimeoutMs, opts.config.timeoutMs) / 1000))
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ANSIBLE_CONFIG: path.join(dir, 'ansible.cfg'),
      // the controller's state (collections cache, local temp) stays in the run's dir
      ANSIBLE_HOME: path.join(dir, 'home'),
      ANSIBLE_LOCAL_TEMP: path.join(dir, 'tmp'),
      ANSIBLE_SSH_CONTROL_PATH_DIR: path.join(dir, 'cp'),
      ANSIBLE_TASK_TIMEOUT: String(Math.ceil(opts.config.timeoutMs / 1000)),
      ANSIBLE_NOCOLOR: '1',
      ANSIBLE_FORCE_COLOR: '0',
    }
    return new Promise((resolve, reject) => {
      // a process group of its own, so its forks and their ssh clients are stopped with it
      const child = spawn(bin, ['all', '-i', inventory, '-m', 'setup', '-f', String(forks), '-T', String(connectS), '-o'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
      children.add(child)
      let stderr = ''
      child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString('utf8')).slice(-4000)))
      createInterface({ input: child.stdout }).on('line', (line) => {
        const m = RESULT.exec(line)
        if (m) onResult(m[1] as string, m[2] as string, m[3] as string)
      })
      // no host may take longer than COLLECT_TIMEOUT_S, and forks take them in waves
      const waves = Math.ceil(hostCount / forks)
      const deadline = setTimeout(() => killGroup(child), waves * (opts.config.timeoutMs + connectS * 1000) + 30_000)
      child.once('error', (err) => {
        clearTimeout(deadline)
        children.delete(child)
        reject(err)
      })
      child.once('close', (code, signal) => {
        clearTimeout(deadline)
        children.delete(child)
        resolve({ code, signal, stderr })
      })
    })
  }

  async function execute(run: CollectRun, list: SshServer[]): Promise<void> {
    const started = Date.now()
    const byServer = new Map(run.hosts.map((h) => [h.serverId, h]))
    const dir = mkdtempSync(path.join(tmpdir(), 'longship-ansible-'))
    try {
      const bin = locate()
      const prepared: Prepared[] = []
      // keys and first-use pinning, as many at once as a collection would
      const queue = [...list]
      const worker = async () => {
        for (let server = queue.shift(); server && !stopping; server = queue.shift()) {
          const progress = byServer.get(server.id) as HostProgress
          if (!bin) {
            await hostFailed(run, progress, `ansible is not installed on the console's machine (apt-get install ansible)`, started)
            continue
          }
          try {
            prepared.push({ server, progress, keyFile: await prepare(server, dir) })
          } catch (err) {
            await hostFailed(run, progress, err instanceof Error ? err.message : String(err), started, null)
          }
        }
      }
      await Promise.all(Array.from({ length: Math.min(opts.config.concurrency, list.length) }, worker))
      if (!prepared.length || !bin || stopping) return

      const inventory = writeInventory(dir, prepared)
      for (const h of prepared) {
        h.progress.status = 'running'
        publish(run, h.progress)
      }
      run.maxActive = Math.min(opts.config.concurrency, prepared.length)
      const byName = new Map(prepared.map((h) => [`s${h.server.id}`, h]))
      // results are stored one after another, in the order ansible printed them
      let storing: Promise<void> = Promise.resolve()
      const seen = new Set<string>()
      const onResult = (name: string, kind: string, rest: string) => {
        const host = byName.get(name)
        if (!host || seen.has(name)) return
        seen.add(name)
        storing = storing
          .then(() => storeResult(run, host, kind, rest, started))
          .catch(async (err) => {
            // storing failed (the database is gone): the host is failed, the run goes on, the log has it
            opts.onError?.(err, `storing ${host.server.hostname} failed`)
            if (host.progress.status === 'running') await finish(run, host.progress, 'failed', err instanceof Error ? err.message : String(err), started)
          })
      }
      const exit = await runAnsible(bin, dir, inventory, prepared.length, onResult)
      await storing
      const why = stopping ? 'the console is shutting down' : `ansible ended (${exit.signal ?? `exit ${exit.code}`}) without a result for it${exit.stderr.trim() ? `: ${exit.stderr.trim().slice(-500)}` : ''}`
      for (const h of prepared) if (h.progress.status === 'running') await hostFailed(run, h.progress, why, started)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }

  async function storeResult(run: CollectRun, host: Prepared, kind: string, rest: string, started: number): Promise<void> {
    const { progress, server } = host
    if (kind === 'UNREACHABLE!') return hostFailed(run, progress, `unreachable: ${rest.trim().slice(0, 1000)}`, started)
    if (kind === 'FAILED!') return hostFailed(run, progress, `ansible setup failed: ${failureOf(rest)}`, started)
    let ansibleFacts: unknown
    try {
      ansibleFacts = (JSON.parse(rest) as { ansible_facts?: unknown }).ansible_facts
    } catch (err) {
      return hostFailed(run, progress, `ansible printed a result that is not JSON: ${(err as Error).message}`, started)
    }
    const collection = factsFromAnsible(ansibleFacts, opts.config.collectors)
    const stored = await opts.service.repo.findByServerId(server.id)
    const outcome = await opts.service.store({
      mode: 'ansible',
      hostname: server.hostname,
      previousHostname: null,
      agentId: null,
      serverId: server.id,
      facts: carryForward(collection.facts, stored?.facts ?? null),
      errors: collection.errors,
    })
    progress.assetId = outcome.assetId
    if (outcome.kind === 'refused') return finish(run, progress, 'refused', outcome.error, started)
    const message = outcome.warning ?? (outcome.changes.length ? outcome.changes.map((c) => c.summary).join('; ').slice(0, 500) : null)
    return finish(run, progress, outcome.kind, message, started)
  }

  function killGroup(child: ChildProcess): void {
    const signal = (sig: NodeJS.Signals) => {
      try {
        process.kill(-(child.pid as number), sig)
      } catch {
        // already gone
      }
    }
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
    signal('SIGTERM')
    setTimeout(() => signal('SIGKILL'), KILL_GRACE_MS).unref()
  }

  return {
    /** Whether "Collect all with Ansible" can work on this machine. */
    installed(): boolean {
      return locate() !== null
    },

    /** Starts collecting these servers (all when ids is null) through ansible and returns the run at once. */
    start: (ids: number[] | null, startedBy: string): Promise<CollectRun> => book.start(ids, startedBy, execute),
    settled: book.settled,
    find: book.find,
    latest: book.latest,

    /** On close: ansible and its forks are stopped, the runs awaited (their temp dirs removed). */
    async stop(): Promise<void> {
      stopping = true
      for (const child of children) killGroup(child)
      await book.drain()
    },
  }
}

export type AnsibleCollector = ReturnType<typeof createAnsibleCollector>
