/**
 * The sync verdict: from one Application object (and what the caller remembers of
 * the earlier ones), whether our sync is done, failed or still to wait for. Each
 * state is answered the way Argo CD's own code answers it (argoproj/argo-cd):
 * cmd/argocd/commands/app.go `waitOnApplicationStatus` / `checkAppWaitConditions`
 * (done only once the reconcile after the operation landed; a partial sync judged by
 * the selected resources, `getResourceStates` and `checkResourceStatus`), the `app
 * sync` command's "N resources require pruning" (`ResourceResults.PruningRequired`),
 * controller/state.go `CompareAppState` (Synced against what targetRevision resolves
 * to now) and controller/appcontroller.go `autoSync` (a new operation replaces a
 * finished one). The table of states and conclusions is in
 * actions/argocd-sync/README.md. Pure.
 */
import {
  failedResources,
  isFailedPhase,
  isRunningPhase,
  matchesResource,
  parseTime,
  pruneSkipped,
  resourceLabel,
  unhealthyResources,
  type Application,
  type Operation,
  type OperationState,
  type ResourceRef,
  type ResourceStatus
} from './application.js'
import { revisionList, sameRevision, type Expected } from './sources.js'

/** How far to wait: cumulative levels. */
export type WaitFor = 'operation' | 'sync' | 'health'

/** What we asked for and what counts as done. */
export interface Expectation {
  /** The revisions our sync request set, per source (empty: any revision). */
  expected: readonly Expected[]
  /**
   * When our sync request was accepted, in ms since the epoch, preferably by the
   * server's clock (its `Date` header). Argo CD times have second resolution.
   */
  requestedAt: number
  /** Allowed clock difference when comparing `startedAt` with `requestedAt` (ms). */
  skewMs?: number
  waitFor: WaitFor
  /** Health states accepted as done (default `Healthy`). */
  healthyStates: readonly string[]
  /** How long `Degraded` may last before it fails (ms). */
  degradedGraceMs: number
  /** The resources of a partial sync (input `resources`); empty: the whole app. */
  resources?: readonly ResourceRef[]
  /** A dry run: nothing is applied, so pruning is not checked (as the CLI does). */
  dryRun?: boolean
}

/** What the caller remembers between Application states (see {@link remember}). */
export interface Memory {
  /** Since when health has been Degraded without a break. */
  degradedSince?: number
  /** Our operation was seen started, or Succeeded. */
  ours?: 'started' | 'succeeded'
}

/** The decision for one Application object. */
export interface Verdict {
  state: 'waiting' | 'succeeded' | 'failed'
  /** One line for people. */
  reason: string
  /** Health is Degraded now (the caller tracks since when). */
  degraded: boolean
  /** Our operation is running (can be terminated). */
  running: boolean
  /** Failed or unhealthy resources worth listing. */
  resources: string[]
  /** Something people should notice about a success (shown as a notice). */
  notice?: string
  /** Our sync landed and in sync: only the health is still waited for. */
  awaitingHealth?: boolean
}

/** Argo CD's health order, best first (gitops-engine `health.healthOrder`). */
const HEALTH_ORDER = ['Healthy', 'Suspended', 'Progressing', 'Missing', 'Degraded', 'Unknown']

function startedAfterRequest(state: OperationState | undefined, exp: Expectation): boolean {
  const started = parseTime(state?.startedAt)
  if (started === undefined) return false
  // Second resolution on the server, ms on our side: compare on whole seconds.
  return started >= Math.floor(exp.requestedAt / 1000) * 1000 - (exp.skewMs ?? 1000)
}

/** The expected revisions an operation does not match (those it names at all). */
function mismatches(app: Application, op: Operation | undefined, exp: Expectation): Expected[] {
  const list = revisionList(app, op?.sync)
  return exp.expected.filter(e => list[e.index] && !sameRevision(e.revision, list[e.index]))
}

/** Whether `operationState` belongs to the sync we requested. */
export function isOurOperation(
  state: OperationState | undefined,
  exp: Expectation,
  app: Application = { metadata: { name: '' } }
): boolean {
  if (!state || !startedAfterRequest(state, exp)) return false
  return mismatches(app, state.operation, exp).length === 0
}

/** Whether the history records our sync as done (Argo CD records successful full syncs). */
function inHistory(app: Application, exp: Expectation): boolean {
  if (exp.expected.length === 0) return false
  return (app.status?.history ?? []).some(h => {
    if (!startedAfterRequest({ startedAt: h.deployStartedAt }, exp)) return false
    const list = revisionList(app, h)
    return exp.expected.every(e => sameRevision(e.revision, list[e.index]))
  })
}

