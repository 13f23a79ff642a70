import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

/**
 * What a server downloads to run the agent: one JavaScript file and the
 * shell script that installs it.
 *
 * The agent's sources are TypeScript with only relative imports and Node
 * built-ins, so esbuild turns them into a single file that plain `node` 18+
 * runs: nothing to `npm install` on the server, no registry access, no copy
 * of this project. That is the agent's release artifact, built from the
 * running console's own sources, so agent and console always match; it is
 * not a front-end bundle (public/ stays hand-written ES5).
 */

const ENTRY = fileURLToPath(new URL('../../bin/longship-agent.ts', import.meta.url))
const INSTALL_TEMPLATE = fileURLToPath(new URL('./agent-install.sh', import.meta.url))

export interface AgentBundle {
  code: Buffer
  sha256: string
}

export interface AgentPackage {
  /** Built once on first use, then kept: the sources do not change under a running console. */
  bundle(): Promise<AgentBundle>
  /** The install script, pointing at `server` (an origin) and pinned to the bundle's checksum. */
  installScript(server: string): Promise<string>
}

async function buildBundle(): Promise<AgentBundle> {
  const result = await build({
    entryPoints: [ENTRY],
    bundle: true,
    platform: 'node',
    // top-level await in the entry: ESM, saved as .mjs so node needs no package.json beside it
    format: 'esm',
    target: 'node18',
    write: false,
    logLevel: 'silent',
    legalComments: 'none',
    // readable on purpose: an admin can read what will run as root
    minify: false,
    banner: { js: '#!/usr/bin/env node\n// The Longship agent, built by the console from bin/longship-agent.ts. Run: node longship-agent.mjs --help' },
  })
  const file = result.outputFiles[0]
  if (!file) throw new Error('esbuild produced no agent bundle')
  const code = Buffer.from(file.contents)
  return { code, sha256: createHash('sha256').update(code).digest('hex') }
}

/** Single quotes for sh: the value is taken literally, whatever the Host header said. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`
}

export function createAgentPackage(): AgentPackage {
  let bundle: Promise<AgentBundle> | null = null
  let template: Promise<string> | null = null
  const getBundle = (): Promise<AgentBundle> => {
    // a failed build is not cached: the next download tries again
    bundle ??= buildBundle().catch((err: unknown) => {
      bundle = null
      throw err
    })
    return bundle
  }
  return {
    bundle: getBundle,
    async installScript(server) {
      template ??= readFile(INSTALL_TEMPLATE, 'utf8')
      const [text, { sha256 }] = await Promise.all([template, getBundle()])
      return text.replace('__LONGSHIP_SERVER__', shellQuote(server)).replace('__LONGSHIP_AGENT_SHA256__', sha256)
    },
  }
}
