import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { CollectTarget } from '../../../server/assets/target.ts'
import { createFixtureTarget } from '../../../server/assets/targets/fixture.ts'

export const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url))

export const fixtureNames = ['debian12-vm', 'centos7-dell', 'alpine-arm-container', 'ubuntu18-virtualbox', 'this-machine'] as const
export type FixtureName = (typeof fixtureNames)[number]

export function fixture(name: FixtureName): Promise<CollectTarget> {
  return createFixtureTarget(path.join(FIXTURES, name))
}

/** An answer that replaces the recorded one: a value, or an Error to throw. */
type Override<T> = T | Error

export interface Overrides {
  commands?: Record<string, Override<string>>
  files?: Record<string, Override<string | null>>
  dirs?: Record<string, Override<string[] | null>>
  isRoot?: boolean
}

export interface SpyTarget extends CollectTarget {
  /** "run <command>", "read <path>", "list <path>", in call order. */
  calls: string[]
}

const answer = <T>(value: Override<T>): T => {
  if (value instanceof Error) throw value
  return value
}

/** A target with some answers changed, recording every call: for edge cases the fixtures do not have. */
export function override(inner: CollectTarget, o: Overrides = {}): SpyTarget {
  const calls: string[] = []
  return {
    calls,
    async run(command, opts) {
      calls.push(`run ${command}`)
      if (o.commands && command in o.commands) return answer(o.commands[command] as Override<string>)
      return inner.run(command, opts)
    },
    async readFile(file) {
      calls.push(`read ${file}`)
      if (o.files && file in o.files) return answer(o.files[file] as Override<string | null>)
      return inner.readFile(file)
    },
    async listDir(dir) {
      calls.push(`list ${dir}`)
      if (o.dirs && dir in o.dirs) return answer(o.dirs[dir] as Override<string[] | null>)
      return inner.listDir(dir)
    },
    async isRoot() {
      return o.isRoot ?? inner.isRoot()
    },
  }
}
