/**
 * The API server's application handlers of the Argo CD simulator, after argoproj/
 * argo-cd at commit 37ee0097cf85:
 *
 * - body decoding: grpc-gateway v1 with Argo CD's util/grpc/json.go `JSONMarshaler`,
 *   which is Go's encoding/json. Keys match case-insensitively, unknown keys are
 *   ignored, and a value of the wrong JSON type is InvalidArgument (HTTP 400) "json:
 *   cannot unmarshal string into Go struct field ApplicationSyncRequest.sourcePositions
 *   of type int64": `sourcePositions` are int64 and must be JSON numbers, although the
 *   swagger writes them as strings (protojson's form, which this server never reads);
 * - server/application/application.go `Sync`: a deny sync window is PermissionDenied
 *   "cannot sync: blocked by sync window"; `resolveSourceRevisions` then resolves every
 *   revision before the operation is set: for a multi-source app only `revisions` +
 *   `sourcePositions` count (the singular `revision` is ignored), a position out of
 *   range is "source position is out of range" (Unknown, 500), a revision other than
 *   the targetRevision of an app with automated sync is FailedPrecondition "Cannot sync
 *   [source <repoURL>] to <rev>: auto-sync currently set to <targetRevision>", and a
 *   revision the repo server cannot resolve is FailedPrecondition "error resolving repo
 *   revision: rpc error: code = Unknown desc = unable to resolve '<rev>' to a commit
 *   SHA: revision not found"; util/argo/argo.go `SetAppOperation` answers
 *   FailedPrecondition "another operation is already in progress" while `operation` is
 *   set. The operation carries `revision` (single source) or `revisions` + `sources`;
 * - `TerminateOperation`: InvalidArgument "Unable to terminate operation. No operation
 *   is in progress" unless `operation` is set and the controller has started it.
 */
import { clone, isMulti, sourcesOf, type AppState } from './argocd-sim-app.js'
import type { SimController } from './argocd-sim-controller.js'

/** A gRPC error the HTTP layer turns into a gRPC-gateway error body. */
export interface GrpcError {
  code: number
  message: string
}

/** A decoded sync request (ApplicationSyncRequest). */
export interface SyncBody {
  name?: string
  revision?: string
  dryRun?: boolean
  prune?: boolean
  strategy?: Record<string, unknown>
  resources?: Record<string, unknown>[]
  syncOptions?: { items?: string[] }
  appNamespace?: string
  project?: string
  sourcePositions?: number[]
  revisions?: string[]
}

type GoType = 'string' | 'bool' | 'int64' | 'object' | `[]${'string' | 'int64' | 'object'}`
const FIELDS: Record<string, GoType> = {
  name: 'string',
  revision: 'string',
  dryRun: 'bool',
  prune: 'bool',
  strategy: 'object',
  resources: '[]object',
  manifests: '[]string',
  infos: '[]object',
  retryStrategy: 'object',
  syncOptions: 'object',
  appNamespace: 'string',
  project: 'string',
  sourcePositions: '[]int64',
  revisions: '[]string'
}

const kindOf = (v: unknown): string =>
  v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v === 'boolean' ? 'bool' : typeof v

function typeError(value: unknown, struct: string, field: string, type: string): GrpcError {
  return {
    code: 3,
    message: `json: cannot unmarshal ${kindOf(value)} into Go struct field ${struct}.${field} of type ${type}`
  }
}

/** Check one value against a Go type (null is always accepted, as Go leaves the zero value). */
function check(value: unknown, type: GoType, struct: string, field: string): GrpcError | undefined {
  if (value === null) return undefined
  if (type.startsWith('[]')) {
    if (!Array.isArray(value)) return typeError(value, struct, field, type)
    for (const item of value) {
      const e = check(item, type.slice(2) as GoType, struct, field)
      if (e) return e
    }
    return undefined
  }
  const ok =
    type === 'string'
      ? typeof value === 'string'
      : type === 'bool'
        ? typeof value === 'boolean'
        : type === 'int64'
          ? typeof value === 'number'
          : typeof value === 'object' && !Array.isArray(value)
  if (!ok) return typeError(value, struct, field, type)
  // JSON.parse cannot tell 1 from 1.0, which Go also refuses for int64; our client
  // sends integers, so only the wrong JSON type and fractions are checked.
  if (type === 'int64' && !Number.isSafeInteger(value)) {
    return {
      code: 3,
      message: `json: cannot unmarshal number ${String(value)} into Go struct field ${struct}.${field} of type int64`
    }
  }
  return undefined
}

