/**
 * The application controller of the Argo CD simulator. Each behaviour follows
 * argoproj/argo-cd (commit 37ee0097cf85, the one of reference/argocd/swagger.json):
 *
 * - the operation life cycle, controller/sync.go `SyncAppState`: Running with
 *   `startedAt`; the sync result's revision(s) become the full SHA(s) the repo
 *   server checked out (a short or uppercase SHA in the request becomes the full,
 *   lowercase one); only the resources the operation names are applied; a resource
 *   that requires pruning is "PruneSkipped", "ignored (requires pruning)" with prune
 *   off (gitops-engine sync_context.go `pruneObject`) and the operation still
 *   Succeeds; the history records successful full syncs only;
 * - the reconcile, controller/state.go `CompareAppState`: the app is compared with
 *   what each source's targetRevision resolves to now, not with what was synced, so
 *   a later commit that does not change the app shows it Synced at that commit;
 * - auto-sync, controller/appcontroller.go `autoSync`: on an OutOfSync reconcile
 *   with no operation set, unless only pruning is left with prune off or the last
 *   sync already went to those revisions; `argo.SetAppOperation` sets `operation`
 *   and clears `operationState`;
 * - termination: an operation set Terminating ends Failed "Operation terminated";
 * - an app whose workload is an Argo Rollouts Rollout: the sync hands a changed pod
 *   template to the Rollout, whose health then is the app's (argocd-sim-rollout.ts).
 */
import { applyOperation, type Op } from './argocd-sim-apply.js'
import {
  bumpPast,
  clone,
  identityOf,
  isMulti,
  iso,
  resourceKey,
  simNow,
  sourcesOf,
  type AppState,
  type Scenario
} from './argocd-sim-app.js'
import { fakeSha, type SimCommit, type SimRepos } from './argocd-sim-repos.js'
import { rolloutHealthToApp, rolloutImage } from './argocd-sim-rollout-app.js'

/** Timings and scenario knobs of the controller. */
export interface ControllerOptions {
  stepMs: number
  degradedSteps?: number
  slowFactor?: number
}

/** The simulated controller over every app of one simulator. */
export class SimController {
  constructor(
    private readonly o: ControllerOptions,
    readonly repos: SimRepos,
    readonly apps: Map<string, AppState>,
    private readonly onFinal: (app: string) => void
  ) {}

  /** Each app's steps not yet run, in the order they are due. */
  private readonly queues = new Map<
    AppState,
    { due: number; seq: number; gen: number; fn: () => void }[]
  >()
  private seq = 0

  /** Tell the watchers of an app about a change (bumps resourceVersion and generation). */
  emit(st: AppState, type = 'MODIFIED'): void {
    const md = st.obj.metadata as Record<string, unknown>
    md.resourceVersion = String(Number(md.resourceVersion ?? 0) + 1)
    md.generation = Number(md.generation ?? 0) + 1
    for (const w of st.watchers) w(type)
  }

  /**
   * Run `fn` `steps` steps from now, after every step of the app due before it. Timers
   * alone do not promise that: Node keeps one list per delay, and when a blocked event
   * loop finds both expired, a longer delay's list whose head is older runs first (the
   * demo saw "waiting for healthy state" written before the operation had started).
   */
  private later(st: AppState, steps: number, fn: () => void): void {
    const gen = st.generation
    const entry = { due: Date.now() + steps * this.o.stepMs, seq: ++this.seq, gen, fn }
    const queue = (this.queues.get(st) ?? []).concat(entry)
    queue.sort((a, b) => a.due - b.due || a.seq - b.seq)
    this.queues.set(st, queue)
    const t = setTimeout(() => {
      st.timers.delete(t)
      const pending = this.queues.get(st) ?? []
      const upTo = pending.indexOf(entry)
      if (upTo < 0) return
      const due = pending.splice(0, upTo + 1)
      for (const e of due) if (st.generation === e.gen) e.fn()
    }, steps * this.o.stepMs)
    st.timers.add(t)
  }

