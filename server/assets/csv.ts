import type { Knex } from 'knex'
import type { Hub } from '../realtime/hub.ts'
import { announce } from '../realtime/live-lists.ts'
import { createServersRepository, type ServerInput } from '../servers/repository.ts'
import { readServer } from '../servers/schema.ts'
import { createAssetsRepository } from './repository.ts'
import { summarize } from './present.ts'
import { toDate } from '../db/connection.ts'

/**
 * The inventory as CSV, for teams moving off a spreadsheet: an export of
 * every server with its collected facts, and an import that creates or
 * updates servers by hostname. The fact columns are for reading; the
 * import takes only the server's own fields, so an export imports back
 * unchanged.
 */

export const SERVER_COLUMNS = ['hostname', 'address', 'port', 'username', 'credential', 'env', 'tags', 'notes'] as const
export const FACT_COLUMNS = ['os', 'cpu', 'memory', 'disks', 'ips', 'mode', 'collected_at'] as const

/** Spreadsheets run a cell starting with one of these as a formula; a leading ' keeps it text there. */
const FORMULA_START = /^[=+\-@\t\r]/

function cell(value: unknown): string {
  let text = value === null || value === undefined ? '' : String(value)
  if (FORMULA_START.test(text)) text = `'${text}`
  return /[",\r\n]/.test(text) || text !== text.trim() ? `"${text.replace(/"/g, '""')}"` : text
}

/** Undoes cell()'s formula guard, so exported notes import back as they were. */
function uncell(text: string): string {
  return text.startsWith("'") && FORMULA_START.test(text.slice(1)) ? text.slice(1) : text
}

export function toCsv(rows: readonly (readonly unknown[])[]): string {
  return rows.map((row) => row.map(cell).join(',')).join('\r\n') + '\r\n'
}

export interface CsvRecord {
  /** The line the record starts on (1 is the header). */
  line: number
  cells: string[]
}

export class CsvSyntaxError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`)
  }
}

/** RFC 4180: quoted cells may hold commas, quotes ("") and line breaks; CRLF or LF line ends; a BOM is dropped. */
export function parseCsv(input: string): CsvRecord[] {
  const text = input.replace(/^\uFEFF/, '')
  const records: CsvRecord[] = []
  let cells: string[] = []
  let current = ''
  let quoted = false
  let line = 1
  let start = 1
  let fieldStarted = false
  const endRecord = () => {
    cells.push(current)
    if (!(cells.length === 1 && cells[0] === '')) records.push({ line: start, cells })
    cells = []
    current = ''
    fieldStarted = false
  }
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          current += '"'
          i++
        } else quoted = false
      } else {
        if (c === '\n') line++
        current += c
      }
      continue
    }
    if (c === '"' && !fieldStarted) {
      quoted = true
      fieldStarted = true
    } else if (c === '"') {
      throw new CsvSyntaxError(line, 'a quote inside an unquoted cell (quote the whole cell and double the quote)')
    } else if (c === ',') {
      cells.push(current)
      current = ''
      fieldStarted = false
    } else if (c === '\r' || c === '\n') {
      if (c === '\r' && text[i + 1] === '\n') i++
      endRecord()
      line++
      start = line
    } else {
      current += c
      fieldStarted = true
    }
  }
  if (quoted) throw new CsvSyntaxError(start, 'a quoted cell is never closed')
  if (current !== '' || cells.length) endRecord()
  return records
}

export interface ImportProblem {
  line: number
  message: string
}

export type ImportResult = { ok: true; created: number; updated: number } | { ok: false; problems: ImportProblem[] }

/** Rows a file may hold: far more than any fleet here, small enough that one transaction stays quick. */
const MAX_ROWS = 10_000

