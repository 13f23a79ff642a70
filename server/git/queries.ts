import { simpleGit, type SimpleGit } from 'simple-git'

/** What the release form offers from a mirror, read through simple-git (local, no network). */

export interface RefInfo {
  /** "main", "release/2.1", "v1.4.0" (without refs/heads/ or refs/tags/). */
  name: string
  /** Full id of the commit, annotated tags peeled. */
  commit: string
  /** ISO 8601 (UTC): the commit's date for a branch; for a tag the date it was tagged (the commit's for a lightweight one). */
  date: string
  /** The commit's subject; for an annotated tag its message's subject when it has one. */
  summary: string
}

export interface CommitInfo {
  hash: string
  short: string
  author: string
  /** ISO 8601 (UTC) commit date, the one the list is ordered by. */
  date: string
  summary: string
}

export function reader(repoPath: string): SimpleGit {
  return simpleGit({ baseDir: repoPath })
}

/** rev-parse that only ever answers with a commit; rejects when the name is unknown or not a commit. */
export async function revParseCommit(git: SimpleGit, name: string): Promise<string> {
  const out = (await git.raw(['rev-parse', '--verify', '--end-of-options', `${name}^{commit}`])).trim()
  if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(out)) throw new Error(`rev-parse printed ${JSON.stringify(out)}`)
  return out
}

const isoUtc = (date: string) => new Date(date).toISOString()

/** for-each-ref output, one record a line, fields split on NUL (%00). */
async function forEachRef(git: SimpleGit, pattern: string, sort: string, fields: string[]): Promise<string[][]> {
  const out = await git.raw(['for-each-ref', `--sort=${sort}`, `--format=${fields.join('%00')}`, pattern])
  return out
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => line.split('\0'))
}

export async function listBranches(git: SimpleGit): Promise<RefInfo[]> {
  const rows = await forEachRef(git, 'refs/heads/', '-committerdate', ['%(refname:lstrip=2)', '%(objectname)', '%(committerdate:iso-strict)', '%(contents:subject)'])
  return rows.map(([name = '', commit = '', date = '', summary = '']) => ({ name, commit, date: isoUtc(date), summary }))
}

export async function listTags(git: SimpleGit): Promise<RefInfo[]> {
  const rows = await forEachRef(git, 'refs/tags/', '-creatordate', [
    '%(refname:lstrip=2)',
    '%(objecttype)',
    '%(objectname)',
    '%(*objecttype)',
    '%(*objectname)',
    '%(creatordate:iso-strict)',
    '%(contents:subject)',
    '%(*contents:subject)',
  ])
  const tags: RefInfo[] = []
  for (const [name = '', type, object = '', peeledType, peeled = '', date = '', subject = '', peeledSubject = ''] of rows) {
    if (type === 'commit') {
      tags.push({ name, commit: object, date: isoUtc(date), summary: subject })
    } else if (type === 'tag' && peeledType === 'commit') {
      tags.push({ name, commit: peeled, date: isoUtc(date), summary: subject || peeledSubject })
    } else if (type === 'tag' && peeledType === 'tag') {
      // a tag of a tag: rare enough to peel one at a time
      const commit = await revParseCommit(git, `refs/tags/${name}`).catch(() => null)
      if (commit) tags.push({ name, commit, date: isoUtc(date), summary: subject })
    }
    // tags of trees and blobs cannot be released: left out
  }
  return tags
}

export async function recentCommits(git: SimpleGit, count: number): Promise<CommitInfo[]> {
  const log = await git.log({
    format: { hash: '%H', short: '%h', author: '%aN', date: '%cI', summary: '%s' },
    maxCount: Math.max(1, Math.floor(count)),
    '--branches': null,
  })
  return log.all.map((c) => ({ hash: c.hash, short: c.short, author: c.author, date: isoUtc(c.date), summary: c.summary }))
}