  /** What each source's targetRevision resolves to now (undefined: does not resolve). */
  targets(st: AppState): string[] | undefined {
    const out: string[] = []
    for (const s of sourcesOf(st)) {
      const r = s.chart
        ? this.repos.resolveChart(s.repoURL, s.chart, s.targetRevision ?? '')
        : this.repos.resolve(s.repoURL, s.targetRevision || 'HEAD')
      if ('error' in r) return undefined
      out.push(s.chart ? r.revision : (this.repos.checkout(s.repoURL, r.revision) ?? r.revision))
    }
    return out
  }

  /** `CompareAppState`: sync status and revisions against the targets now (no event). */
  compare(st: AppState, at = simNow()): void {
    const s = st.obj.status
    const target = this.targets(st)
    if (!target) return
    for (const r of s.resources) {
      if (r.requiresPruning) r.status = 'OutOfSync'
      else {
        const want = identityOf(this.repos, st, target, String(r.kind))
        r.status = st.applied.get(resourceKey(r)) === want ? 'Synced' : 'OutOfSync'
      }
    }
    const synced = s.resources.every(r => r.status === 'Synced')
    const comparedTo = clone((s.sync.comparedTo ?? {}) as Record<string, unknown>)
    const rest = { ...s.sync }
    delete rest.revision
    delete rest.revisions
    if (isMulti(st)) {
      delete comparedTo.source
      comparedTo.sources = clone(st.obj.spec.sources)
      s.sync = { ...rest, status: synced ? 'Synced' : 'OutOfSync', comparedTo, revisions: target }
    } else {
      comparedTo.source = clone(st.obj.spec.source)
      s.sync = { ...rest, status: synced ? 'Synced' : 'OutOfSync', comparedTo, revision: target[0] }
    }
    s.reconciledAt = iso(at)
  }

  /** A reconcile that lands now: compare, tell the watchers, then auto-sync. */
  reconcile(st: AppState): void {
    this.compare(st)
    this.emit(st)
    this.autoSync(st)
  }

  /** `autoSync`: start an automated sync to the compared revisions when it should. */
  private autoSync(st: AppState): void {
    const policy = st.obj.spec.syncPolicy?.automated
    const s = st.obj.status
    if (!policy || st.obj.operation || s.sync.status !== 'OutOfSync') return
    const pending = s.resources.filter(r => r.status !== 'Synced')
    if (!policy.prune && pending.every(r => r.requiresPruning)) return
    const desired = isMulti(st) ? (s.sync.revisions as string[]) : [s.sync.revision as string]
    const last = s.operationState?.syncResult as Record<string, unknown> | undefined
    const lastRevs = last ? (isMulti(st) ? last.revisions : [last.revision]) : undefined
    if (JSON.stringify(lastRevs) === JSON.stringify(desired)) return
    this.runOperation(
      st,
      {
        sync: {
          ...(isMulti(st)
            ? { revisions: desired, sources: clone(st.obj.spec.sources) }
            : { revision: desired[0] }),
          ...(policy.prune ? { prune: true } : {})
        },
        initiatedBy: { automated: true },
        retry: { limit: 5 }
      },
      'healthy'
    )
  }

  /** A push to a repository: new head, then a reconcile of every app on it (a webhook). */
  push(url: string, commit: SimCommit, branch = 'main'): string {
    const sha = this.repos.push(url, commit, branch)
    for (const st of this.apps.values()) {
      if (sourcesOf(st).some(s => s.repoURL === url)) this.reconcile(st)
    }
    return sha
  }

  private setHealth(st: AppState, health: string, message?: string): void {
    // An app with a Rollout: its health follows the Rollout's (argocd-sim-rollout.ts).
    if (st.rollout) return rolloutHealthToApp(st, iso(simNow()))
    const s = st.obj.status
    s.health = {
      status: health,
      lastTransitionTime: iso(simNow()),
      ...(message ? { message } : {})
    }
    const dep = s.resources.find(r => r.kind === 'Deployment')
    if (dep) dep.health = { status: health, ...(message ? { message } : {}) }
  }

