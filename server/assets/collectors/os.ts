import { readValue, tryRun, type Collector } from './collector.ts'
import type { CollectTarget } from '../target.ts'

export interface OsFacts {
  /** os-release NAME ("Debian GNU/Linux"). */
  name: string | null
  /** os-release ID ("debian", "centos", "alpine"). */
  id: string | null
  versionId: string | null
  prettyName: string | null
  kernel: string | null
  /** uname -m: x86_64, aarch64 … */
  arch: string | null
  hostname: string | null
  uptimeSeconds: number | null
  /**
   * What the machine runs inside, as systemd-detect-virt names it: "none"
   * (bare metal), "kvm", "vmware", "xen", "docker", "podman", "lxc" … or
   * "vm" when only the CPU's hypervisor flag tells; null when unknown. A
   * container on a VM reports the container, as systemd does.
   */
  virtualization: string | null
}

const OS_RELEASE = ['/etc/os-release', '/usr/lib/os-release']
// container managers leave these behind: /run/systemd/container holds the manager's name
const CONTAINER_MARKERS: [path: string, name: string][] = [
  ['/.dockerenv', 'docker'],
  ['/run/.containerenv', 'podman'],
]
const DETECT_VIRT = 'systemd-detect-virt 2>/dev/null || true'

/** os-release's shell-like KEY=value lines: quotes removed, backslash escapes undone. */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Z0-9_]+)=(.*)$/.exec(line)
    if (!m) continue
    let value = (m[2] as string).trim()
    const quote = value[0]
    if ((quote === '"' || quote === "'") && value.endsWith(quote) && value.length >= 2) {
      value = value.slice(1, -1)
      if (quote === '"') value = value.replace(/\\(["\\$`])/g, '$1')
    }
    out[m[1] as string] = value
  }
  return out
}

async function virtualization(target: CollectTarget): Promise<string | null> {
  // systemd-detect-virt exits 1 with "none" on bare metal, hence the "|| true"; missing, it prints nothing
  const detected = (await tryRun(target, DETECT_VIRT))?.trim()
  if (detected) return detected
  const systemdContainer = await readValue(target, '/run/systemd/container')
  if (systemdContainer) return systemdContainer
  for (const [path, name] of CONTAINER_MARKERS) {
    if ((await target.readFile(path)) !== null) return name
  }
  const hypervisor = await readValue(target, '/sys/hypervisor/type')
  if (hypervisor) return hypervisor
  const cpuinfo = await target.readFile('/proc/cpuinfo')
  const flags = cpuinfo ? /^flags\s*:(.*)$/m.exec(cpuinfo)?.[1] : undefined
  // only x86 has the flag line: without it (ARM) nothing can be said
  if (flags === undefined) return null
  return flags.split(/\s+/).includes('hypervisor') ? 'vm' : 'none'
}

export const osCollector: Collector<OsFacts> = {
  name: 'os',
  needs: {
    files: [
      ...OS_RELEASE,
      '/proc/uptime',
      '/proc/sys/kernel/hostname',
      '/proc/sys/kernel/osrelease',
      '/run/systemd/container',
      '/sys/hypervisor/type',
      '/proc/cpuinfo',
      ...CONTAINER_MARKERS.map(([path]) => path),
    ],
    commands: [{ command: 'uname -nrm' }, { command: DETECT_VIRT }],
  },

  async collect(target) {
    let release: string | null = null
    for (const path of OS_RELEASE) {
      release = await target.readFile(path)
      if (release !== null) break
    }
    const fields = release === null ? {} : parseOsRelease(release)
    // uname -nrm prints "nodename release machine" in that fixed order, none of them holding spaces
    const [node, kernel, arch] = (await tryRun(target, 'uname -nrm'))?.trim().split(/\s+/) ?? []
    const hostname = node ?? (await readValue(target, '/proc/sys/kernel/hostname'))
    const kernelRelease = kernel ?? (await readValue(target, '/proc/sys/kernel/osrelease'))
    if (release === null && !kernelRelease) throw new Error('neither /etc/os-release nor uname could be read')
    const uptime = Number((await readValue(target, '/proc/uptime'))?.split(/\s+/)[0])
    return {
      name: fields.NAME ?? null,
      id: fields.ID ?? null,
      versionId: fields.VERSION_ID ?? null,
      prettyName: fields.PRETTY_NAME ?? null,
      kernel: kernelRelease,
      arch: arch ?? null,
      hostname,
      uptimeSeconds: Number.isFinite(uptime) ? Math.floor(uptime) : null,
      virtualization: await virtualization(target),
    }
  },
}
