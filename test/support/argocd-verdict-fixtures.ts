/**
 * Application objects for the verdict's table tests: one builder whose options set
 * each field the verdict reads (operation, its state and result, the reconcile, the
 * live revision, sync and health, resources, history), single- or multi-source, and
 * the expectation our sync sets.
 */
import type { Application, ResourceStatus } from '../../src/argocd/application.js'
import type { Expectation, Memory } from '../../src/argocd/verdict.js'

export const OURS = 'a'.repeat(40)
export const OTHER = 'b'.repeat(40)
export const T0 = Date.parse('2026-01-01T10:00:00Z')
export const at = (s: number): string => new Date(T0 + s * 1000).toISOString().replace('.000Z', 'Z')
export const VALUES = 'source 2 "values" (https://github.com/acme/shop-config.git)'

export const exp = (over: Partial<Expectation> & { revision?: string } = {}): Expectation => {
  const { revision, ...rest } = over
  const rev = 'revision' in over ? revision : OURS
  return {
    expected: rev ? [{ index: 0, revision: rev, label: '' }] : [],
    requestedAt: T0 + 400,
    waitFor: 'health',
    healthyStates: ['Healthy'],
    degradedGraceMs: 10_000,
    ...rest
  }
}
/** Our revision at the values source (index 1) of a chart + values app. */
export const multiExp = (over: Partial<Expectation> = {}): Expectation =>
  exp({ expected: [{ index: 1, revision: OURS, label: VALUES }], ...over })

export interface AppOpts {
  phase?: string
  started?: number
  finished?: number
  reconciled?: number
  opRev?: string
  syncedRev?: string
  liveRev?: string
  sync?: string
  health?: string
  operation?: boolean | { automated?: boolean; rev?: string; username?: string }
  retryCount?: number
  noState?: boolean
  failedHook?: boolean
  multi?: boolean
  pruneSkipped?: string
  extra?: ResourceStatus[]
  history?: { rev: string; started: number }[]
}

export function app(o: AppOpts): Application {
  const revs = (r: string): { revision?: string; revisions?: string[] } =>
    o.multi ? { revisions: ['1.2.3', r] } : { revision: r }
  const op =
    o.operation === undefined || o.operation === false
      ? undefined
      : o.operation === true
        ? { sync: revs(OURS) }
        : {
            sync: revs(o.operation.rev ?? OTHER),
            initiatedBy: o.operation.automated
              ? { automated: true }
              : { username: o.operation.username ?? 'ci' }
          }
  return {
    metadata: { name: 'web' },
    spec: o.multi
      ? {
          sources: [
            { repoURL: 'https://charts.example.com', chart: 'shop', targetRevision: '1.2.3' },
            { repoURL: 'https://github.com/acme/shop-config.git', ref: 'values', name: 'values' }
          ]
        }
      : { source: { repoURL: 'https://github.com/acme/web.git' } },
    ...(op ? { operation: op } : {}),
    status: {
      sync: { status: o.sync ?? 'Synced', ...revs(o.liveRev ?? OURS) },
      health: { status: o.health ?? 'Healthy' },
      reconciledAt: o.reconciled === undefined ? undefined : at(o.reconciled),
      history: (o.history ?? []).map(h => ({ ...revs(h.rev), deployStartedAt: at(h.started) })),
      resources: [
        {
          group: 'apps',
          kind: 'Deployment',
          namespace: 'shop',
          name: 'web',
          status: 'Synced',
          health: { status: o.health ?? 'Healthy' }
        },
        ...(o.extra ?? [])
      ],
      operationState: o.noState
        ? undefined
        : {
            operation: { sync: revs(o.opRev ?? OURS) },
            phase: o.phase ?? 'Succeeded',
            message: 'msg',
            retryCount: o.retryCount,
            startedAt: at(o.started ?? 1),
            finishedAt: o.finished === undefined ? undefined : at(o.finished),
            syncResult: {
              ...revs(o.syncedRev ?? o.opRev ?? OURS),
              resources: [
                ...(o.failedHook
                  ? [
                      {
                        group: 'batch',
                        kind: 'Job',
                        namespace: 'shop',
                        name: 'migrate',
                        hookType: 'PreSync',
                        hookPhase: 'Failed',
                        message: 'Job has reached the specified backoff limit'
                      }
                    ]
                  : []),
                ...(o.pruneSkipped
                  ? [
                      {
                        kind: 'ConfigMap',
                        namespace: 'shop',
                        name: 'legacy',
                        status: 'PruneSkipped',
                        message: o.pruneSkipped
                      }
                    ]
                  : [])
              ]
            }
          }
    }
  }
}

export const done = { started: 1, finished: 2, reconciled: 3 }
export const CONFIGMAP: ResourceStatus = {
  kind: 'ConfigMap',
  namespace: 'shop',
  name: 'settings',
  status: 'OutOfSync'
}
export const DEPLOYMENT = [{ group: 'apps', kind: 'Deployment', name: 'web' }]

export type Case = [
  string,
  AppOpts,
  Partial<Expectation> & { revision?: string },
  'waiting' | 'succeeded' | 'failed',
  RegExp,
  Memory?
]