/**
 * Another operation that took our operation's place: set or started after our
 * request, to other revisions, once ours was seen (or recorded in the history).
 * Argo CD sets a new operation only when none is set, so ours had ended.
 */
function supersededBy(app: Application, exp: Expectation, memory: Memory): string | undefined {
  const state = app.status?.operationState
  const op = app.operation ?? state?.operation
  if (!op || (!app.operation && !startedAfterRequest(state, exp))) return undefined
  const differ = mismatches(app, op, exp)
  if (differ.length === 0) return undefined
  const seen = memory.ours ?? (inHistory(app, exp) ? 'succeeded' : undefined)
  if (!seen) return undefined
  const who = op.initiatedBy?.automated
    ? 'an automated sync'
    : `a sync by ${op.initiatedBy?.username ?? 'another user'}`
  const theirs = revisionList(app, op.sync)
  const to = differ.map(e => theirs[e.index]).join(', ')
  const ours = differ.map(e => e.revision).join(', ')
  const before =
    seen === 'succeeded'
      ? `our operation Succeeded at ${ours}, then Argo CD started that one`
      : `our operation at ${ours} ended unseen, and Argo CD started that one in its place`
  return `superseded by ${who} to ${to}: ${before}; Argo CD's API cannot tell whether ${to} contains our commit, so the cluster running it is not verified`
}

function waiting(reason: string, extra: Partial<Verdict> = {}): Verdict {
  return { state: 'waiting', reason, degraded: false, running: false, resources: [], ...extra }
}

function failed(reason: string, resources: string[] = [], degraded = false): Verdict {
  return { state: 'failed', reason, degraded, running: false, resources }
}

/** The worst health of some resources (those without health do not count). */
function worstHealth(resources: readonly ResourceStatus[]): string {
  let worst = 'Healthy'
  for (const r of resources) {
    const h = r.health?.status
    if (h !== undefined && HEALTH_ORDER.indexOf(h) > HEALTH_ORDER.indexOf(worst)) worst = h
  }
  return worst
}

/**
 * Decide from one Application object whether our sync is done. `memory` holds what
 * earlier states showed (see {@link remember}); `now` is the caller's clock.
 */
export function decide(
  app: Application,
  exp: Expectation,
  now: number,
  memory: Memory = {}
): Verdict {
  const status = app.status ?? {}
  const state = status.operationState
  if (!state || !isOurOperation(state, exp, app)) {
    const superseded = supersededBy(app, exp, memory)
    if (superseded) return failed(superseded)
    if (app.operation) return waiting('sync requested, waiting for the controller to start it')
    if (state && isRunningPhase(state.phase)) {
      return waiting(`another operation is running: ${state.message ?? state.phase}`)
    }
    return waiting('waiting for our operation to start')
  }
  const phase = state.phase ?? 'Unknown'
  const message = state.message ?? ''
  if (isRunningPhase(phase)) {
    if (phase === 'Running' && state.finishedAt) {
      return waiting(
        `attempt failed, retrying (retry ${state.retryCount ?? '?'}): ${message || 'no message'}`,
        { running: true }
      )
    }
    return waiting(`operation ${phase}${message ? `: ${message}` : ''}`, { running: true })
  }
  if (isFailedPhase(phase)) {
    return failed(`operation ${phase}: ${message || 'no message'}`, failedResources(app))
  }
  if (phase !== 'Succeeded') return waiting(`operation phase ${phase}`)
  if (app.operation) return waiting('operation finished, another one is queued')

  const synced = revisionList(app, state.syncResult)
  for (const e of exp.expected) {
    const got = synced[e.index]
    if (got && !sameRevision(e.revision, got)) {
      const what = e.label ? `${e.label} at ` : ''
      return failed(`the operation synced ${what}revision ${got}, not ${e.revision}`)
    }
  }
  const partial = (exp.resources?.length ?? 0) > 0
  const prune = exp.dryRun || partial ? [] : pruneSkipped(app)
  if (exp.waitFor === 'operation' && prune.length === 0) {
    return done(app, `operation Succeeded: ${message}`)
  }

  const finished = parseTime(state.finishedAt) ?? 0
  const reconciled = parseTime(status.reconciledAt)
  if (reconciled === undefined || reconciled < finished) {
    return waiting('operation Succeeded, waiting for the next reconcile')
  }
  if (prune.length > 0 && status.sync?.status !== 'Synced') {
    return failed(
      `${prune.length} resource(s) require pruning and the sync ran with prune off: Argo CD left them in place (PruneSkipped) and the application stays ${status.sync?.status ?? 'OutOfSync'}. Set input "prune" to true, or delete them`,
      prune
    )
  }
  if (exp.waitFor === 'operation') return done(app, `operation Succeeded: ${message}`)
  return afterReconcile(app, exp, now, memory, reconciled > finished)
}

