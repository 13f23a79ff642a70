/**
 * The inventory both Ansible benches (deploy, collect) run against: every
 * loopback host as host-NN at 127.0.0.1 with its port, user and key file,
 * Debian's Python named (no interpreter discovery), and host keys checked
 * against a known_hosts file generated from the hosts' keys, as the
 * console checks its pinned keys.
 */
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import type { Host } from './deploy-hosts.ts'

/** Writes known_hosts and inventory.yml into dir; `extra` adds lines of host vars (already indented). Returns the inventory's path. */
export function writeInventory(dir: string, hosts: Host[], extra: (host: Host) => string[] = () => []): string {
  const knownHosts = path.join(dir, 'known_hosts')
  writeFileSync(knownHosts, hosts.map((h) => `[127.0.0.1]:${h.port} ${h.hostPublicKey}\n`).join(''))
  const lines = ['all:', '  vars:', '    ansible_python_interpreter: /usr/bin/python3', `    ansible_ssh_common_args: "-o UserKnownHostsFile=${knownHosts} -o StrictHostKeyChecking=yes"`, '  hosts:']
  hosts.forEach((h, i) => {
    lines.push(
      `    host-${String(i + 1).padStart(2, '0')}:`,
      '      ansible_host: 127.0.0.1',
      `      ansible_port: ${h.port}`,
      `      ansible_user: ${h.username}`,
      `      ansible_ssh_private_key_file: ${h.keyFile}`,
      ...extra(h),
    )
  })
  const inventory = path.join(dir, 'inventory.yml')
  writeFileSync(inventory, lines.join('\n') + '\n')
  return inventory
}
