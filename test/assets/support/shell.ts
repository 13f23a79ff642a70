import { spawn } from 'node:child_process'
import { tmpdir } from 'node:os'

export interface ShellRun {
  code: number
  stdout: string
  stderr: string
}

/**
 * A command in `sh`, with the environment a server's root shell would have:
 * no tsx, no node_modules on PATH, nothing inherited from the test runner.
 */
export function shell(command: string, env: Record<string, string> = {}, stdin?: string): Promise<ShellRun> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', command], { env: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: tmpdir(), ...env }, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code: code ?? 1, stdout, stderr })
    })
    // a shell may exit before it read all of its input (a script that stops early): not an error here
    child.stdin.on('error', () => {})
    child.stdin.end(stdin ?? '')
  })
}
