/**
 * The outcome of syncing one Argo CD application, as the action reports it: the
 * last state seen, our source's revisions (live and requested) and every source's,
 * the message and the resources worth listing. Pure.
 */
import type { Application } from './application.js'
import type { RolloutReport } from './rollouts.js'
import { appSources, revisionList, sameRevision } from './sources.js'

/** One source's revisions in the result. */
export interface SourceRevision {
  /** The source's repoURL (and chart), as in the Application. */
  source: string
  /** The source's name or ref, when it has one. */
  name?: string
  /** The revision Argo CD reports this source synced to. */
  revision: string
  /** The revision our sync asked for at this source (resolved by the server). */
  requested: string
  /** Whether input `revision` belongs to this source. */
  ours: boolean
}

/** The outcome for one application. */
export interface AppResult {
  name: string
  result: 'succeeded' | 'failed' | 'timed-out'
  /** The operation phase last seen. */
  phase: string
  sync: string
  health: string
  /** The revision Argo CD reports our source synced to (what the cluster runs). */
  revision: string
  /** The revision our sync asked for at our source (resolved by the server), when known. */
  requested: string
  /** Every source's revisions (one entry for a single-source app). */
  revisions: SourceRevision[]
  durationMs: number
  message: string
  /** Failed or unhealthy resources. */
  resources: string[]
  /** How the app was observed in the end. */
  observedBy: 'stream' | 'poll'
  terminated: boolean
  /** The app's Argo Rollouts, with the steps they passed (empty without any). */
  rollouts: RolloutReport[]
}

/** What the sync learnt about revisions: the resolved request, and what our operation synced. */
export interface RevisionFacts {
  /** Our source (undefined: every source counts). */
  index?: number
  /** The revisions the sync response's operation carries, per source. */
  requested: (string | undefined)[]
  /** The revisions our operation's sync result recorded, per source (full SHAs). */
  synced?: (string | undefined)[]
}

/** The requested revision at `i`, made full when our operation's result names the same commit. */
function requestedAt(facts: RevisionFacts, i: number): string {
  const asked = facts.requested[i] ?? ''
  const got = facts.synced?.[i]
  return got && sameRevision(asked, got) ? got : asked
}

/** The per-source revisions of the result. */
export function sourceRevisions(
  app: Application | undefined,
  facts: RevisionFacts
): SourceRevision[] {
  if (!app) return []
  const live = revisionList(app, app.status?.sync)
  return appSources(app).map((s, i) => ({
    source: `${s.repoURL ?? ''}${s.chart ? ` (chart ${s.chart})` : ''}`,
    ...(s.name || s.ref ? { name: s.name ?? s.ref } : {}),
    revision: live[i] ?? '',
    requested: requestedAt(facts, i),
    ours: facts.index === i
  }))
}

/** A result from the last state seen. */
export function resultOf(
  name: string,
  app: Application | undefined,
  result: AppResult['result'],
  message: string,
  started: number,
  facts: RevisionFacts,
  observedBy: AppResult['observedBy'],
  resources: string[]
): AppResult {
  const s = app?.status ?? {}
  const revisions = sourceRevisions(app, facts)
  const join = (pick: (r: SourceRevision) => string): string =>
    facts.index !== undefined
      ? (pick(revisions[facts.index] ?? ({} as SourceRevision)) ?? '')
      : revisions.map(pick).filter(Boolean).join(',')
  return {
    name,
    result,
    phase: s.operationState?.phase ?? 'None',
    sync: s.sync?.status ?? 'Unknown',
    health: s.health?.status ?? 'Unknown',
    revision: join(r => r.revision),
    requested: join(r => r.requested),
    revisions,
    durationMs: Date.now() - started,
    message,
    resources,
    observedBy,
    terminated: false,
    rollouts: []
  }
}

/** The overall result from the per-app ones: any failure fails, else any timeout. */
export function overall(results: readonly AppResult[]): AppResult['result'] {
  if (results.some(r => r.result === 'failed')) return 'failed'
  if (results.some(r => r.result === 'timed-out')) return 'timed-out'
  return 'succeeded'
}
