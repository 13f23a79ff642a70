import { hashMachineId } from './collectors/board.ts'
import type { BoardFacts, CollectError, CollectorName, CpuFacts, Disk, Facts, MemoryFacts, Nic, OsFacts } from './collectors/index.ts'

/**
 * Ansible's `setup` facts in the shape our own collectors report, so an
 * asset collected over SSH, by the agent or through Ansible compares field
 * by field and identity sees the same machine-id hash.
 *
 * What `setup` does not tell is null here, never guessed: os-release's NAME
 * (Ansible has its own distribution names), memory modules (it runs no
 * dmidecode -t 17), and disk serials of virtio disks. carryForward()
 * keeps those from the stored asset so that switching a host between modes
 * does not fill its history with "serial no longer reported".
 */

type Obj = Record<string, unknown>

const text = (v: unknown): string | null => {
  if (typeof v !== 'string') return null
  const s = v.trim()
  // setup writes "NA" for every DMI value it could not read (not root, no SMBIOS)
  return s && s !== 'NA' ? s : null
}
const int = (v: unknown): number | null => {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : NaN
  return Number.isSafeInteger(n) ? n : null
}
const obj = (v: unknown): Obj | null => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : null)

// ansible's names where os-release's ID differs from ansible_distribution lowercased
const OS_IDS: Record<string, string> = { redhat: 'rhel', 'red hat enterprise linux': 'rhel', opensuse: 'opensuse-leap', 'opensuse leap': 'opensuse-leap', sles: 'sles', amazon: 'amzn' }
// ansible_virtualization_type → systemd-detect-virt's name, where they differ
const VIRT_NAMES: Record<string, string> = { virtualbox: 'oracle', VirtualBox: 'oracle', VMware: 'vmware', RHEV: 'kvm', openstack: 'kvm' }

function os(f: Obj): OsFacts {
  const distribution = text(f.ansible_distribution)
  const major = text(f.ansible_distribution_major_version)
  const version = text(f.ansible_distribution_version)
  const id = distribution ? (OS_IDS[distribution.toLowerCase()] ?? distribution.toLowerCase().replace(/\s+/g, '-')) : null
  // Debian's VERSION_ID is the major release ("12") where ansible says "12.11" from /etc/debian_version
  const versionId = id === 'debian' ? major : version
  const release = text(f.ansible_distribution_release)
  const lsb = text(obj(f.ansible_lsb)?.description)
  const role = text(f.ansible_virtualization_role)
  const type = text(f.ansible_virtualization_type)
  const uptime = int(f.ansible_uptime_seconds)
  return {
    name: null,
    id,
    versionId,
    // lsb_release -d prints os-release's PRETTY_NAME; without lsb_release, ansible's own words
    prettyName: lsb ?? (distribution ? [distribution, version, release && `(${release})`].filter(Boolean).join(' ') : null),
    kernel: text(f.ansible_kernel),
    arch: text(f.ansible_architecture),
    hostname: text(f.ansible_nodename),
    uptimeSeconds: uptime !== null && uptime >= 0 ? uptime : null,
    // a hypervisor host ("kvm", role host) is itself bare metal, as systemd-detect-virt says "none"
    virtualization: role === 'guest' && type ? (VIRT_NAMES[type] ?? type.toLowerCase()) : role === 'host' || type === null ? 'none' : null,
  }
}

function cpu(f: Obj): CpuFacts {
  const processor = Array.isArray(f.ansible_processor) ? f.ansible_processor.filter((p): p is string => typeof p === 'string') : []
  // x86 lists "index, vendor, model" per thread; ARM lists only indexes and a model per core
  const model = processor.find((p, i) => !/^\d+$/.test(p) && !/^(GenuineIntel|AuthenticAMD|HygonGenuine|CentaurHauls)$/.test(p) && i >= 1) ?? processor.find((p) => !/^\d+$/.test(p)) ?? null
  const sockets = int(f.ansible_processor_count) ?? 1
  const threads = int(f.ansible_processor_vcpus) ?? int(f.ansible_processor_nproc)
  if (threads === null) throw new Error('setup reported no ansible_processor_vcpus')
  const perSocket = int(f.ansible_processor_cores)
  return { model, sockets: sockets || 1, cores: perSocket ? perSocket * (sockets || 1) : threads, threads }
}

function memory(f: Obj): MemoryFacts {
  // MiB, rounded down: a little under what MemTotal says, well within the diff's 1% tolerance
  const mb = int(f.ansible_memtotal_mb) ?? int(obj(obj(f.ansible_memory_mb)?.real)?.total)
  if (mb === null) throw new Error('setup reported no ansible_memtotal_mb')
  return { totalBytes: mb * 1024 * 1024, modules: null }
}

// the disk collector's rule: loop files, RAM disks, optical and floppy drives, device-mapper and md are not disks a person installed
const NOT_A_DISK = /^(loop|ram|zram|sr|fd|dm-|md)\d/

