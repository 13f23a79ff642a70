import type { Knex } from 'knex'

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
  return { q: str(query.q).trim().slice(0, 200), sort, dir, page, perPage: PER_PAGE }
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

export async function listPage<T>(
  base: Knex.QueryBuilder,
  query: ListQuery,
  columns: string[],
  map: (row: Record<string, unknown>) => T,
): Promise<Page<T>> {
  const countRow = (await base.clone().clearSelect().clearOrder().count({ n: '*' }).first()) as { n: number | string } | undefined
  const total = Number(countRow?.n ?? 0)
  const pages = Math.max(1, Math.ceil(total / query.perPage))
  const page = Math.min(query.page, pages)
  const rows = await base
    .clone()
    .select(columns)
    .orderBy(query.sort, query.dir)
    // a stable tie-break so paging never shows a row twice or skips one
    .orderBy(query.sort.includes('.') ? `${query.sort.split('.')[0]}.id` : 'id', query.dir)
    .limit(query.perPage)
    .offset((page - 1) * query.perPage)
  return { items: rows.map(map), total, page, pages, perPage: query.perPage }
}
