import { createHash } from 'node:crypto'
import { readValue, type Collector } from './collector.ts'

export interface BoardFacts {
  vendor: string | null
  product: string | null
  /** As the firmware reports it, placeholders included ("To be filled by O.E.M."): identity ignores those, a person may want to see them. */
  serial: string | null
  /** Lowercase. */
  uuid: string | null
  boardSerial: string | null
  /** hashMachineId of /etc/machine-id; the id itself never leaves the machine. */
  machineIdHash: string | null
}

const DMI = '/sys/class/dmi/id'
const MACHINE_ID = ['/etc/machine-id', '/var/lib/dbus/machine-id']

/**
 * machine-id is meant to stay on its machine (machine-id(5): "should be
 * considered confidential"); identity only needs to know two reports came
 * from the same one, which a hash tells as well. Salted with the product
 * name so the stored value matches no other tool's hash of the same id.
 * Every mode (agent, SSH, Ansible's ansible_machine_id) must hash with this.
 */
export function hashMachineId(machineId: string): string {
  return createHash('sha256').update(`longship:${machineId.trim().toLowerCase()}`).digest('hex')
}

export const boardCollector: Collector<BoardFacts> = {
  name: 'board',
  needs: {
    files: [...['sys_vendor', 'product_name', 'product_serial', 'product_uuid', 'board_serial'].map((f) => `${DMI}/${f}`), ...MACHINE_ID],
  },

  // product_serial, product_uuid and board_serial are root-only (0400): as anyone else they come back null
  async collect(target) {
    let machineId: string | null = null
    for (const path of MACHINE_ID) {
      machineId = await readValue(target, path)
      if (machineId) break
    }
    return {
      vendor: await readValue(target, `${DMI}/sys_vendor`),
      product: await readValue(target, `${DMI}/product_name`),
      serial: await readValue(target, `${DMI}/product_serial`),
      uuid: (await readValue(target, `${DMI}/product_uuid`))?.toLowerCase() ?? null,
      boardSerial: await readValue(target, `${DMI}/board_serial`),
      machineIdHash: machineId ? hashMachineId(machineId) : null,
    }
  },
}
