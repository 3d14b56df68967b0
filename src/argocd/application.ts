/**
 * Argo CD Application objects as the REST API returns them (only the fields we
 * read), and pure helpers that read them: resource labels, failed and unhealthy
 * resources, whether an operation is in progress, the one-line state for logs.
 * The verdict is in verdict.ts, the sources in sources.ts. No I/O.
 */

/** What names a resource (group, version, kind, namespace, name), as the API writes it. */
export interface ResourceKey {
  group?: string
  version?: string
  kind?: string
  namespace?: string
  name?: string
}

/** A resource as it appears in `status.resources`. */
export interface ResourceStatus extends ResourceKey {
  status?: string
  health?: { status?: string; message?: string }
  hook?: boolean
  requiresPruning?: boolean
}

/** One entry of `operationState.syncResult.resources`. */
export interface ResourceResult extends ResourceKey {
  status?: string
  message?: string
  hookType?: string
  hookPhase?: string
  syncPhase?: string
}

/** A resource named in a sync request (`SyncOperationResource`). */
export interface ResourceRef {
  group?: string
  kind?: string
  name?: string
  namespace?: string
}

/** One source of an application (`ApplicationSource`, the fields we read). */
export interface AppSource {
  repoURL?: string
  path?: string
  targetRevision?: string
  chart?: string
  ref?: string
  name?: string
}

/** The sync part of an operation. */
export interface SyncOperation {
  revision?: string
  revisions?: string[]
  prune?: boolean
  dryRun?: boolean
  syncStrategy?: { hook?: { force?: boolean }; apply?: { force?: boolean } }
  syncOptions?: string[]
  resources?: ResourceRef[]
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

/** One entry of `status.history` (a successful full sync). */
export interface RevisionHistory {
  revision?: string
  revisions?: string[]
  deployStartedAt?: string
  deployedAt?: string
  initiatedBy?: { username?: string; automated?: boolean }
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
    source?: AppSource
    sources?: AppSource[]
    syncPolicy?: { automated?: { prune?: boolean; selfHeal?: boolean } }
  }
  status?: {
    resources?: ResourceStatus[]
    sync?: { status?: string; revision?: string; revisions?: string[] }
    health?: { status?: string; message?: string }
    reconciledAt?: string
    operationState?: OperationState
    history?: RevisionHistory[]
  }
  operation?: Operation
}

const RUNNING = new Set(['Running', 'Terminating'])
const FAILED = new Set(['Failed', 'Error'])

/** Whether an operation phase is still running (`Running`, `Terminating`). */
export function isRunningPhase(phase: string | undefined): boolean {
  return RUNNING.has(phase ?? '')
}

/** Whether an operation phase is a failure (`Failed`, `Error`). */
export function isFailedPhase(phase: string | undefined): boolean {
  return FAILED.has(phase ?? '')
}

/** Parse an Argo CD timestamp (RFC 3339) to ms, or undefined. */
export function parseTime(value: string | undefined): number | undefined {
  if (!value) return undefined
  const t = Date.parse(value)
  return Number.isNaN(t) ? undefined : t
}

/** `group/kind namespace/name` for a resource, as people read it. */
export function resourceLabel(r: ResourceRef): string {
  const kind = r.group ? `${r.group}/${r.kind ?? '?'}` : (r.kind ?? '?')
  return `${kind} ${r.namespace ? `${r.namespace}/` : ''}${r.name ?? '?'}`
}

/**
 * Whether a resource is one a sync request named: Argo CD's `HasIdentity` (group,
 * kind and name equal; the namespace too when the request gives one).
 */
export function matchesResource(r: ResourceRef, selected: ResourceRef): boolean {
  return (
    (r.group ?? '') === (selected.group ?? '') &&
    r.kind === selected.kind &&
    r.name === selected.name &&
    (!selected.namespace || selected.namespace === (r.namespace ?? ''))
  )
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

/**
 * Resources the operation left in place because they require pruning and prune was
 * off: Argo CD's `ResourceResults.PruningRequired` (a `PruneSkipped` result, except
 * those marked `Prune=false`, whose message reads "no prune").
 */
export function pruneSkipped(app: Application): string[] {
  return (app.status?.operationState?.syncResult?.resources ?? [])
    .filter(r => r.status === 'PruneSkipped' && !(r.message ?? '').includes('no prune'))
    .map(r => resourceLabel(r))
}

/** A resource line for people: label, health and sync problems, health message. */
function describe(r: ResourceStatus): string | undefined {
  const health = r.health?.status
  const bad = health !== undefined && health !== 'Healthy'
  const outOfSync = r.status === 'OutOfSync'
  if (!bad && !outOfSync) return undefined
  const parts = [bad ? health : undefined, outOfSync ? 'OutOfSync' : undefined]
  const message = r.health?.message ? `: ${r.health.message}` : ''
  return `${resourceLabel(r)} ${parts.filter(Boolean).join(', ')}${message}`
}

/**
 * Resources whose health is not Healthy (and not absent), or that are OutOfSync;
 * only those of `only` when given.
 */
export function unhealthyResources(app: Application, only?: readonly ResourceRef[]): string[] {
  const out: string[] = []
  for (const r of app.status?.resources ?? []) {
    if (only && !only.some(s => matchesResource(r, s))) continue
    const line = describe(r)
    if (line) out.push(line)
  }
  return out
}

/** Whether an operation (anyone's) is running or requested on the app. */
export function operationInProgress(app: Application): boolean {
  if (app.operation) return true
  return RUNNING.has(app.status?.operationState?.phase ?? '')
}

/** The one-line state of an app, for logs: `operation Running, OutOfSync, Progressing`. */
export function stateLine(app: Application): string {
  const s = app.status ?? {}
  return `operation ${s.operationState?.phase ?? 'none'}, ${s.sync?.status ?? 'Unknown'}, ${s.health?.status ?? 'Unknown'}`
}
