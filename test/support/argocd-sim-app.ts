/**
 * The Application objects of the Argo CD simulator: built from the captured GET body
 * (reference/argocd), single-source (`spec.source`, singular `revision` fields) or
 * multi-source (`spec.sources`, `revisions` aligned with the sources, as
 * pkg/apis/application/v1alpha1/types.go has them), with the resources the
 * controller tracks. Also the simulator's clock (Argo CD times have second
 * resolution) and the types the other simulator modules share.
 */
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fakeSha, type SimRepos } from './argocd-sim-repos.js'
import type { SimRollout, SimRolloutSpec } from './argocd-sim-rollout.js'

/** The reference data directory (captured examples). */
export const REFERENCE_DIR = join(import.meta.dirname, '..', 'fixtures', 'argocd', 'reference')

/** What happens when an app is synced. */
export type Scenario =
  | 'healthy'
  | 'degraded-then-recovers'
  | 'degraded'
  | 'failed-hook'
  | 'slow'
  | 'stuck'
  | 'wrong-revision'
  | 'retry-then-succeeds'
  | 'missing-health'
  | 'suspended'

/** One source of a simulated app (`ApplicationSource`). */
export interface SimSourceSpec {
  repoURL: string
  /** Default `HEAD` (git); the chart version for a chart source. */
  targetRevision?: string
  path?: string
  /** A Helm chart of a Helm repository (then `targetRevision` is its version). */
  chart?: string
  /** A reference source (`$<ref>/...` in another source's value files). */
  ref?: string
  name?: string
  helm?: { valueFiles?: string[] }
}

/** A resource of a simulated app besides its Service and Deployment. */
export interface SimResourceSpec {
  group?: string
  kind: string
  name: string
  /** Changed by hand in the cluster: OutOfSync until a sync applies it. */
  drifted?: boolean
  /** Live but no longer in git: `requiresPruning`, OutOfSync until pruned. */
  extraneous?: boolean
}

/** One app of the simulator. */
export interface SimAppSpec {
  name: string
  namespace?: string
  project?: string
  labels?: Record<string, string>
  scenario?: Scenario
  /** The commit the app's git source resolves to at the start (a push not synced yet). */
  head?: string
  /** The single source (default: `https://git.example.com/acme/<name>-config.git`, `apps/<name>`). */
  source?: SimSourceSpec
  /** Several sources: a multi-source app (`spec.sources`). */
  sources?: SimSourceSpec[]
  /** No commit waiting: the app starts Synced at its head. */
  upToDate?: boolean
  /** An automated sync policy (`spec.syncPolicy.automated`). */
  autoSync?: { prune?: boolean }
  /** More resources (a drifted ConfigMap, an extraneous one that requires pruning). */
  extraResources?: SimResourceSpec[]
  /** A commit lands on the git source's branch while an operation runs (another push). */
  landsDuringSync?: { touches: boolean }
  /**
   * An operation already there at the start: finishes after `steps` (or never);
   * `pendingSteps`: set but not started by the controller for that many steps.
   */
  runningOperation?: { steps?: number; automated?: boolean; pendingSteps?: number }
  /** The first sync POST races an auto-sync that starts just before it. */
  autoSyncRace?: boolean
  /** A deny sync window blocks manual syncs (403 on POST .../sync). */
  syncWindow?: boolean
  /** An Argo Rollouts Rollout instead of the Deployment (argocd-sim-rollout.ts). */
  rollout?: SimRolloutSpec
}

/** The fields of the Application object the simulator writes. */
export interface AppObj {
  metadata: { name: string; namespace: string; labels?: Record<string, string> }
  spec: {
    project: string
    source?: SimSourceSpec
    sources?: SimSourceSpec[]
    syncPolicy?: { automated?: { prune?: boolean; selfHeal?: boolean } }
  }
  status: Record<string, unknown> & {
    operationState?: Record<string, unknown>
    sync: Record<string, unknown>
    health: Record<string, unknown>
    resources: Record<string, unknown>[]
    reconciledAt?: string
    history?: Record<string, unknown>[]
  }
  operation?: Record<string, unknown>
}

