/**
 * Argo CD Application objects as the REST API returns them (only the fields we
 * read), and the pure verdict that decides, from one Application object, whether
 * our sync is done, failed or still to wait for. No I/O here.
 */

/** A resource as it appears in `status.resources`. */
export interface ResourceStatus {
  group?: string
  version?: string
  kind?: string
  namespace?: string
  name?: string
  status?: string
  health?: { status?: string; message?: string }
  hook?: boolean
  requiresPruning?: boolean
}

/** One entry of `operationState.syncResult.resources`. */
export interface ResourceResult {
  group?: string
  version?: string
  kind?: string
  namespace?: string
  name?: string
  status?: string
  message?: string
  hookType?: string
  hookPhase?: string
  syncPhase?: string
}

/** The sync part of an operation. */
export interface SyncOperation {
  revision?: string
  revisions?: string[]
  prune?: boolean
  dryRun?: boolean
  syncStrategy?: { hook?: { force?: boolean }; apply?: { force?: boolean } }
  syncOptions?: string[]
  resources?: { group?: string; kind?: string; name?: string; namespace?: string }[]
}

/** `operation` (requested) and `operationState.operation` (running or finished). */
export interface Operation {
  sync?: SyncOperation
  initiatedBy?: { username?: string; automated?: boolean }
  retry?: { limit?: number }
}

/** `status.operationState`. */
export interface OperationState {
  operation?: Operation
  phase?: string
  message?: string
  retryCount?: number
  startedAt?: string
  finishedAt?: string
  syncResult?: { revision?: string; revisions?: string[]; resources?: ResourceResult[] }
}

/** An Argo CD Application (the fields this toolkit reads). */
export interface Application {
  metadata: {
    name: string
    namespace?: string
    labels?: Record<string, string>
    resourceVersion?: string
  }
  spec?: {
    project?: string
    source?: { repoURL?: string; path?: string; targetRevision?: string }
    sources?: { repoURL?: string; targetRevision?: string }[]
  }
  status?: {
    resources?: ResourceStatus[]
    sync?: { status?: string; revision?: string; revisions?: string[] }
    health?: { status?: string; message?: string }
    reconciledAt?: string
    operationState?: OperationState
  }
  operation?: Operation
}

/** How far to wait: cumulative levels. */
export type WaitFor = 'operation' | 'sync' | 'health'

/** What we asked for and what counts as done. */
export interface Expectation {
  /** The resolved revision our sync asked for (from the sync response). */
  revision?: string
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
}

const RUNNING = new Set(['Running', 'Terminating'])
const FAILED = new Set(['Failed', 'Error'])

/** Parse an Argo CD timestamp (RFC 3339) to ms, or undefined. */
export function parseTime(value: string | undefined): number | undefined {
  if (!value) return undefined
  const t = Date.parse(value)
  return Number.isNaN(t) ? undefined : t
}

/** `group/kind namespace/name` for a resource, as people read it. */
export function resourceLabel(r: {
  group?: string
  kind?: string
  namespace?: string
  name?: string
}): string {
  const kind = r.group ? `${r.group}/${r.kind ?? '?'}` : (r.kind ?? '?')
  return `${kind} ${r.namespace ? `${r.namespace}/` : ''}${r.name ?? '?'}`
}

/** Resources of a finished operation that failed (sync or hook). */
export function failedResources(app: Application): string[] {
  const out: string[] = []
  for (const r of app.status?.operationState?.syncResult?.resources ?? []) {
    const hookFailed = r.hookPhase && FAILED.has(r.hookPhase)
    if (r.status === 'SyncFailed' || hookFailed) {
      const hook = r.hookType ? ` (${r.hookType} hook)` : ''
      out.push(`${resourceLabel(r)}${hook}: ${r.message ?? r.status ?? r.hookPhase}`)
    }
  }
  return out
}

/** Resources whose health is not Healthy (and not absent), or that are OutOfSync. */
export function unhealthyResources(app: Application): string[] {
  const out: string[] = []
  for (const r of app.status?.resources ?? []) {
    const health = r.health?.status
    const bad = health !== undefined && health !== 'Healthy'
    const outOfSync = r.status === 'OutOfSync'
    if (bad || outOfSync) {
      const parts = [bad ? health : undefined, outOfSync ? 'OutOfSync' : undefined]
      const message = r.health?.message ? `: ${r.health.message}` : ''
      out.push(`${resourceLabel(r)} ${parts.filter(Boolean).join(', ')}${message}`)
    }
  }
  return out
}

/** The revision an operation ran or asked for (first source of a multi-source app). */
function opRevision(op: Operation | undefined): string | undefined {
  return op?.sync?.revision || op?.sync?.revisions?.[0]
}

