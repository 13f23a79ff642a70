import { readValue, toInt, tryRun, type Collector } from './collector.ts'
import type { CollectTarget } from '../target.ts'

export interface Disk {
  /** Kernel name: sda, vda, nvme0n1, xvda. */
  name: string
  sizeBytes: number
  /** null when the kernel does not say. Virtio disks claim to rotate unless the hypervisor says otherwise. */
  rotational: boolean | null
  model: string | null
  serial: string | null
}

const LSBLK = 'lsblk -J -b -d -o NAME,SIZE,ROTA,MODEL,SERIAL,TYPE'
/**
 * Block devices that are not disks a person installed: loop files, RAM and
 * zram disks, optical and floppy drives, and (in /sys/block, where there is
 * no TYPE column) device-mapper and md arrays built on top of real disks.
 */
const NOT_A_DISK = /^(loop|ram|zram|sr|fd|dm-|md)\d/

interface LsblkDevice {
  name?: unknown
  size?: unknown
  rota?: unknown
  model?: unknown
  serial?: unknown
  type?: unknown
}

const text = (value: unknown): string | null => (typeof value === 'string' && value.trim() ? value.trim() : null)

/** util-linux before 2.33 printed every JSON value as a string ("size": "500107862016", "rota": "1"); later ones use numbers and booleans. */
function flag(value: unknown): boolean | null {
  if (typeof value === 'boolean') return value
  if (value === 1 || value === '1') return true
  if (value === 0 || value === '0') return false
  return null
}

export function parseLsblk(json: string): Disk[] {
  const parsed = JSON.parse(json) as { blockdevices?: LsblkDevice[] }
  if (!Array.isArray(parsed.blockdevices)) throw new Error('lsblk printed no blockdevices')
  return parsed.blockdevices
    .filter((d) => d.type === 'disk' && typeof d.name === 'string' && !NOT_A_DISK.test(d.name))
    .map((d) => ({ name: d.name as string, sizeBytes: Number(d.size) || 0, rotational: flag(d.rota), model: text(d.model), serial: text(d.serial) }))
    .filter((d) => d.sizeBytes > 0) // an empty card reader or an unconfigured nbd
}

/** Model and serial straight from sysfs: lsblk takes them from udev, which containers and minimal systems lack. */
async function sysfsIds(target: CollectTarget, name: string): Promise<{ model: string | null; serial: string | null }> {
  const base = `/sys/block/${name}`
  return {
    model: await readValue(target, `${base}/device/model`),
    // NVMe and SCSI keep it under device/, virtio-blk on the disk itself
    serial: (await readValue(target, `${base}/device/serial`)) ?? (await readValue(target, `${base}/serial`)),
  }
}

async function fromSysfs(target: CollectTarget): Promise<Disk[]> {
  const names = await target.listDir('/sys/block')
  if (names === null) throw new Error('lsblk -J failed and /sys/block cannot be read')
  const disks: Disk[] = []
  for (const name of names.filter((n) => !NOT_A_DISK.test(n)).sort()) {
    // /sys/block/*/size counts 512-byte sectors whatever the disk's own sector size
    const sectors = toInt(await readValue(target, `/sys/block/${name}/size`))
    if (!sectors) continue
    const rota = await readValue(target, `/sys/block/${name}/queue/rotational`)
    disks.push({ name, sizeBytes: sectors * 512, rotational: flag(rota), ...(await sysfsIds(target, name)) })
  }
  return disks
}

export const diskCollector: Collector<Disk[]> = {
  name: 'disk',
  needs: {
    dirs: ['/sys/block'],
    files: ['size', 'queue/rotational', 'device/model', 'device/serial', 'serial'].map((f) => `/sys/block/*/${f}`),
    commands: [{ command: LSBLK }],
  },

  async collect(target) {
    // lsblk before util-linux 2.27 (CentOS 7, Ubuntu 14.04) has no -J; BusyBox has no lsblk at all
    const json = await tryRun(target, LSBLK)
    if (json === null) return fromSysfs(target)
    const disks = parseLsblk(json)
    for (const disk of disks) {
      if (disk.model && disk.serial) continue
      const ids = await sysfsIds(target, disk.name)
      disk.model ??= ids.model
      disk.serial ??= ids.serial
    }
    return disks.sort((a, b) => a.name.localeCompare(b.name))
  },
}
