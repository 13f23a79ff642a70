import { findAnsible } from '../../server/assets/ansible-collect.ts'
import { sshdSkipReason } from './sshd.ts'

/**
 * Why the Ansible tests are skipped, or false to run them. Like
 * sshdSkipReason: under CI=true nothing is skipped, and a missing ansible
 * fails the test that needs it.
 */
export function ansibleSkipReason(): string | false {
  const sshd = sshdSkipReason()
  if (sshd) return sshd
  if (findAnsible() || process.env.CI === 'true') return false
  return 'ansible is missing: apt-get install ansible (Debian\'s, which Ansible mode runs)'
}
