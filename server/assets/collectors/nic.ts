import { readValue, toInt, tryRun, type Collector } from './collector.ts'
import type { CollectTarget } from '../target.ts'

export interface Nic {
  name: string
  /** Lowercase colon form; null for links without one (tun, wireguard). */
  mac: string | null
  mtu: number | null
  /** The kernel's operstate: up, down, unknown, dormant … */
  state: string | null
  /** Negotiated speed; null when the link is down, virtual or the driver does not say. */
  speedMbps: number | null
  /** "address/prefix"; null when no tool on the machine could tell (neither ip -j nor ip -o). */
  ipv4: string[] | null
  ipv6: string[] | null
}

const IP_JSON = 'ip -j addr'
const IP_ONELINE = 'ip -o addr'
/** ARPHRD_LOOPBACK in /sys/class/net/<nic>/type. */
const LOOPBACK_TYPE = '772'

/**
 * Interfaces that are not inventory: the loopback, and the host ends of
 * container veth pairs, which come and go with every container start and
 * would fill the change history with noise.
 */
function ignored(name: string): boolean {
  return name === 'lo' || name.startsWith('veth')
}

interface IpJsonLink {
  ifname?: unknown
  address?: unknown
  mtu?: unknown
  operstate?: unknown
  link_type?: unknown
  addr_info?: { family?: unknown; local?: unknown; prefixlen?: unknown }[]
}

function mac(value: unknown): string | null {
  if (typeof value !== 'string') return null
  const lower = value.trim().toLowerCase()
  return /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(lower) && lower !== '00:00:00:00:00:00' ? lower : null
}

/** Links from `ip -j addr`; speedMbps is filled from sysfs afterwards. */
export function parseIpJson(json: string): Nic[] {
  const links = JSON.parse(json) as IpJsonLink[]
  if (!Array.isArray(links)) throw new Error('ip -j addr printed no list')
  return links
    .filter((l) => typeof l.ifname === 'string' && l.link_type !== 'loopback' && !ignored(l.ifname))
    .map((l) => {
      const addresses = (family: string) =>
        (l.addr_info ?? []).filter((a) => a.family === family && typeof a.local === 'string').map((a) => `${a.local as string}/${String(a.prefixlen)}`)
      return {
        name: l.ifname as string,
        mac: mac(l.address),
        mtu: typeof l.mtu === 'number' ? l.mtu : null,
        state: typeof l.operstate === 'string' ? l.operstate.toLowerCase() : null,
        speedMbps: null,
        ipv4: addresses('inet'),
        ipv6: addresses('inet6'),
      }
    })
}

/** `ip -o addr` (iproute2 before 4.14 and BusyBox, which lack -j): "2: eth0    inet 10.0.0.5/24 brd … scope global eth0\ …". */
export function parseIpOneline(text: string): Map<string, { ipv4: string[]; ipv6: string[] }> {
  const byName = new Map<string, { ipv4: string[]; ipv6: string[] }>()
  for (const line of text.split('\n')) {
    const m = /^\d+:\s+(\S+?)(?:@\S+)?\s+(inet6?)\s+(\S+)/.exec(line)
    if (!m) continue
    const [, name, family, address] = m as unknown as [string, string, string, string]
    const entry = byName.get(name) ?? { ipv4: [], ipv6: [] }
    ;(family === 'inet' ? entry.ipv4 : entry.ipv6).push(address)
    byName.set(name, entry)
  }
  return byName
}

/** The negotiated speed: the file is unreadable (EINVAL) for a down link and -1 or absurd for virtual ones. */
async function speed(target: CollectTarget, name: string): Promise<number | null> {
  const mbps = toInt(await readValue(target, `/sys/class/net/${name}/speed`))
  return mbps !== null && mbps > 0 && mbps < 10_000_000 ? mbps : null
}

async function fromSysfs(target: CollectTarget): Promise<Nic[]> {
  const names = await target.listDir('/sys/class/net')
  if (names === null) throw new Error('ip -j addr failed and /sys/class/net cannot be read')
  const oneline = await tryRun(target, IP_ONELINE)
  const addresses = oneline === null ? null : parseIpOneline(oneline)
  const nics: Nic[] = []
  for (const name of names.filter((n) => !ignored(n)).sort()) {
    const base = `/sys/class/net/${name}`
    if ((await readValue(target, `${base}/type`)) === LOOPBACK_TYPE) continue
    nics.push({
      name,
      mac: mac(await readValue(target, `${base}/address`)),
      mtu: toInt(await readValue(target, `${base}/mtu`)),
      state: (await readValue(target, `${base}/operstate`))?.toLowerCase() ?? null,
      speedMbps: await speed(target, name),
      ipv4: addresses ? (addresses.get(name)?.ipv4 ?? []) : null,
      ipv6: addresses ? (addresses.get(name)?.ipv6 ?? []) : null,
    })
  }
  return nics
}

export const nicCollector: Collector<Nic[]> = {
  name: 'nic',
  needs: {
    dirs: ['/sys/class/net'],
    files: ['address', 'mtu', 'operstate', 'speed', 'type'].map((f) => `/sys/class/net/*/${f}`),
    // `ip -o addr` is only the fallback for an iproute2 without JSON: asked live on those hosts, not run everywhere
    commands: [{ command: IP_JSON }],
  },

  async collect(target) {
    const json = await tryRun(target, IP_JSON)
    if (json === null) return fromSysfs(target)
    const nics = parseIpJson(json)
    for (const nic of nics) nic.speedMbps = await speed(target, nic.name)
    return nics.sort((a, b) => a.name.localeCompare(b.name))
  },
}