/** Whether `operationState` belongs to the sync we requested. */
export function isOurOperation(state: OperationState | undefined, exp: Expectation): boolean {
  if (!state) return false
  const started = parseTime(state.startedAt)
  if (started === undefined) return false
  // Second resolution on the server, ms on our side: compare on whole seconds.
  const skew = exp.skewMs ?? 1000
  if (started < Math.floor(exp.requestedAt / 1000) * 1000 - skew) return false
  const rev = opRevision(state.operation)
  if (exp.revision && rev && rev !== exp.revision) return false
  return true
}

function waiting(reason: string, extra: Partial<Verdict> = {}): Verdict {
  return { state: 'waiting', reason, degraded: false, running: false, resources: [], ...extra }
}

/**
 * Decide from one Application object whether our sync is done.
 *
 * `degradedSince` is when the caller first saw Degraded in an unbroken run (or
 * undefined); `now` is the caller's clock.
 */
export function decide(
  app: Application,
  exp: Expectation,
  now: number,
  degradedSince?: number
): Verdict {
  const status = app.status ?? {}
  const state = status.operationState
  if (!isOurOperation(state, exp) || !state) {
    if (app.operation) return waiting('sync requested, waiting for the controller to start it')
    if (state && RUNNING.has(state.phase ?? '')) {
      return waiting(`another operation is running: ${state.message ?? state.phase}`)
    }
    return waiting('waiting for our operation to start')
  }
  const phase = state.phase ?? 'Unknown'
  const message = state.message ?? ''
  if (RUNNING.has(phase)) {
    if (phase === 'Running' && state.finishedAt) {
      return waiting(
        `attempt failed, retrying (retry ${state.retryCount ?? '?'}): ${message || 'no message'}`,
        { running: true }
      )
    }
    return waiting(`operation ${phase}${message ? `: ${message}` : ''}`, { running: true })
  }
  if (FAILED.has(phase)) {
    return {
      state: 'failed',
      reason: `operation ${phase}: ${message || 'no message'}`,
      degraded: false,
      running: false,
      resources: failedResources(app)
    }
  }
  if (phase !== 'Succeeded') return waiting(`operation phase ${phase}`)
  if (app.operation) return waiting('operation finished, another one is queued')

  const synced = state.syncResult?.revision || state.syncResult?.revisions?.[0]
  if (exp.revision && synced && synced !== exp.revision) {
    return {
      state: 'failed',
      reason: `the operation synced revision ${synced}, not ${exp.revision}`,
      degraded: false,
      running: false,
      resources: []
    }
  }
  if (exp.waitFor === 'operation') return done(app, `operation Succeeded: ${message}`)

  const finished = parseTime(state.finishedAt) ?? 0
  const reconciled = parseTime(status.reconciledAt)
  if (reconciled === undefined || reconciled < finished) {
    return waiting('operation Succeeded, waiting for the next reconcile')
  }
  const liveRev = status.sync?.revision || status.sync?.revisions?.[0]
  if (exp.revision && liveRev !== exp.revision) {
    if (reconciled > finished) {
      return {
        state: 'failed',
        reason: `Argo CD now compares against revision ${liveRev ?? '(none)'}, not ${exp.revision}: a newer commit landed, or targetRevision does not point at our revision`,
        degraded: false,
        running: false,
        resources: unhealthyResources(app)
      }
    }
    return waiting(`reconciled at revision ${liveRev ?? '(none)'}, waiting for ${exp.revision}`)
  }
  const sync = status.sync?.status ?? 'Unknown'
  if (sync !== 'Synced') {
    return waiting(`sync status ${sync}`, { resources: unhealthyResources(app) })
  }
  if (exp.waitFor === 'sync') return done(app, 'Synced')

  const health = status.health?.status ?? 'Unknown'
  if (exp.healthyStates.includes(health)) return done(app, `Synced and ${health}`)
  if (health === 'Degraded') {
    const since = degradedSince ?? now
    if (now - since >= exp.degradedGraceMs) {
      return {
        state: 'failed',
        reason: `Degraded for ${Math.round((now - since) / 1000)}s (grace ${Math.round(exp.degradedGraceMs / 1000)}s)${status.health?.message ? `: ${status.health.message}` : ''}`,
        degraded: true,
        running: false,
        resources: unhealthyResources(app)
      }
    }
    return waiting('Degraded, within the grace period', {
      degraded: true,
      resources: unhealthyResources(app)
    })
  }
  return waiting(`health ${health}`, { resources: unhealthyResources(app) })
}

function done(app: Application, reason: string): Verdict {
  return {
    state: 'succeeded',
    reason,
    degraded: false,
    running: false,
    resources: unhealthyResources(app)
  }
}

/** Whether an operation (anyone's) is running or requested on the app. */
export function operationInProgress(app: Application): boolean {
  if (app.operation) return true
  return RUNNING.has(app.status?.operationState?.phase ?? '')
}

/** The one-line state of an app, for logs: `Running/OutOfSync/Progressing`. */
export function stateLine(app: Application): string {
  const s = app.status ?? {}
  return `operation ${s.operationState?.phase ?? 'none'}, ${s.sync?.status ?? 'Unknown'}, ${s.health?.status ?? 'Unknown'}`
}
