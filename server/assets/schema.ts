import type { BoardFacts, CollectError, CpuFacts, Disk, Facts, MemoryFacts, MemoryModule, Nic, OsFacts } from './collectors/index.ts'
import { isHostname } from '../web/validate.ts'

/**
 * Reads an agent's report (POST /api/assets). An agent is a program on a
 * machine the console does not control, so everything is checked for
 * shape: a wrong type is refused with the path of the field, unknown keys
 * (a newer agent's fact group, a field we never read) are dropped, and
 * strings and lists are bounded so one report cannot fill the database.
 */

export interface AgentReport {
  agentId: string
  hostname: string
  previousHostname: string | null
  facts: Facts
  errors: CollectError[]
}

const MAX_TEXT = 512
const MAX_STACK = 8192
const MAX_ITEMS = 256

class ShapeError extends Error {}

type Obj = Record<string, unknown>

function object(value: unknown, at: string): Obj {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new ShapeError(`${at} must be an object`)
  return value as Obj
}

function array(value: unknown, at: string): unknown[] {
  if (!Array.isArray(value)) throw new ShapeError(`${at} must be a list`)
  if (value.length > MAX_ITEMS) throw new ShapeError(`${at} has more than ${MAX_ITEMS} items`)
  return value
}

function text(value: unknown, at: string, max = MAX_TEXT): string | null {
  if (value === null || value === undefined) return null
  if (typeof value !== 'string') throw new ShapeError(`${at} must be text or null`)
  if (value.length > max) throw new ShapeError(`${at} is longer than ${max} characters`)
  // NUL cannot be stored in every database, and other control characters have no business in a fact
  if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(value)) throw new ShapeError(`${at} contains control characters`)
  return value
}

function requiredText(value: unknown, at: string): string {
  const read = text(value, at)
  if (read === null) throw new ShapeError(`${at} is required`)
  return read
}

function count(value: unknown, at: string, nullable: true): number | null
function count(value: unknown, at: string, nullable: false): number
function count(value: unknown, at: string, nullable: boolean): number | null {
  if ((value === null || value === undefined) && nullable) return null
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new ShapeError(`${at} must be a whole number of at least 0${nullable ? ' or null' : ''}`)
  return value
}

function flag(value: unknown, at: string): boolean | null {
  if (value === null || value === undefined) return null
  if (typeof value !== 'boolean') throw new ShapeError(`${at} must be true, false or null`)
  return value
}

function texts(value: unknown, at: string): string[] | null {
  if (value === null || value === undefined) return null
  return array(value, at).map((v, i) => requiredText(v, `${at}[${i}]`))
}

function readOs(v: unknown, at: string): OsFacts {
  const o = object(v, at)
  return {
    name: text(o.name, `${at}.name`),
    id: text(o.id, `${at}.id`),
    versionId: text(o.versionId, `${at}.versionId`),
    prettyName: text(o.prettyName, `${at}.prettyName`),
    kernel: text(o.kernel, `${at}.kernel`),
    arch: text(o.arch, `${at}.arch`),
    hostname: text(o.hostname, `${at}.hostname`),
    uptimeSeconds: count(o.uptimeSeconds, `${at}.uptimeSeconds`, true),
    virtualization: text(o.virtualization, `${at}.virtualization`),
  }
}

function readCpu(v: unknown, at: string): CpuFacts {
  const o = object(v, at)
  return { model: text(o.model, `${at}.model`), sockets: count(o.sockets, `${at}.sockets`, false), cores: count(o.cores, `${at}.cores`, false), threads: count(o.threads, `${at}.threads`, false) }
}

function readModule(v: unknown, at: string): MemoryModule {
  const o = object(v, at)
  return {
    slot: requiredText(o.slot, `${at}.slot`),
    sizeBytes: count(o.sizeBytes, `${at}.sizeBytes`, false),
    type: text(o.type, `${at}.type`),
    speedMts: count(o.speedMts, `${at}.speedMts`, true),
    manufacturer: text(o.manufacturer, `${at}.manufacturer`),
    serial: text(o.serial, `${at}.serial`),
    partNumber: text(o.partNumber, `${at}.partNumber`),
  }
}