/** Decode a sync request body as Argo CD's gateway does (Go encoding/json). */
export function decodeSyncRequest(body: string): { value: SyncBody } | { error: GrpcError } {
  if (body.trim() === '') return { value: {} }
  let raw: unknown
  try {
    raw = JSON.parse(body)
  } catch {
    return { error: { code: 3, message: 'invalid character looking for beginning of value' } }
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return {
      error: {
        code: 3,
        message: `json: cannot unmarshal ${kindOf(raw)} into Go value of type application.ApplicationSyncRequest`
      }
    }
  }
  const value: Record<string, unknown> = {}
  for (const [key, v] of Object.entries(raw)) {
    const field =
      Object.keys(FIELDS).find(f => f === key) ??
      Object.keys(FIELDS).find(f => f.toLowerCase() === key.toLowerCase())
    if (!field) continue
    const e = check(v, FIELDS[field]!, 'ApplicationSyncRequest', field)
    if (e) return { error: e }
    if (field === 'syncOptions' && v) {
      const items = (v as Record<string, unknown>).items
      const ie =
        items === undefined
          ? undefined
          : check(items, '[]string', 'SyncOptions', 'syncOptions.items')
      if (ie) return { error: ie }
    }
    if (v !== null) value[field] = v
  }
  return { value: value as SyncBody }
}

/** The revision each source syncs to (Argo CD's `resolveSourceRevisions`). */
function resolveRevisions(
  ctrl: SimController,
  st: AppState,
  b: SyncBody
): { revisions: string[] } | { error: GrpcError } {
  const sources = sourcesOf(st)
  const auto = Boolean(st.obj.spec.syncPolicy?.automated) && !b.dryRun
  const desired: (string | undefined)[] = sources.map(() => undefined)
  if (isMulti(st)) {
    for (const [i, pos] of (b.sourcePositions ?? []).entries()) {
      if (pos <= 0 || pos > sources.length)
        return { error: { code: 2, message: 'source position is out of range' } }
      const rev = b.revisions?.[i]
      if (rev === undefined) {
        return {
          error: {
            code: 13,
            message: `runtime error: index out of range [${i}] with length ${b.revisions?.length ?? 0}`
          }
        }
      }
      desired[pos - 1] = rev
    }
  } else desired[0] = b.revision || undefined
  const out: string[] = []
  for (const [i, s] of sources.entries()) {
    const want = desired[i]
    if (want && want !== (s.targetRevision || 'HEAD') && auto) {
      const what = isMulti(st) ? `source ${s.repoURL}` : ''
      return {
        error: {
          code: 9,
          message: `Cannot sync ${what ? `${what} ` : ''}to ${want}: auto-sync currently set to ${s.targetRevision ?? ''}`
        }
      }
    }
    const ambiguous = want ?? s.targetRevision ?? ''
    const r = s.chart
      ? ctrl.repos.resolveChart(s.repoURL, s.chart, ambiguous)
      : ctrl.repos.resolve(s.repoURL, ambiguous)
    if ('error' in r) {
      return {
        error: {
          code: 9,
          message: `error resolving repo revision: rpc error: code = Unknown desc = ${r.error}`
        }
      }
    }
    out.push(r.revision)
  }
  return { revisions: out }
}

/** `Sync` after the RBAC and sync window checks: the operation, or the refusal. */
export function sync(
  ctrl: SimController,
  st: AppState,
  b: SyncBody,
  user: string
): { error: GrpcError } | { app: unknown } {
  const resolved = resolveRevisions(ctrl, st, b)
  if ('error' in resolved) return resolved
  if (st.obj.operation)
    return { error: { code: 9, message: 'another operation is already in progress' } }
  const items = b.syncOptions?.items
  const op = {
    sync: {
      ...(isMulti(st)
        ? { revisions: resolved.revisions, sources: clone(st.obj.spec.sources) }
        : { revision: resolved.revisions[0] }),
      ...(b.prune ? { prune: true } : {}),
      ...(b.dryRun ? { dryRun: true } : {}),
      syncStrategy: b.strategy ?? { hook: {} },
      ...(items ? { syncOptions: items } : {}),
      ...(b.resources?.length ? { resources: b.resources } : {})
    },
    initiatedBy: { username: user },
    retry: {}
  }
  ctrl.runOperation(st, op, st.spec.scenario ?? 'healthy')
  return { app: st.obj }
}

/** `TerminateOperation`: Terminating, or InvalidArgument when nothing has started. */
export function terminate(ctrl: SimController, st: AppState): GrpcError | undefined {
  if (!st.obj.operation || !st.obj.status.operationState) {
    return { code: 3, message: 'Unable to terminate operation. No operation is in progress' }
  }
  ctrl.terminate(st)
  return undefined
}
