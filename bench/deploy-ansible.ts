/**
 * The Ansible half of bench/deploy.ts: Debian's ansible-playbook doing per
 * host what a release does (a releases/<id> directory, the artifact copied
 * from the controller and unpacked, REVISION, the current symlink), on the
 * same loopback hosts, forks = hosts.
 *
 * Fair-comparison choices (each the one most favourable to Ansible that a
 * real playbook would also make, or Ansible's default):
 * - host keys checked against a known_hosts file generated from the hosts'
 *   keys (the console checks them too: it pins each host's key);
 * - no fact gathering and the Python interpreter named (no discovery run),
 *   since nothing in the playbook needs facts;
 * - ssh_args left at Ansible's default (`-C -o ControlMaster=auto -o
 *   ControlPersist=60s`): one connection per host reused by every task, and
 *   by the next round when it starts within 60 s;
 * - pipelining as asked (BENCH_ANSIBLE_PIPELINING); the bench can run both;
 * - the deploy path given per host as an absolute path (each host's HOME +
 *   app-ansible), as an inventory would name /srv/app.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { writeInventory } from './ansible-inventory.ts'
import { sleep, track } from './poll-targets.ts'
import { stopControlMasters, type Cleanup, type Host } from './deploy-hosts.ts'

export const ANSIBLE_DEPLOY_DIR = 'app-ansible'

const PLAYBOOK = `# What bench/deploy.ts times against the console: one release per host.
- name: ship the artifact
  hosts: all
  gather_facts: false
  tasks:
    - name: release directory
      ansible.builtin.file:
        path: "{{ deploy_path }}/releases/{{ release_id }}"
        state: directory
        mode: "0755"

    - name: unpack the artifact (copied from the controller)
      ansible.builtin.unarchive:
        src: "{{ artifact }}"
        dest: "{{ deploy_path }}/releases/{{ release_id }}"

    - name: REVISION
      ansible.builtin.copy:
        content: "{{ commit }}\\n"
        dest: "{{ deploy_path }}/releases/{{ release_id }}/REVISION"
        mode: "0644"

    # the file module replaces an existing link through a temporary link and a
    # rename, so current never points nowhere
    - name: current
      ansible.builtin.file:
        src: "releases/{{ release_id }}"
        dest: "{{ deploy_path }}/current"
        state: link
        force: true
`

export interface AnsibleRun {
  wallMs: number
  /** Per task: first host's start to last host's end, from the json callback. */
  tasks: Array<{ name: string; ms: number }>
}

export class AnsibleSide {
  private readonly inventory: string
  private readonly playbook: string
  private readonly cfg: string
  private child: ChildProcess | null = null

  constructor(
    cleanup: Cleanup,
    private readonly dir: string,
    private readonly hosts: Host[],
  ) {
    cleanup.after(() => this.kill())
    cleanup.after(() => stopControlMasters(path.join(dir, 'cp')))
    // absolute: unarchive expands "~" as "~user", the passwd home, not the session's
    // HOME (the file module would use HOME), and pays an extra command per host for it
    this.inventory = writeInventory(dir, hosts, (h) => [`      deploy_path: ${path.join(h.home, ANSIBLE_DEPLOY_DIR)}`])
    this.playbook = path.join(dir, 'deploy.yml')
    writeFileSync(this.playbook, PLAYBOOK)
    this.cfg = path.join(dir, 'ansible.cfg')
    writeFileSync(
      this.cfg,
      ['[defaults]', `forks = ${hosts.length}`, 'host_key_checking = True', 'retry_files_enabled = False', 'stdout_callback = ansible.posix.json', ''].join('\n'),
    )
  }

  /** One ansible-playbook run; resolves with its wall time, rejects with its output when a host failed. */
  run(opts: { releaseId: string; artifact: string; commit: string; pipelining: boolean }): Promise<AnsibleRun> {
    const vars = path.join(this.dir, 'vars.json')
    writeFileSync(vars, JSON.stringify({ release_id: opts.releaseId, artifact: opts.artifact, commit: opts.commit }))
    const env = {
      ...process.env,
      ANSIBLE_CONFIG: this.cfg,
      // the controller's own state (control sockets, temp files) stays in the bench's temp dir
      ANSIBLE_HOME: path.join(this.dir, 'home'),
      ANSIBLE_LOCAL_TEMP: path.join(this.dir, 'tmp'),
      ANSIBLE_SSH_CONTROL_PATH_DIR: path.join(this.dir, 'cp'),
      ANSIBLE_PIPELINING: opts.pipelining ? 'True' : 'False',
      ANSIBLE_NOCOLOR: '1',
    }
    return new Promise((resolve, reject) => {
      const started = performance.now()
      // a process group of its own: its forks are stopped with it on Ctrl-C or an error
      const child = spawn('ansible-playbook', ['-i', this.inventory, '-f', String(this.hosts.length), '-e', `@${vars}`, this.playbook], {
        cwd: this.dir,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      })
      track(child)
      this.child = child
      child.once('exit', () => {
        if (this.child === child) this.child = null
      })
      let out = ''
      let err = ''
      child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')))
      child.stderr.on('data', (c: Buffer) => (err += c.toString('utf8')))
      child.on('error', reject)
      child.on('exit', (code, signal) => {
        const wallMs = performance.now() - started
        if (code !== 0) return reject(new Error(`ansible-playbook exited ${code ?? signal}: ${summarizeFailure(out) || err.slice(-2000) || out.slice(-2000)}`))
        resolve({ wallMs, tasks: taskTimes(out) })
      })
    })
  }

  /** Stops a playbook still running (Ctrl-C, an error elsewhere): TERM to its group, KILL after 5 s. */
  async kill(): Promise<void> {
    const child = this.child
    if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    const group = (sig: NodeJS.Signals) => {
      try {
        process.kill(-(child.pid as number), sig)
      } catch {
        // already gone
      }
    }
    group('SIGTERM')
    if ((await Promise.race([exited.then(() => 'ok'), sleep(5000).then(() => 'late')])) === 'late') {
      group('SIGKILL')
      await exited
    }
  }
}

interface JsonCallback {
  plays?: Array<{ tasks?: Array<{ task: { name: string; duration?: { start: string; end: string } }; hosts: Record<string, { failed?: boolean; unreachable?: boolean; msg?: string }> }> }>
}

function parse(out: string): JsonCallback | null {
  // warnings may come before the JSON document
  const at = out.indexOf('{')
  if (at < 0) return null
  try {
    return JSON.parse(out.slice(at)) as JsonCallback
  } catch {
    return null
  }
}

function taskTimes(out: string): AnsibleRun['tasks'] {
  const doc = parse(out)
  const tasks: AnsibleRun['tasks'] = []
  for (const play of doc?.plays ?? []) {
    for (const t of play.tasks ?? []) {
      const d = t.task.duration
      if (d) tasks.push({ name: t.task.name, ms: Date.parse(d.end) - Date.parse(d.start) })
    }
  }
  return tasks
}

function summarizeFailure(out: string): string {
  const doc = parse(out)
  const failures: string[] = []
  for (const play of doc?.plays ?? []) {
    for (const t of play.tasks ?? []) {
      for (const [host, r] of Object.entries(t.hosts)) {
        if (r.failed || r.unreachable) failures.push(`${host} at "${t.task.name}": ${String(r.msg ?? '').slice(0, 300)}`)
      }
    }
  }
  return failures.slice(0, 5).join('\n') + (failures.length > 5 ? `\n... ${failures.length - 5} more` : '')
}