export function createInventoryCsv(knex: Knex, hub?: Hub) {
  const assets = createAssetsRepository(knex)
  const servers = createServersRepository(knex)

  return {
    async exportCsv(): Promise<string> {
      const rows = await assets.serversWithAssets()
      const out: unknown[][] = [[...SERVER_COLUMNS, ...FACT_COLUMNS]]
      for (const r of rows) {
        const facts = r.facts ? (JSON.parse(String(r.facts)) as Record<string, never>) : {}
        const s = summarize({ facts, os_name: (r.os_name as string | null) ?? null, memory_bytes: r.memory_bytes == null ? null : Number(r.memory_bytes), ips: String(r.ips ?? '').split(',').filter(Boolean) })
        out.push([
          r.hostname,
          r.address,
          r.port,
          r.username,
          r.credential_name ?? '',
          r.env,
          String(r.tags ?? '').split(',').filter(Boolean).join(' '),
          r.notes,
          s.os,
          s.cpu,
          s.memory,
          s.disks,
          s.ips,
          r.mode ?? '',
          toDate(r.collected_at)?.toISOString() ?? '',
        ])
      }
      return toCsv(out)
    },

    /**
     * Creates or updates servers by hostname, all in one transaction. Every
     * row is checked first and every problem is reported with its line;
     * when there is any, nothing is written.
     */
    async importCsv(text: string): Promise<ImportResult> {
      let records: CsvRecord[]
      try {
        records = parseCsv(text)
      } catch (err) {
        if (err instanceof CsvSyntaxError) return { ok: false, problems: [{ line: err.line, message: err.message.replace(/^line \d+: /, '') }] }
        throw err
      }
      const [header, ...data] = records
      if (!header) return { ok: false, problems: [{ line: 1, message: 'the file is empty; the first line names the columns (hostname,address,…)' }] }
      const names = header.cells.map((c) => c.trim().toLowerCase())
      const problems: ImportProblem[] = []
      for (const required of ['hostname', 'address'] as const) {
        if (!names.includes(required)) problems.push({ line: 1, message: `the header has no "${required}" column` })
      }
      if (data.length > MAX_ROWS) problems.push({ line: 1, message: `${data.length} rows; at most ${MAX_ROWS} at once` })
      if (problems.length) return { ok: false, problems }

      const credentials = new Map(((await knex('credentials').select('id', 'name')) as Array<{ id: number; name: string }>).map((c) => [c.name, Number(c.id)]))
      const existing = new Map(((await knex('servers').select('id', 'hostname')) as Array<{ id: number; hostname: string }>).map((s) => [s.hostname.toLowerCase(), Number(s.id)]))
      const seen = new Map<string, number>()
      const plan: Array<{ id: number | null; value: Partial<ServerInput> }> = []
      for (const record of data) {
        const input: Record<string, unknown> = {}
        names.forEach((name, i) => {
          if ((SERVER_COLUMNS as readonly string[]).includes(name) && record.cells[i] !== undefined) input[name] = uncell(record.cells[i] as string)
        })
        if (record.cells.length !== names.length) {
          problems.push({ line: record.line, message: `${record.cells.length} cells where the header has ${names.length}` })
          continue
        }
        if (typeof input.credential === 'string') {
          const name = input.credential.trim()
          if (name && !credentials.has(name)) {
            problems.push({ line: record.line, message: `credential: there is no credential named "${name}"` })
            continue
          }
          input.credential_id = name ? String(credentials.get(name)) : ''
          delete input.credential
        }
        const hostname = String(input.hostname ?? '').trim().toLowerCase()
        const id = existing.get(hostname) ?? null
        // a new server gets the form's defaults for what the file leaves out; an existing one keeps them
        const { value, errors } = readServer(input, id !== null)
        if (Object.keys(errors).length) {
          problems.push({ line: record.line, message: Object.entries(errors).map(([field, message]) => `${field}: ${message}`).join('; ') })
          continue
        }
        const first = seen.get(hostname)
        if (first !== undefined) {
          problems.push({ line: record.line, message: `hostname ${hostname} is also on line ${first}` })
          continue
        }
        seen.set(hostname, record.line)
        plan.push({ id, value })
      }
      if (problems.length) return { ok: false, problems }

      const saved = await knex.transaction(async (trx) => {
        const done: Array<{ id: number; hostname: string; created: boolean }> = []
        for (const { id, value } of plan) {
          if (id === null) {
            const server = await servers.create(value as ServerInput, trx)
            done.push({ id: server.id, hostname: server.hostname, created: true })
          } else {
            const server = await servers.update(id, value, trx)
            if (server) done.push({ id: server.id, hostname: server.hostname, created: false })
          }
        }
        return done
      })
      for (const s of saved) announce(hub, 'servers', s.created ? 'created' : 'updated', s.id, s.hostname)
      return { ok: true, created: saved.filter((s) => s.created).length, updated: saved.filter((s) => !s.created).length }
    },
  }
}
