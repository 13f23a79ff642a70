import { randomBytes } from 'node:crypto'
import { shellQuote } from '../../ssh/shell-quote.ts'
import { DEFAULT_COMMAND_TIMEOUT_MS, type PrefetchCommand, type TargetNeeds } from '../target.ts'

/**
 * One shell script that reads every file, lists every directory and runs
 * every command a collection needs, so that collecting over SSH costs one
 * round trip instead of one per /sys file (a host with eight loop devices
 * and three NICs has dozens). Each answer is a section introduced by a line
 * "\n<marker> <kind> <detail>", the marker random per batch so no file or
 * command output can forge one; a section's content is the exact bytes up
 * to the next "\n<marker>".
 */

export interface CommandOutcome {
  code: number
  stdout: string
  stderr: string
}

export interface BatchResult {
  isRoot: boolean
  /** path → content, for the files that exist and could be read. */
  files: Map<string, string>
  /** path → entries, for the directories that exist. */
  dirs: Map<string, string[]>
  /** command → how it ended, for the commands that ran (a rootOnly command as non-root did not). */
  commands: Map<string, CommandOutcome>
}

export interface Batch {
  script: string
  /** A bound for the whole script: every command's own bound, plus time for the reads. */
  timeoutMs: number
  parse(output: string): BatchResult
}

/** A path pattern as shell words: the "*"s stay live globs, everything else is quoted. */
function globWords(pattern: string): string {
  return pattern
    .split('*')
    .map((part) => (part === '' ? '' : shellQuote(part)))
    .join('*')
}

function commandLine(index: number, command: PrefetchCommand): string {
  const seconds = Math.max(1, Math.ceil((command.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS) / 1000))
  const call = `run_one ${index} ${seconds} ${shellQuote(command.command)}`
  return command.rootOnly ? `[ "$U" = 0 ] && ${call}` : call
}

/**
 * Prints one file's section. A collection reads a hundred small files (five
 * /sys attributes per disk and NIC, loop devices included, and /proc and
 * /etc files of a few lines), and a fork costs about a millisecond on a
 * small VM and several when fifty collections share two cores: so files are
 * read with the shell's own `read`. Only /proc/cpuinfo, which grows with
 * the core count, goes through cat (the shell's string building is
 * quadratic). An attribute the driver refuses to give (a down link's speed:
 * EINVAL) reads as nothing, so an empty file is checked with cat; a failing
 * cat prints an X section that cancels the file.
 */
const readFileFunction = `read_one() {
  case "$1" in
    /proc/cpuinfo)
      printf '\\n%s F %s\\n' "$M" "$1"
      cat -- "$1" 2>/dev/null || printf '\\n%s X %s\\n' "$M" "$1" ;;
    *)
      c=; l=
      { while IFS= read -r l; do c="$c$l
"; done; c="$c$l"; } <"$1" 2>/dev/null || return 0
      if [ -n "$c" ] || cat -- "$1" >/dev/null 2>&1; then printf '\\n%s F %s\\n%s' "$M" "$1" "$c"; fi ;;
  esac
}`

export function buildBatch(needs: Required<TargetNeeds>): Batch {
  const marker = `longship-batch-${randomBytes(8).toString('hex')}`
  const files = needs.files.map(globWords).join(' ')
  const dirs = needs.dirs.map(globWords).join(' ')
  const lines = [
    `M=${marker}`,
    'U=$(id -u)',
    `printf '\\n%s U %s\\n' "$M" "$U"`,
    files && readFileFunction,
    files && `for f in ${files}; do if [ -f "$f" ] && [ -r "$f" ]; then read_one "$f"; fi; done`,
    dirs && `for p in ${dirs}; do if [ -d "$p" ] && [ -r "$p" ]; then printf '\\n%s D %s\\n' "$M" "$p"; ls -1A -- "$p" 2>/dev/null; fi; done`,
  ]
  if (needs.commands.length) {
    lines.push(
      'T=; command -v timeout >/dev/null 2>&1 && T=timeout',
      'd=$(mktemp -d) || exit 1',
      `trap 'rm -rf -- "$d"' EXIT`,
      // stdout and stderr go to files: $( ) could not keep them apart and would eat trailing newlines
      // stdout goes straight into the answer (a C section, closed by an R section with the status): no cat per command
      'run_one() {',
      `  printf '\\n%s C %s\\n' "$M" "$1"`,
      '  if [ -n "$T" ]; then timeout "$2" /bin/sh -c "$3" 2>"$d/e" </dev/null; else /bin/sh -c "$3" 2>"$d/e" </dev/null; fi',
      '  r=$?',
      `  printf '\\n%s R %s %s\\n' "$M" "$1" "$r"`,
      // stderr is usually empty: no cat for it then
      `  if [ -s "$d/e" ]; then printf '\\n%s E %s\\n' "$M" "$1"; cat "$d/e"; fi`,
      '}',
      ...needs.commands.map((command, i) => commandLine(i, command)),
    )
  }
  lines.push('exit 0')
  const timeoutMs = needs.commands.reduce((sum, c) => sum + (c.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS), 10_000)

  const parse = (output: string): BatchResult => {
    const result: BatchResult = { isRoot: false, files: new Map(), dirs: new Map(), commands: new Map() }
    let sawUser = false
    const stderrs = new Map<number, string>()
    const outcomes = new Map<number, { code: number; stdout: string }>()
    const stdouts = new Map<number, string>()
    // anything before the first marker (a login banner from a shell rc file) is dropped with sections[0]
    for (const section of ('\n' + output).split(`\n${marker} `).slice(1)) {
      const nl = section.indexOf('\n')
      const header = nl === -1 ? section : section.slice(0, nl)
      const body = nl === -1 ? '' : section.slice(nl + 1)
      const kind = header.slice(0, 1)
      const detail = header.slice(2)
      if (kind === 'U') {
        sawUser = true
        result.isRoot = detail.trim() === '0'
      } else if (kind === 'F') result.files.set(detail, body)
      else if (kind === 'X') result.files.delete(detail)
      else if (kind === 'D') result.dirs.set(detail, body.split('\n').filter(Boolean))
      else if (kind === 'C') stdouts.set(Number(detail), body)
      else if (kind === 'R') {
        const [index, code] = detail.split(' ').map(Number)
        // a command cut off mid-output (the batch was killed) has no R section and counts as not run
        if (index !== undefined && code !== undefined && stdouts.has(index)) outcomes.set(index, { code, stdout: stdouts.get(index) as string })
      } else if (kind === 'E') stderrs.set(Number(detail), body)
    }
    if (!sawUser) throw new Error('the collection script printed no answer (is the login shell POSIX?)')
    needs.commands.forEach((command, i) => {
      const outcome = outcomes.get(i)
      if (outcome) result.commands.set(command.command, { ...outcome, stderr: stderrs.get(i) ?? '' })
    })
    return result
  }

  return { script: lines.filter(Boolean).join('\n'), timeoutMs, parse }
}

/** A prefetched pattern as a regular expression: "*" is one path segment not starting with ".", as the shell's glob. */
export function patternMatcher(pattern: string): RegExp {
  const escaped = pattern
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('(?!\\.)[^/]*')
  return new RegExp(`^${escaped}$`)
}