  /** The revisions an operation asked for, per source. */
  private opRevisions(st: AppState, op: Op): string[] {
    return isMulti(st) ? (op.sync.revisions ?? []) : [op.sync.revision ?? '']
  }

  /** Run one operation's life cycle. */
  runOperation(
    st: AppState,
    op: Op,
    scenario: Scenario,
    opts: { steps?: number; forever?: boolean; pendingSteps?: number } = {}
  ): void {
    st.generation++
    const s = st.obj.status
    const f = scenario === 'slow' ? (this.o.slowFactor ?? 10) : 1
    // 1. `SetAppOperation`: operation set, operationState cleared.
    st.obj.operation = op
    delete s.operationState
    this.emit(st)
    // 2. The controller starts it.
    const start = (opts.pendingSteps ?? 1) * f
    this.later(st, start, () => {
      s.operationState = {
        operation: clone(op),
        phase: 'Running',
        message: 'one or more tasks are running',
        startedAt: iso(simNow())
      }
      this.emit(st)
    })
    if (scenario === 'stuck' || opts.forever) {
      this.later(st, start + 1, () => {
        s.operationState!.message = `waiting for completion of hook batch/Job/${st.spec.name}-migrate`
        this.emit(st)
      })
      return
    }
    let step = start + f
    this.later(st, step, () => {
      s.operationState!.message = st.rollout
        ? `waiting for healthy state of argoproj.io/Rollout/${st.rollout.obj.metadata.name}`
        : `waiting for healthy state of apps/Deployment/${st.spec.name}`
      this.emit(st)
    })
    if (scenario === 'retry-then-succeeds') {
      step += f
      this.later(st, step, () => {
        Object.assign(s.operationState!, {
          phase: 'Running',
          finishedAt: iso(simNow()),
          retryCount: 1,
          message: `one or more objects failed to apply, reason: Internal error occurred (retried 1 times). Retrying attempt #1 at ${new Date(simNow() + this.o.stepMs).toISOString().slice(11, 19)}.`
        })
        this.emit(st)
      })
      step += 2 * f
      this.later(st, step, () => {
        delete s.operationState!.finishedAt
        s.operationState!.message = 'one or more tasks are running'
        this.emit(st)
      })
    }
    step += (opts.steps ?? 1) * f
    this.later(st, step, () => this.complete(st, op, scenario))
  }