/** The simulator's state of one app. */
export interface AppState {
  spec: SimAppSpec
  obj: AppObj
  timers: Set<NodeJS.Timeout>
  /** Increments on each new operation; stale timers check it. */
  generation: number
  raced: boolean
  watchers: Set<(type: string) => void>
  /** What the cluster runs: the manifests identity applied, per resource key. */
  applied: Map<string, string>
  /** The app's Rollout, when its workload is one. */
  rollout?: SimRollout
}

/** The simulator's clock: real time plus an offset that only grows (see `bumpPast`). */
let clockOffset = 0
export function simNow(): number {
  return Date.now() + clockOffset
}
/** Make the clock read at least `ms` (reconciledAt must land past finishedAt). */
export function bumpPast(ms: number): void {
  if (simNow() < ms) clockOffset += ms - simNow()
}

/** An Argo CD timestamp (whole seconds). */
export function iso(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z')
}

export function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T
}

/** The captured GET body, used as the template of every app object. */
export function templateApp(): Record<string, unknown> {
  return JSON.parse(
    readFileSync(join(REFERENCE_DIR, 'captured_get-application-myapp.json'), 'utf8')
  ) as Record<string, unknown>
}

/** The app's sources in order (a single-source app: its one source). */
export function sourcesOf(st: AppState): SimSourceSpec[] {
  return st.obj.spec.sources ?? [st.obj.spec.source!]
}

/** Whether the app has `spec.sources` (Argo CD's `HasMultipleSources`). */
export function isMulti(st: AppState): boolean {
  return (st.obj.spec.sources?.length ?? 0) > 0
}

/** A resource's key (`group/kind/namespace/name`). */
export function resourceKey(r: Record<string, unknown>): string {
  return `${String(r.group ?? '')}/${String(r.kind)}/${String(r.namespace ?? '')}/${String(r.name)}`
}

/**
 * The manifests identity of one resource at the given revisions (one per source):
 * git sources by the last commit that changed it, chart sources by version.
 */
export function identityOf(
  repos: SimRepos,
  st: AppState,
  revisions: string[],
  kind: string
): string {
  return sourcesOf(st)
    .map((s, i) =>
      s.chart
        ? `${s.chart}@${revisions[i]}`
        : repos.identity(s.repoURL, revisions[i] ?? '', st.spec.name, kind)
    )
    .join('|')
}

/**
 * Register an app's repositories (history, refs, chart versions) and return the
 * revisions it runs. Unless `upToDate`, each git source then gets one more commit
 * that changes the app's Deployment (an image bump not synced yet).
 */
function seedRepos(repos: SimRepos, spec: SimAppSpec, sources: SimSourceSpec[]): string[] {
  let pending = 0
  const workload = spec.rollout ? 'Rollout' : 'Deployment'
  return sources.map(s => {
    if (s.chart) {
      repos.addVersions(s.repoURL, [s.targetRevision ?? ''])
      return s.targetRevision ?? ''
    }
    if (!repos.has(s.repoURL)) repos.push(s.repoURL, { sha: fakeSha(`${spec.name}-old`) })
    const deployed = repos.head(s.repoURL)!
    if (!spec.upToDate) {
      const n = pending++
      const sha =
        n === 0 ? (spec.head ?? fakeSha(`${spec.name}-HEAD`)) : fakeSha(`${spec.name}-HEAD-${n}`)
      repos.push(s.repoURL, { sha, touches: [`${spec.name}/${workload}`] })
    }
    return deployed
  })
}

