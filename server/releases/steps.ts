import type { ReleaseEvent, ReleaseHost, ReleaseKind } from './repository.ts'

/** The state of one node of the flow diagram; the page colours nodes by it. */
export type StepState = 'pending' | 'running' | 'ok' | 'failed' | 'skipped' | 'cancelled'
export const STEP_STATES: readonly StepState[] = ['pending', 'running', 'ok', 'failed', 'skipped', 'cancelled']

export const GLOBAL_STEPS: Record<ReleaseKind, ReadonlyArray<[string, string]>> = {
  deploy: [
    ['fetch', 'Fetch'],
    ['build', 'Build'],
    ['pack', 'Pack'],
  ],
  rollback: [['prepare', 'Prepare']],
}

export const HOST_STEPS: Record<ReleaseKind, ReadonlyArray<[string, string]>> = {
  deploy: [
    ['connect', 'Connect'],
    ['before_deploy', 'Before deploy'],
    ['upload', 'Upload'],
    ['unpack', 'Unpack'],
    ['switch', 'Switch'],
    ['after_deploy', 'After deploy'],
    ['cleanup', 'Keep N'],
  ],
  rollback: [
    ['connect', 'Connect'],
    ['switch', 'Switch'],
  ],
}

export interface DiagramNode {
  step: string
  label: string
  state: StepState
}

export interface Diagram {
  global: DiagramNode[]
  hosts: Array<{ hostname: string; status: string; steps: DiagramNode[] }>
}

/** The diagram as the stored step events left it: what a page rendered now shows before the live tail. */
export function buildDiagram(kind: ReleaseKind, hosts: ReleaseHost[], steps: ReleaseEvent[]): Diagram {
  const states = new Map<string, StepState>()
  for (const event of steps) {
    const state = event.body as StepState
    if (STEP_STATES.includes(state)) states.set(`${event.host ?? ''}|${event.stream ?? ''}`, state)
  }
  const node = (host: string, [step, label]: readonly [string, string]): DiagramNode => ({ step, label, state: states.get(`${host}|${step}`) ?? 'pending' })
  return {
    global: GLOBAL_STEPS[kind].map((s) => node('', s)),
    hosts: hosts.map((h) => ({ hostname: h.hostname, status: h.status, steps: HOST_STEPS[kind].map((s) => node(h.hostname, s)) })),
  }
}
