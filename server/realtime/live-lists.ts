import type { Hub } from './hub.ts'

/** The list pages that update live; each is a memory topic of the same name. */
export type LiveList = 'servers' | 'projects' | 'assets' | 'asset-errors'
export const LIVE_LISTS: LiveList[] = ['servers', 'projects', 'assets', 'asset-errors']

export type ListChange = 'created' | 'updated' | 'deleted'

/** Something the list pages announce: which row changed, and how; the page fetches the row itself. */
export interface ListChangeEvent {
  action: ListChange
  id: number
  label: string
}

/** Every signed-in user may read these lists, so every one may watch them. */
export function registerLiveLists(hub: Hub): void {
  for (const name of LIVE_LISTS) hub.registerKind({ name, authorize: () => true })
}

/** Tells every open list page about a change (no-op where there is no hub, e.g. scripts). */
export function announce(hub: Hub | undefined, list: LiveList, action: ListChange, id: number, label: string): void {
  const event: ListChangeEvent = { action, id, label }
  hub?.publish(list, event)
}