  /** The end of an operation, then the reconcile after it and the health transitions. */
  private complete(st: AppState, op: Op, scenario: Scenario): void {
    const s = st.obj.status
    const sources = sourcesOf(st)
    const checked = this.opRevisions(st, op).map((r, i) =>
      sources[i]?.chart ? r : this.repos.checkout(sources[i]!.repoURL, r)
    )
    const missing = checked.findIndex(r => r === undefined)
    if (missing >= 0) {
      Object.assign(s.operationState!, {
        phase: 'Error',
        message: `ComparisonError: Failed to load target state: failed to generate manifest for source ${missing + 1} of ${sources.length}: rpc error: code = Unknown desc = unable to resolve git revision ${this.opRevisions(st, op)[missing]}: reference not found`,
        finishedAt: iso(simNow())
      })
      delete st.obj.operation
      this.emit(st)
      this.onFinal(st.spec.name)
      return
    }
    const failed = scenario === 'failed-hook'
    const synced =
      scenario === 'wrong-revision'
        ? [fakeSha(`${st.spec.name}-someone-else`)]
        : (checked as string[])
    const dryRun = Boolean(op.sync.dryRun)
    const workload = st.rollout && s.resources.find(r => r.kind === 'Rollout')
    const before = workload && st.applied.get(resourceKey(workload))
    const resources = applyOperation(this.repos, st, op, synced, failed)
    const after = workload && st.applied.get(resourceKey(workload))
    if (st.rollout && after && after !== before)
      st.rollout.update(rolloutImage(st.spec.name, after))
    const result: Record<string, unknown> = { resources }
    if (isMulti(st))
      Object.assign(result, { revisions: synced, sources: clone(st.obj.spec.sources) })
    else Object.assign(result, { revision: synced[0], source: clone(st.obj.spec.source) })
    Object.assign(s.operationState!, {
      phase: failed ? 'Failed' : 'Succeeded',
      message: failed
        ? 'one or more synchronization tasks completed unsuccessfully, reason: Job has reached the specified backoff limit'
        : 'successfully synced (all tasks run)',
      finishedAt: iso(simNow()),
      syncResult: result
    })
    delete st.obj.operation
    if (!failed && !dryRun && !op.sync.resources?.length) {
      const history = (s.history ??= [])
      history.push({
        ...(isMulti(st)
          ? { revisions: synced, sources: clone(st.obj.spec.sources) }
          : { revision: synced[0], source: clone(st.obj.spec.source) }),
        deployedAt: s.operationState!.finishedAt,
        id: history.length,
        deployStartedAt: s.operationState!.startedAt,
        initiatedBy: clone(op.initiatedBy)
      })
      ;(s.summary as { images: string[] }).images = [
        `registry.example.com/acme/${st.spec.name}:${String(synced.at(-1)).slice(0, 7)}`
      ]
    }
    this.emit(st)
    const lands = st.spec.landsDuringSync
    if (lands) {
      const git = sources.find(x => !x.chart)!
      this.repos.push(git.repoURL, {
        sha: fakeSha(`${st.spec.name}-newer-${st.generation}`),
        touches: lands.touches ? [st.spec.name] : []
      })
    }
    // The next reconcile: reconciledAt past finishedAt (second resolution), then health.
    this.later(st, 1, () => {
      bumpPast(Date.parse(String(s.operationState!.finishedAt)) + 1000)
      this.compare(st)
      if (!failed && !dryRun) this.setHealth(st, 'Progressing')
      this.emit(st)
      if (failed || dryRun) this.onFinal(st.spec.name)
      this.autoSync(st)
    })
    if (failed || dryRun) return
    this.healthSteps(st, scenario)
  }

  private healthSteps(st: AppState, scenario: Scenario): void {
    if (st.rollout) return
    let step = 2
    if (scenario === 'degraded' || scenario === 'degraded-then-recovers') {
      this.later(st, step, () => {
        this.setHealth(
          st,
          'Degraded',
          `Deployment "${st.spec.name}" exceeded its progress deadline`
        )
        this.emit(st)
        if (scenario === 'degraded') this.onFinal(st.spec.name)
      })
      if (scenario === 'degraded') return
      step += this.o.degradedSteps ?? 4
    }
    this.later(st, step, () => {
      if (scenario === 'missing-health') this.setHealth(st, 'Missing')
      else if (scenario === 'suspended') this.setHealth(st, 'Suspended')
      else this.setHealth(st, 'Healthy')
      this.emit(st)
      this.onFinal(st.spec.name)
    })
  }

  /** Set a started operation Terminating; it then ends Failed "Operation terminated". */
  terminate(st: AppState): void {
    const os = st.obj.status.operationState!
    st.generation++
    os.phase = 'Terminating'
    this.emit(st)
    this.later(st, 1, () => {
      Object.assign(os, {
        phase: 'Failed',
        message: 'Operation terminated',
        finishedAt: iso(simNow())
      })
      delete st.obj.operation
      this.emit(st)
    })
  }

  /** Start an operation (someone else's, or an auto-sync) to what the sources resolve to now. */
  startOperation(
    name: string,
    o: { steps?: number; automated?: boolean; pendingSteps?: number } = {}
  ): void {
    const st = this.apps.get(name)
    if (!st) throw new Error(`no app ${name}`)
    const target = this.targets(st) ?? []
    const op: Op = {
      sync: {
        ...(isMulti(st)
          ? { revisions: target, sources: clone(st.obj.spec.sources) }
          : { revision: target[0] }),
        syncStrategy: { hook: {} }
      },
      initiatedBy: o.automated ? { automated: true } : { username: 'someone-else' },
      retry: {}
    }
    this.runOperation(st, op, 'healthy', {
      ...(o.steps === undefined ? { forever: true } : { steps: o.steps }),
      pendingSteps: o.pendingSteps
    })
  }
}
