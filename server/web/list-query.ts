import type { Knex } from 'knex'
import { cachedRead } from '../db/table-cache.ts'

export const PER_PAGE = 50

export interface ListQuery<S extends string = string> {
  q: string
  sort: S
  dir: 'asc' | 'desc'
  page: number
  perPage: number
}

export interface Page<T> {
  items: T[]
  total: number
  page: number
  pages: number
  perPage: number
}

/**
 * Reads ?q=&sort=&dir=&page= leniently: a list page is bookmarked and
 * hand-edited, so an unknown sort or a page past the end falls back to a
 * sane value rather than an error.
 */
export function parseListQuery<S extends string>(raw: unknown, sorts: readonly S[], defaultSort: S, defaultDir: 'asc' | 'desc' = 'asc'): ListQuery<S> {
  const query = (raw ?? {}) as Record<string, unknown>
  const str = (v: unknown) => (typeof v === 'string' ? v : '')
  const sort = sorts.includes(str(query.sort) as S) ? (str(query.sort) as S) : defaultSort
  const dirRaw = str(query.dir)
  const dir = dirRaw === 'asc' || dirRaw === 'desc' ? dirRaw : defaultDir
  const pageNum = Number.parseInt(str(query.page), 10)
  const page = Number.isFinite(pageNum) && pageNum >= 1 && pageNum <= 1_000_000 ? pageNum : 1
  // a NUL ends SQLite's LIKE pattern early ('%\0abc%' is '%', every row), and no stored value holds one
  return { q: str(query.q).replace(/\0/g, '').trim().slice(0, 200), sort, dir, page, perPage: PER_PAGE }
}

/**
 * Narrows a query to rows where any of the columns contains q. Wildcards are
 * escaped so a search for "50%" finds "50%"; the escape character is '!'
 * because a backslash means different things in SQLite and MySQL literals.
 */
export function whereContains(builder: Knex.QueryBuilder, columns: string[], q: string): Knex.QueryBuilder {
  if (!q) return builder
  const pattern = '%' + q.replace(/[!%_]/g, (c) => '!' + c) + '%'
  return builder.where((w) => {
    for (const column of columns) w.orWhereRaw("?? like ? escape '!'", [column, pattern])
  })
}

export interface ListOptions {
  /** Counts the same rows without joins that cannot change the count. */
  count?: Knex.QueryBuilder
  /** Sort columns unique by themselves: no id tie-break, so an index can serve the ORDER BY. */
  uniqueSorts?: string[]
  /** The table whose unfiltered total may be reused for a moment (see table-cache.ts). */
  cacheTable?: string
}

const TOTAL = 'list_total__'

/**
 * One page of a list and its total. An unfiltered list counts once (cached
 * until the table changes); a search gets its total in the same pass as its
 * rows (`count(*) over ()`), so a LIKE scan runs once, not twice.
 */
export async function listPage<T>(
  knex: Knex,
  base: Knex.QueryBuilder,
  query: ListQuery,
  columns: Array<string | Knex.Raw>,
  map: (row: Record<string, unknown>) => T,
  opts: ListOptions = {},
): Promise<Page<T>> {
  const idColumn = query.sort.includes('.') ? `${query.sort.split('.')[0]}.id` : 'id'
  const rowsOf = (page: number, withTotal: boolean) => {
    const builder = base.clone().select(columns)
    if (withTotal) builder.select(knex.raw(`count(*) over () as ${TOTAL}`))
    builder.orderBy(query.sort, query.dir)
    // a tie-break keeps paging stable (no row twice, none skipped) where the sort column repeats
    if (!opts.uniqueSorts?.includes(query.sort)) builder.orderBy(idColumn, query.dir)
    return builder.limit(query.perPage).offset((page - 1) * query.perPage) as Promise<Array<Record<string, unknown>>>
  }
  const countAll = async () => {
    const row = (await (opts.count ?? base).clone().clearSelect().clearOrder().count({ n: '*' }).first()) as { n: number | string } | undefined
    return Number(row?.n ?? 0)
  }
  const pageOf = (rows: Array<Record<string, unknown>>, total: number, page: number): Page<T> => ({
    items: rows.map((row) => {
      delete row[TOTAL]
      return map(row)
    }),
    total,
    page,
    pages: Math.max(1, Math.ceil(total / query.perPage)),
    perPage: query.perPage,
  })

  if (query.q) {
    const rows = await rowsOf(query.page, true)
    if (rows.length) return pageOf(rows, Number(rows[0]?.[TOTAL]), query.page)
  }
  // unfiltered, or a search paged past its end: count, then clamp the page
  const total = opts.cacheTable && !query.q ? await cachedRead(knex, opts.cacheTable, 'total', countAll) : await countAll()
  const page = Math.min(query.page, Math.max(1, Math.ceil(total / query.perPage)))
  return pageOf(total ? await rowsOf(page, false) : [], total, page)
}
