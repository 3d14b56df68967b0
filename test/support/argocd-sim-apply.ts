/**
 * What a sync operation does to the simulated cluster (controller/sync.go
 * `SyncAppState` with gitops-engine's sync context): only the resources the operation
 * names are applied (Argo CD's `HasIdentity`), each records the manifests identity of
 * the synced revisions, and a resource that requires pruning is deleted with prune
 * on ("pruned") or left in place with prune off ("PruneSkipped", "ignored (requires
 * pruning)", sync_context.go `pruneObject`); a dry run changes nothing.
 */
import { identityOf, resourceKey, type AppState } from './argocd-sim-app.js'
import type { SimRepos } from './argocd-sim-repos.js'

/** An operation object as the simulator stores it. */
export type Op = Record<string, unknown> & {
  sync: Record<string, unknown> & {
    revision?: string
    revisions?: string[]
    dryRun?: boolean
    prune?: boolean
    resources?: Record<string, unknown>[]
  }
  initiatedBy?: Record<string, unknown>
}

/** Argo CD's `HasIdentity`: group, kind and name equal; the namespace when given. */
export function named(r: Record<string, unknown>, want: Record<string, unknown>): boolean {
  return (
    String(r.group ?? '') === String(want.group ?? '') &&
    r.kind === want.kind &&
    r.name === want.name &&
    (!want.namespace || want.namespace === r.namespace)
  )
}

/** Apply what an operation syncs to the cluster state; returns the resource results. */
export function applyOperation(
  repos: SimRepos,
  st: AppState,
  op: Op,
  revisions: string[],
  hookFailed: boolean
): Record<string, unknown>[] {
  const s = st.obj.status
  const only = op.sync.resources
  const results: Record<string, unknown>[] = []
  for (const r of [...s.resources]) {
    if (only?.length && !only.some(w => named(r, w))) continue
    const base = {
      group: r.group ?? '',
      version: r.version ?? 'v1',
      kind: r.kind,
      namespace: r.namespace,
      name: r.name
    }
    const noun = `${String(r.kind).toLowerCase()}${r.group ? `.${String(r.group)}` : ''}/${String(r.name)}`
    if (r.requiresPruning) {
      const prune = Boolean(op.sync.prune)
      const message = !prune
        ? 'ignored (requires pruning)'
        : op.sync.dryRun
          ? 'pruned (dry run)'
          : 'pruned'
      results.push({
        ...base,
        status: prune ? 'Pruned' : 'PruneSkipped',
        message,
        syncPhase: 'Sync'
      })
      if (prune && !op.sync.dryRun) s.resources.splice(s.resources.indexOf(r), 1)
      continue
    }
    const want = identityOf(repos, st, revisions, String(r.kind))
    const changed = st.applied.get(resourceKey(r)) !== want
    results.push({
      ...base,
      status: 'Synced',
      message: `${noun} ${changed ? 'configured' : 'unchanged'}`,
      hookPhase: 'Running',
      syncPhase: 'Sync'
    })
    if (!op.sync.dryRun && !hookFailed) st.applied.set(resourceKey(r), want)
  }
  if (hookFailed) {
    results.unshift({
      group: 'batch',
      version: 'v1',
      kind: 'Job',
      namespace: 'shop',
      name: `${st.spec.name}-migrate`,
      message: 'Job has reached the specified backoff limit',
      hookType: 'PreSync',
      hookPhase: 'Failed',
      syncPhase: 'PreSync'
    })
  }
  return results
}
