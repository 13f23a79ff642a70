import type { Knex } from 'knex'
import { isUniqueViolation } from '../db/connection.ts'
import type { Hub } from '../realtime/hub.ts'
import { announce } from '../realtime/live-lists.ts'
import type { CollectError, Facts } from './collectors/index.ts'
import { diffFacts, type AssetChange } from './diff.ts'
import { decideIdentity, normalizeMac, type IdentityDecision, type StoredIdentity } from './identity.ts'
import { createAssetsRepository, keyColumns, type AssetErrorInput, type Mode } from './repository.ts'

/** One collection as any mode hands it over. */
export interface CollectionReport {
  mode: Mode
  hostname: string
  /** The agent's identity file: the name it last reported with success; null in SSH and Ansible modes. */
  previousHostname: string | null
  agentId: string | null
  /** SSH and Ansible modes: the server the console reached, which settles which asset this is. */
  serverId?: number | null
  facts: Facts
  errors: CollectError[]
}

export type StoreOutcome =
  | { kind: 'created' | 'updated' | 'unchanged'; assetId: number; hostname: string; changes: AssetChange[]; decision: IdentityDecision; warning?: string }
  | { kind: 'refused'; assetId: number | null; hostname: string; error: string; decision: IdentityDecision | null }

function macsOf(facts: Facts): string[] {
  return (facts.nic ?? []).map((n) => (n.mac ? normalizeMac(n.mac) : null)).filter((m): m is string => m !== null)
}

/** A rename is a change like any other in the history. */
function renameChange(from: string, to: string): AssetChange {
  return { field: 'hostname', old: from, new: to, summary: `renamed ${from} → ${to}` }
}

/**
 * Stores collections: decides which asset a report is (identity.ts),
 * writes the asset, its change rows and its errors in one transaction, and
 * announces the asset to open pages. A refused name or a suspected clone
 * is stored only as an error: nothing of its facts is merged anywhere.
 */