/** The checks once the reconcile after our operation landed: revision, sync, health. */
function afterReconcile(
  app: Application,
  exp: Expectation,
  now: number,
  memory: Memory,
  laterReconcile: boolean
): Verdict {
  const status = app.status ?? {}
  const selected = exp.resources?.length ? exp.resources : undefined
  const mine = (status.resources ?? []).filter(
    r => !selected || selected.some(s => matchesResource(r, s))
  )
  if (selected && mine.length === 0) {
    return waiting('none of the selected resources is in the application status yet')
  }
  const appSync = status.sync?.status ?? 'Unknown'
  const outOfSync = mine.filter(r => r.status !== 'Synced')
  const inSync = selected ? outOfSync.length === 0 : appSync === 'Synced'
  const what = selected ? 'the selected resources' : 'the application'
  const syncWord = selected ? (inSync ? 'Synced' : 'OutOfSync') : appSync

  let notice: string | undefined
  const live = revisionList(app, status.sync)
  const differ = exp.expected.filter(e => !sameRevision(e.revision, live[e.index]))
  if (differ.length > 0) {
    const pairs = differ.map(
      e => `${e.label ? `${e.label}: ` : ''}${live[e.index] ?? '(none)'}, not ${e.revision}`
    )
    if (!laterReconcile) {
      return waiting(
        `reconciled in the same second at another revision than ours (${pairs.join('; ')}); waiting for the next reconcile`
      )
    }
    if (!inSync) {
      return waiting(
        `Argo CD compares ${what} against another revision than ours (${pairs.join('; ')}) and finds it ${syncWord}: waiting until it is Synced at our revision (a later commit that changes the app landed, or targetRevision does not point at our revision yet)`,
        { resources: unhealthyResources(app, selected) }
      )
    }
    notice = `Argo CD now compares against another revision than ours (${pairs.join('; ')}) and finds ${what} Synced: the live state equals the manifests of that revision, which are those of ours (a later commit that does not change the app)`
  }
  if (!inSync) {
    return waiting(
      selected
        ? `selected resources not Synced: ${outOfSync.map(r => `${r.kind} ${r.name}`).join(', ')}`
        : `sync status ${appSync}`,
      { resources: unhealthyResources(app, selected) }
    )
  }
  const others = selected
    ? (status.resources ?? [])
        .filter(r => r.status === 'OutOfSync' && !selected.some(s => matchesResource(r, s)))
        .map(r => resourceLabel(r))
    : []
  const suffix = `${others.length ? `; other resources OutOfSync (not selected): ${others.join(', ')}` : ''}${notice ? `; ${notice}` : ''}`
  const subject = selected ? 'selected resources Synced' : 'Synced'
  if (exp.waitFor === 'sync') return done(app, `${subject}${suffix}`, notice, selected)

  const health = selected ? worstHealth(mine) : (status.health?.status ?? 'Unknown')
  const healthMessage = selected ? undefined : status.health?.message
  if (exp.healthyStates.includes(health)) {
    return done(app, `${subject} and ${health}${suffix}`, notice, selected)
  }
  if (health === 'Degraded') {
    const since = memory.degradedSince ?? now
    if (now - since >= exp.degradedGraceMs) {
      return failed(
        `Degraded for ${Math.round((now - since) / 1000)}s (grace ${Math.round(exp.degradedGraceMs / 1000)}s)${healthMessage ? `: ${healthMessage}` : ''}`,
        unhealthyResources(app, selected),
        true
      )
    }
    return waiting('Degraded, within the grace period', {
      degraded: true,
      awaitingHealth: true,
      resources: unhealthyResources(app, selected)
    })
  }
  return waiting(`health ${health}`, {
    resources: unhealthyResources(app, selected),
    awaitingHealth: true
  })
}

function done(
  app: Application,
  reason: string,
  notice?: string,
  only?: readonly ResourceRef[]
): Verdict {
  return {
    state: 'succeeded',
    reason,
    degraded: false,
    running: false,
    resources: unhealthyResources(app, only),
    ...(notice ? { notice } : {})
  }
}

/** What to remember of this state for the next one: Degraded since when, our operation seen. */
export function remember(
  memory: Memory,
  app: Application,
  exp: Expectation,
  verdict: Verdict,
  now: number
): Memory {
  const next: Memory = { ...memory }
  if (verdict.degraded) next.degradedSince ??= now
  else delete next.degradedSince
  const state = app.status?.operationState
  if (state && isOurOperation(state, exp, app)) {
    if (state.phase === 'Succeeded') next.ours = 'succeeded'
    else next.ours ??= 'started'
  }
  return next
}