/** Build an app's object and state from its spec (the repositories get its history). */
export function makeApp(spec: SimAppSpec, now: number, repos: SimRepos): AppState {
  const t = templateApp() as unknown as AppObj & { metadata: Record<string, unknown> }
  t.metadata.name = spec.name
  t.metadata.namespace = spec.namespace ?? 'argocd'
  t.metadata.uid = randomUUID()
  if (spec.labels) t.metadata.labels = { ...spec.labels }
  t.spec.project = spec.project ?? 'default'
  const single: SimSourceSpec = spec.source ?? {
    repoURL: `https://git.example.com/acme/${spec.name}-config.git`,
    path: `apps/${spec.name}`,
    targetRevision: 'HEAD'
  }
  if (spec.sources) {
    delete t.spec.source
    t.spec.sources = clone(spec.sources)
  } else t.spec.source = clone(single)
  if (spec.autoSync) {
    t.spec.syncPolicy = { automated: { prune: spec.autoSync.prune ?? false, selfHeal: false } }
  }
  const st: AppState = {
    spec,
    obj: t,
    timers: new Set(),
    generation: 0,
    raced: false,
    watchers: new Set(),
    applied: new Map()
  }
  const deployed = seedRepos(repos, spec, sourcesOf(st))
  const status = t.status
  const resource = (group: string | undefined, kind: string, name: string, health = true) => ({
    ...(group ? { group } : {}),
    version: kind === 'Rollout' ? 'v1alpha1' : 'v1',
    kind,
    namespace: 'shop',
    name,
    status: 'Synced',
    ...(health ? { health: { status: 'Healthy' } } : {})
  })
  status.resources = [
    resource(undefined, 'Service', spec.name),
    spec.rollout
      ? resource('argoproj.io', 'Rollout', spec.rollout.name ?? spec.name)
      : resource('apps', 'Deployment', spec.name),
    ...(spec.extraResources ?? []).map(r => ({
      ...resource(r.group, r.kind, r.name, false),
      ...(r.extraneous ? { requiresPruning: true } : {})
    }))
  ]
  for (const r of status.resources) {
    const extra = spec.extraResources?.find(x => x.kind === r.kind && x.name === r.name)
    if (extra?.extraneous) continue
    st.applied.set(
      resourceKey(r),
      extra?.drifted ? 'drifted' : identityOf(repos, st, deployed, String(r.kind))
    )
  }
  status.health = { status: 'Healthy', lastTransitionTime: iso(now - 3600_000) }
  const os = status.operationState as Record<string, unknown> & {
    operation: { sync: Record<string, unknown> }
    syncResult: Record<string, unknown> & { resources: Record<string, unknown>[] }
  }
  const history = (status.history as Record<string, unknown>[])[0]!
  if (spec.sources) {
    delete os.operation.sync.revision
    os.operation.sync.revisions = [...deployed]
    delete os.syncResult.revision
    delete os.syncResult.source
    os.syncResult.revisions = [...deployed]
    os.syncResult.sources = clone(spec.sources)
    delete history.revision
    delete history.source
    history.revisions = [...deployed]
    history.sources = clone(spec.sources)
    delete status.sourceType
    status.sourceTypes = spec.sources.map(s => (s.chart ? 'Helm' : 'Directory'))
  } else {
    os.operation.sync.revision = deployed[0]
    os.syncResult.revision = deployed[0]
    os.syncResult.source = clone(single)
    history.revision = deployed[0]
    history.source = clone(single)
  }
  for (const r of os.syncResult.resources) {
    r.namespace = 'shop'
    r.name = spec.name
  }
  if (spec.rollout) {
    const name = spec.rollout.name ?? spec.name
    Object.assign(os.syncResult.resources[1]!, {
      group: 'argoproj.io',
      version: 'v1alpha1',
      kind: 'Rollout',
      name,
      message: `rollout.argoproj.io/${name} created`
    })
  }
  os.startedAt = iso(now - 3600_000)
  os.finishedAt = iso(now - 3599_000)
  status.reconciledAt = iso(now - 60_000)
  ;(status.summary as { images: string[] }).images = [`registry.example.com/acme/${spec.name}:old`]
  return st
}