function readMemory(v: unknown, at: string): MemoryFacts {
  const o = object(v, at)
  const modules = o.modules === null || o.modules === undefined ? null : array(o.modules, `${at}.modules`).map((m, i) => readModule(m, `${at}.modules[${i}]`))
  return { totalBytes: count(o.totalBytes, `${at}.totalBytes`, false), modules }
}

function readDisk(v: unknown, at: string): Disk {
  const o = object(v, at)
  return {
    name: requiredText(o.name, `${at}.name`),
    sizeBytes: count(o.sizeBytes, `${at}.sizeBytes`, false),
    rotational: flag(o.rotational, `${at}.rotational`),
    model: text(o.model, `${at}.model`),
    serial: text(o.serial, `${at}.serial`),
  }
}

function readNic(v: unknown, at: string): Nic {
  const o = object(v, at)
  return {
    name: requiredText(o.name, `${at}.name`),
    mac: text(o.mac, `${at}.mac`),
    mtu: count(o.mtu, `${at}.mtu`, true),
    state: text(o.state, `${at}.state`),
    speedMbps: count(o.speedMbps, `${at}.speedMbps`, true),
    ipv4: texts(o.ipv4, `${at}.ipv4`),
    ipv6: texts(o.ipv6, `${at}.ipv6`),
  }
}

function readBoard(v: unknown, at: string): BoardFacts {
  const o = object(v, at)
  return {
    vendor: text(o.vendor, `${at}.vendor`),
    product: text(o.product, `${at}.product`),
    serial: text(o.serial, `${at}.serial`),
    uuid: text(o.uuid, `${at}.uuid`),
    boardSerial: text(o.boardSerial, `${at}.boardSerial`),
    machineIdHash: text(o.machineIdHash, `${at}.machineIdHash`),
  }
}

/** Facts as stored: only the groups we know, each read field by field. */
export function readFacts(value: unknown, at = 'facts'): Facts {
  const o = object(value, at)
  const facts: Facts = {}
  if (o.os != null) facts.os = readOs(o.os, `${at}.os`)
  if (o.cpu != null) facts.cpu = readCpu(o.cpu, `${at}.cpu`)
  if (o.memory != null) facts.memory = readMemory(o.memory, `${at}.memory`)
  if (o.disk != null) facts.disk = array(o.disk, `${at}.disk`).map((d, i) => readDisk(d, `${at}.disk[${i}]`))
  if (o.nic != null) facts.nic = array(o.nic, `${at}.nic`).map((n, i) => readNic(n, `${at}.nic[${i}]`))
  if (o.board != null) facts.board = readBoard(o.board, `${at}.board`)
  return facts
}

function readErrors(value: unknown): CollectError[] {
  if (value === null || value === undefined) return []
  return array(value, 'errors').map((e, i) => {
    const o = object(e, `errors[${i}]`)
    return { collector: requiredText(o.collector, `errors[${i}].collector`).slice(0, 32), message: requiredText(o.message, `errors[${i}].message`), stack: text(o.stack, `errors[${i}].stack`, MAX_STACK) }
  })
}

export type ReadResult = { ok: true; report: AgentReport } | { ok: false; error: string }

export function readAgentReport(body: unknown): ReadResult {
  try {
    const o = object(body, 'the body')
    const agentId = requiredText(o.agent_id, 'agent_id')
    if (!/^[A-Za-z0-9_-]{8,64}$/.test(agentId)) throw new ShapeError('agent_id must be 8 to 64 letters, digits, dashes or underscores')
    const hostname = requiredText(o.hostname, 'hostname').trim()
    if (!isHostname(hostname)) throw new ShapeError('hostname must be a hostname (RFC 1123)')
    const previous = text(o.previous_hostname, 'previous_hostname')?.trim() || null
    if (previous !== null && !isHostname(previous)) throw new ShapeError('previous_hostname must be a hostname (RFC 1123) or null')
    return { ok: true, report: { agentId, hostname, previousHostname: previous, facts: readFacts(o.facts), errors: readErrors(o.errors) } }
  } catch (err) {
    if (err instanceof ShapeError) return { ok: false, error: err.message }
    throw err
  }
}