export function createAssetsService(knex: Knex, hub?: Hub) {
  const repo = createAssetsRepository(knex)

  /**
   * Which stored assets identity may pick. Over SSH the console knows which
   * server it reached, and assets linked to another server are other
   * machines by its own inventory, even where their hardware looks the same
   * (VMs cloned without a new machine-id, or loopback test hosts).
   */
  async function candidates(report: CollectionReport, trx: Knex): Promise<{ assets: StoredIdentity[]; linked: StoredIdentity | null }> {
    const all = await repo.identities(trx)
    if (!report.serverId) return { assets: all, linked: null }
    const servers = new Map((await trx('assets').whereNotNull('server_id').select('id', 'server_id')).map((r: { id: number; server_id: number }) => [Number(r.id), Number(r.server_id)]))
    const assets = all.filter((a) => !servers.has(a.id) || servers.get(a.id) === report.serverId)
    return { assets, linked: assets.find((a) => servers.get(a.id) === report.serverId) ?? null }
  }

  function decide(report: CollectionReport, assets: StoredIdentity[], linked: StoredIdentity | null): IdentityDecision {
    const decision = decideIdentity(assets, {
      hostname: report.hostname,
      previousHostname: report.previousHostname,
      agentId: report.agentId,
      machineIdHash: report.facts.board?.machineIdHash ?? null,
      productUuid: report.facts.board?.uuid ?? null,
      macs: macsOf(report.facts),
    })
    // the server's asset with no hardware to recognise it by, after the server was renamed on the console
    if (decision.kind === 'new' && linked) return { kind: 'rename', assetId: linked.id, hostname: report.hostname, from: linked.hostname, to: report.hostname, by: 'hostname' }
    return decision
  }

  function collectorErrors(report: CollectionReport, assetId: number | null, hostname: string): AssetErrorInput[] {
    return report.errors.map((e) => ({ asset_id: assetId, hostname, kind: 'collector', collector: e.collector, message: e.message, stack: e.stack, source: report.mode }))
  }

  /** Open errors pages show each stored error (they fetch its row); only after its transaction committed. */
  function announceErrors(ids: readonly number[], hostname: string): void {
    for (const id of ids) announce(hub, 'asset-errors', 'created', id, hostname)
  }

  /** The errors stored in `trx`, announced once it has committed (an open errors page fetches each row). */
  async function storeIn(report: CollectionReport, trx: Knex, errorIds: number[]): Promise<StoreOutcome> {
    const addErrors = async (errors: AssetErrorInput[]) => errorIds.push(...(await repo.addErrors(errors, trx)))
    const { assets, linked } = await candidates(report, trx)
    const decision = decide(report, assets, linked)
    const at = new Date()
    const base = { facts: report.facts, collected_at: at, mode: report.mode }

    if (decision.kind === 'refuse' || decision.kind === 'clone') {
      const assetId = decision.kind === 'clone' ? decision.assetId : decision.takenBy
      await addErrors([{ asset_id: assetId, hostname: decision.hostname, kind: decision.kind === 'clone' ? 'clone' : 'refused', message: decision.error, source: report.mode }])
      return { kind: 'refused', assetId, hostname: decision.hostname, error: decision.error, decision }
    }

    if (decision.kind === 'new') {
      const serverId = report.serverId ?? (await repo.linkableServerId(decision.hostname, null, trx))
      const id = await repo.create(
        { hostname: decision.hostname, agent_id: report.agentId, server_id: serverId, ...keyColumns(report.facts), ...base, facts: JSON.stringify(report.facts) },
        trx,
      )
      await addErrors(collectorErrors(report, id, decision.hostname))
      return { kind: 'created', assetId: id, hostname: decision.hostname, changes: [], decision }
    }

    const stored = await repo.findById(decision.assetId, trx)
    if (!stored) throw new Error(`asset ${decision.assetId} vanished while storing a collection`)
    const changes = diffFacts(stored.facts, report.facts)
    if (decision.kind === 'rename') changes.unshift(renameChange(decision.from, decision.to))
    const errors = collectorErrors(report, stored.id, decision.hostname)
    let warning: string | undefined
    if (decision.kind === 'rename-refused') {
      warning = decision.error
      errors.push({ asset_id: stored.id, hostname: decision.to, kind: 'rename-refused', message: decision.error, source: report.mode })
    }
    const agentId = report.agentId && stored.agent_id !== report.agentId ? report.agentId : undefined
    const serverId = stored.server_id ?? report.serverId ?? (await repo.linkableServerId(decision.hostname, stored.id, trx))

    if (!changes.length && agentId === undefined && serverId === stored.server_id) {
      await trx('assets').where({ id: stored.id }).update({ collected_at: at, mode: report.mode })
      await addErrors(errors)
      return { kind: 'unchanged', assetId: stored.id, hostname: stored.hostname, changes, decision, warning }
    }
    // a collector that failed this time keeps its last known group rather than erasing it
    const facts = { ...stored.facts, ...report.facts }
    await repo.update(
      stored.id,
      { hostname: decision.hostname, server_id: serverId, ...(agentId ? { agent_id: agentId } : {}), ...keyColumns(report.facts), ...base, facts: JSON.stringify(facts) },
      trx,
    )
    await repo.addChanges(stored.id, changes, report.mode, at, trx)
    await addErrors(errors)
    return { kind: 'updated', assetId: stored.id, hostname: decision.hostname, changes, decision, warning }
  }

  return {
    repo,

    /** Stores one collection in one transaction and tells open pages; a refusal is an outcome, not an exception. */
    async store(report: CollectionReport): Promise<StoreOutcome> {
      let outcome: StoreOutcome
      const errorIds: number[] = []
      try {
        outcome = await knex.transaction((trx) => storeIn(report, trx, errorIds))
      } catch (err) {
        // two reports racing for one new name: the loser is told, as a refused name would be
        if (!isUniqueViolation(err)) throw err
        const error = `another collection stored "${report.hostname}" at the same moment; collect again`
        // what the rolled-back transaction stored is gone
        errorIds.length = 0
        errorIds.push(...(await repo.addErrors([{ asset_id: null, hostname: report.hostname, kind: 'refused', message: error, source: report.mode }])))
        outcome = { kind: 'refused', assetId: null, hostname: report.hostname, error, decision: null }
      }
      announceErrors(errorIds, report.hostname)
      // a refusal shows on the asset whose name or identity was claimed; with no such asset no page shows it but the errors page
      if (outcome.kind === 'refused') {
        if (outcome.assetId) announce(hub, 'assets', 'updated', outcome.assetId, outcome.hostname)
      } else announce(hub, 'assets', outcome.kind === 'created' ? 'created' : 'updated', outcome.assetId, outcome.hostname)
      return outcome
    },

    /** A host that could not be collected at all (unreachable, refused login, timed out). */
    async hostFailed(mode: Mode, hostname: string, assetId: number | null, message: string, stack: string | null = null): Promise<void> {
      announceErrors(await repo.addErrors([{ asset_id: assetId, hostname, kind: 'host', message, stack, source: mode }]), hostname)
    },
  }
}

export type AssetsService = ReturnType<typeof createAssetsService>