function disks(f: Obj): Disk[] {
  const devices = obj(f.ansible_devices)
  if (!devices) throw new Error('setup reported no ansible_devices')
  const out: Disk[] = []
  for (const [name, raw] of Object.entries(devices)) {
    const d = obj(raw)
    if (!d || NOT_A_DISK.test(name)) continue
    // sectors are /sys/block/<disk>/size: 512-byte units whatever the sector size
    const sectors = int(d.sectors)
    if (!sectors) continue
    const rota = d.rotational === '1' ? true : d.rotational === '0' ? false : null
    out.push({ name, sizeBytes: sectors * 512, rotational: rota, model: text(d.model), serial: text(d.serial) })
  }
  return out.sort((a, b) => a.name.localeCompare(b.name))
}

function mac(v: unknown): string | null {
  const s = text(v)?.toLowerCase()
  return s && /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(s) && s !== '00:00:00:00:00:00' ? s : null
}

function prefixOf(entry: Obj): string | null {
  const address = text(entry.address)
  const prefix = text(entry.prefix)
  return address && prefix ? `${address}/${prefix}` : null
}

function nics(f: Obj): Nic[] {
  const names = Array.isArray(f.ansible_interfaces) ? f.ansible_interfaces.filter((n): n is string => typeof n === 'string') : null
  if (!names) throw new Error('setup reported no ansible_interfaces')
  const out: Nic[] = []
  for (const name of names) {
    // setup names the fact with "-" and ":" turned into "_"
    const n = obj(f[`ansible_${name.replace(/[-:]/g, '_')}`])
    if (!n || name === 'lo' || name.startsWith('veth') || n.type === 'loopback') continue
    const v4 = [obj(n.ipv4), ...(Array.isArray(n.ipv4_secondaries) ? n.ipv4_secondaries.map(obj) : [])].filter((e): e is Obj => e !== null)
    const v6 = (Array.isArray(n.ipv6) ? n.ipv6.map(obj) : []).filter((e): e is Obj => e !== null)
    const speed = int(n.speed)
    out.push({
      name: text(n.device) ?? name,
      mac: mac(n.macaddress),
      mtu: int(n.mtu),
      state: n.active === true ? 'up' : n.active === false ? 'down' : null,
      speedMbps: speed !== null && speed > 0 && speed < 10_000_000 ? speed : null,
      ipv4: v4.map(prefixOf).filter((a): a is string => a !== null),
      ipv6: v6.map(prefixOf).filter((a): a is string => a !== null),
    })
  }
  return out.sort((a, b) => a.name.localeCompare(b.name))
}

function board(f: Obj): BoardFacts {
  const machineId = text(f.ansible_machine_id)
  return {
    vendor: text(f.ansible_system_vendor),
    product: text(f.ansible_product_name),
    serial: text(f.ansible_product_serial),
    uuid: text(f.ansible_product_uuid)?.toLowerCase() ?? null,
    boardSerial: text(f.ansible_board_serial),
    machineIdHash: machineId ? hashMachineId(machineId) : null,
  }
}

const mappers: { [K in CollectorName]: (f: Obj) => NonNullable<Facts[K]> } = { os, cpu, memory, disk: disks, nic: nics, board }

/**
 * The chosen groups from one host's ansible_facts. A group whose facts are
 * missing or malformed is an error row under the collector's name, as a
 * failing collector would be; the others are kept.
 */
export function factsFromAnsible(ansibleFacts: unknown, names: readonly CollectorName[]): { facts: Facts; errors: CollectError[] } {
  const f = obj(ansibleFacts)
  if (!f) return { facts: {}, errors: [{ collector: 'ansible', message: 'setup returned no ansible_facts', stack: null }] }
  const facts: Record<string, unknown> = {}
  const errors: CollectError[] = []
  for (const name of names) {
    try {
      facts[name] = mappers[name](f)
    } catch (err) {
      errors.push({ collector: name, message: `ansible setup: ${(err as Error).message}`, stack: (err as Error).stack ?? null })
    }
  }
  return { facts: facts as Facts, errors }
}

/**
 * Fills what setup cannot see from the stored asset's facts: os-release's
 * NAME (kept while the distribution and version are the same), memory
 * modules, and a disk's model and serial (kept while a disk of that name
 * and size is there). Anything setup does report wins.
 */
export function carryForward(next: Facts, stored: Facts | null): Facts {
  if (!stored) return next
  const out: Facts = { ...next }
  if (out.os && stored.os && out.os.name === null && out.os.id === stored.os.id && out.os.versionId === stored.os.versionId) {
    out.os = { ...out.os, name: stored.os.name, prettyName: out.os.prettyName === null ? stored.os.prettyName : out.os.prettyName }
  }
  if (out.memory && out.memory.modules === null && stored.memory?.modules) out.memory = { ...out.memory, modules: stored.memory.modules }
  if (out.disk && stored.disk) {
    const before = stored.disk
    out.disk = out.disk.map((d) => {
      const same = before.find((b) => b.name === d.name && b.sizeBytes === d.sizeBytes)
      return same ? { ...d, model: d.model ?? same.model, serial: d.serial ?? same.serial } : d
    })
  }
  return out
}
