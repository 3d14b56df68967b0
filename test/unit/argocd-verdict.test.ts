/**
 * The sync verdict, table-driven: every state of an Application object (ours or
 * someone else's operation, running, retrying, failed, succeeded, reconciled or not,
 * per source of a multi-source app, pruning left over, a partial sync, a newer
 * revision, an operation that superseded ours) and what it concludes; then the
 * verdict on the captured Application objects of reference/argocd.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { Application, ResourceStatus } from '../../src/lib/argocd.js'
import {
  decide,
  isOurOperation,
  remember,
  type Expectation,
  type Memory
} from '../../src/lib/argocd-verdict.js'

const OURS = 'a'.repeat(40)
const OTHER = 'b'.repeat(40)
const T0 = Date.parse('2026-01-01T10:00:00Z')
const at = (s: number): string => new Date(T0 + s * 1000).toISOString().replace('.000Z', 'Z')
const VALUES = 'source 2 "values" (https://github.com/acme/shop-config.git)'

const exp = (over: Partial<Expectation> & { revision?: string } = {}): Expectation => {
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
const multiExp = (over: Partial<Expectation> = {}): Expectation =>
  exp({ expected: [{ index: 1, revision: OURS, label: VALUES }], ...over })

interface AppOpts {
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

function app(o: AppOpts): Application {
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

const done = { started: 1, finished: 2, reconciled: 3 }
const CONFIGMAP: ResourceStatus = {
  kind: 'ConfigMap',
  namespace: 'shop',
  name: 'settings',
  status: 'OutOfSync'
}
const DEPLOYMENT = [{ group: 'apps', kind: 'Deployment', name: 'web' }]

type Case = [
  string,
  AppOpts,
  Partial<Expectation> & { revision?: string },
  'waiting' | 'succeeded' | 'failed',
  RegExp,
  Memory?
]

describe('decide (the sync verdict)', () => {
  const cases: Case[] = [
    [
      'sync requested, operationState cleared',
      { noState: true, operation: true },
      {},
      'waiting',
      /waiting for the controller/
    ],
    [
      'old Succeeded operation from before our request',
      { ...done, started: -100, finished: -99, reconciled: -50 },
      {},
      'waiting',
      /our operation/
    ],
    ['operation of another revision', { ...done, opRev: OTHER }, {}, 'waiting', /our operation/],
    [
      'someone else running',
      { phase: 'Running', started: -5, opRev: OTHER },
      {},
      'waiting',
      /another operation is running/
    ],
    ['ours running', { phase: 'Running', started: 1 }, {}, 'waiting', /operation Running: msg/],
    ['ours terminating', { phase: 'Terminating', started: 1 }, {}, 'waiting', /Terminating/],
    [
      'retrying: Running with finishedAt is not the end',
      { phase: 'Running', started: 1, finished: 2, retryCount: 1 },
      {},
      'waiting',
      /retrying \(retry 1\)/
    ],
    [
      'Failed fails at once',
      { phase: 'Failed', started: 1, finished: 2, failedHook: true },
      {},
      'failed',
      /operation Failed: msg/
    ],
    [
      'Error fails at once',
      { phase: 'Error', started: 1, finished: 2 },
      {},
      'failed',
      /operation Error/
    ],
    [
      'Succeeded but not reconciled yet',
      { started: 1, finished: 3, reconciled: 2 },
      {},
      'waiting',
      /next reconcile/
    ],
    ['Succeeded, no reconciledAt', { started: 1, finished: 3 }, {}, 'waiting', /next reconcile/],
    [
      'Succeeded, operation still set (queued)',
      { ...done, operation: true },
      {},
      'waiting',
      /queued/
    ],
    [
      'synced another revision',
      { ...done, syncedRev: OTHER },
      {},
      'failed',
      /synced revision b+, not a+/
    ],
    [
      'a short SHA asked: the full SHA synced and live is ours',
      done,
      { revision: 'aaaaaaa' },
      'succeeded',
      /Synced and Healthy$/
    ],
    [
      'an uppercase short SHA asked, the operation kept it as given',
      { ...done, opRev: 'AAAAAAA', syncedRev: OURS },
      { revision: 'AAAAAAA' },
      'succeeded',
      /Synced and Healthy$/
    ],
    [
      'an uppercase full SHA asked',
      done,
      { revision: 'A'.repeat(40) },
      'succeeded',
      /Synced and Healthy$/
    ],
    [
      'a short SHA that is not a prefix of what was synced',
      { ...done, opRev: 'aaaaaaa', syncedRev: OTHER },
      { revision: 'aaaaaaa' },
      'failed',
      /synced revision b+, not aaaaaaa/
    ],
    [
      'reconciled later at another revision, Synced: a newer commit that does not change the app',
      { ...done, liveRev: OTHER },
      {},
      'succeeded',
      /^Synced and Healthy; Argo CD now compares against another revision than ours \(b+, not a+\)/
    ],
    [
      'reconciled later at another revision, OutOfSync: waits, naming both',
      { ...done, liveRev: OTHER, sync: 'OutOfSync' },
      {},
      'waiting',
      /compares the application against another revision than ours \(b+, not a+\) and finds it OutOfSync/
    ],
    [
      'reconciled in the same second at another revision',
      { started: 1, finished: 2, reconciled: 2, liveRev: OTHER },
      {},
      'waiting',
      /same second at another revision than ours \(b+, not a+\)/
    ],
    ['OutOfSync', { ...done, sync: 'OutOfSync' }, {}, 'waiting', /sync status OutOfSync/],
    ['Progressing', { ...done, health: 'Progressing' }, {}, 'waiting', /health Progressing/],
    ['Missing', { ...done, health: 'Missing' }, {}, 'waiting', /health Missing/],
    ['Healthy', done, {}, 'succeeded', /Synced and Healthy/],
    [
      'reconciledAt equal to finishedAt is enough',
      { started: 1, finished: 2, reconciled: 2 },
      {},
      'succeeded',
      /Healthy/
    ],
    [
      'Suspended not accepted by default',
      { ...done, health: 'Suspended' },
      {},
      'waiting',
      /health Suspended/
    ],
    [
      'Suspended accepted when asked',
      { ...done, health: 'Suspended' },
      { healthyStates: ['Healthy', 'Suspended'] },
      'succeeded',
      /Suspended/
    ],
    [
      'wait-for operation: done at Succeeded before reconcile',
      { started: 1, finished: 3 },
      { waitFor: 'operation' },
      'succeeded',
      /operation Succeeded/
    ],
    [
      'wait-for sync: Degraded does not matter',
      { ...done, health: 'Degraded' },
      { waitFor: 'sync' },
      'succeeded',
      /Synced/
    ],
    [
      'wait-for sync: OutOfSync waits',
      { ...done, sync: 'OutOfSync' },
      { waitFor: 'sync' },
      'waiting',
      /OutOfSync/
    ],
    ['Degraded within the grace', { ...done, health: 'Degraded' }, {}, 'waiting', /grace/],
    [
      'clock skew: startedAt a second before the request',
      { started: -1, finished: 2, reconciled: 3 },
      {},
      'succeeded',
      /Healthy/
    ],
    [
      'no expected revision: any revision',
      { ...done, opRev: OTHER, liveRev: OTHER },
      { revision: undefined },
      'succeeded',
      /Healthy/
    ],
    [
      'pruning left over with prune off: fails once reconciled, naming the resources',
      { ...done, pruneSkipped: 'ignored (requires pruning)', sync: 'OutOfSync' },
      {},
      'failed',
      /1 resource\(s\) require pruning and the sync ran with prune off.*set input "prune" to true/i
    ],
    [
      'pruning left over, wait-for operation: waits for the reconcile',
      { started: 1, finished: 3, pruneSkipped: 'ignored (requires pruning)', sync: 'OutOfSync' },
      { waitFor: 'operation' },
      'waiting',
      /next reconcile/
    ],
    [
      'pruning left over, wait-for operation: fails once reconciled',
      { ...done, pruneSkipped: 'ignored (requires pruning)', sync: 'OutOfSync' },
      { waitFor: 'operation' },
      'failed',
      /require pruning/
    ],
    [
      'PruneSkipped of a Prune=false resource ("no prune") is not a problem',
      { ...done, pruneSkipped: 'ignored (no prune)' },
      {},
      'succeeded',
      /Synced and Healthy/
    ],
    [
      'a dry run does not check pruning',
      { started: 1, finished: 2, pruneSkipped: 'ignored (requires pruning)' },
      { waitFor: 'operation', dryRun: true },
      'succeeded',
      /operation Succeeded/
    ],
    [
      'partial sync: the selected resources are Synced and Healthy, another is OutOfSync',
      { ...done, sync: 'OutOfSync', extra: [CONFIGMAP] },
      { resources: DEPLOYMENT },
      'succeeded',
      /^selected resources Synced and Healthy; other resources OutOfSync \(not selected\): ConfigMap shop\/settings$/
    ],
    [
      'partial sync: a selected resource is OutOfSync',
      { ...done, sync: 'OutOfSync', extra: [CONFIGMAP] },
      { resources: [{ kind: 'ConfigMap', name: 'settings' }] },
      'waiting',
      /selected resources not Synced: ConfigMap settings/
    ],
    [
      'partial sync: pruning is not checked (Argo CD records no history either)',
      { ...done, pruneSkipped: 'ignored (requires pruning)', sync: 'OutOfSync' },
      { resources: DEPLOYMENT },
      'succeeded',
      /selected resources Synced and Healthy/
    ],
    [
      'superseded by an automated sync once ours was seen Succeeded',
      { noState: true, operation: { automated: true } },
      {},
      'failed',
      /^superseded by an automated sync to b+: our operation Succeeded at a+/,
      { ours: 'succeeded' }
    ],
    [
      'superseded: the automated sync already runs',
      { phase: 'Running', started: 2, opRev: OTHER, operation: { automated: true } },
      {},
      'failed',
      /superseded by an automated sync to b+/,
      { ours: 'started' }
    ],
    [
      'superseded by a sync of another user, ours recorded in the history',
      { noState: true, operation: { username: 'alice' }, history: [{ rev: OURS, started: 1 }] },
      {},
      'failed',
      /superseded by a sync by alice to b+/
    ],
    [
      'an automated sync, ours never seen: waits',
      { noState: true, operation: { automated: true } },
      {},
      'waiting',
      /waiting for the controller/
    ],
    [
      'an automated sync to our own revision is not a supersession',
      { noState: true, operation: { automated: true, rev: OURS } },
      {},
      'waiting',
      /waiting for the controller/,
      { ours: 'succeeded' }
    ]
  ]
  it.each(cases)('%s', (_label, opts, over, state, reason, memory) => {
    const v = decide(app(opts), exp(over), T0 + 5000, memory)
    expect(v.state).toBe(state)
    expect(v.reason).toMatch(reason)
  })

  const multi: Case[] = [
    ['our source synced and live at ours', { ...done, multi: true }, {}, 'succeeded', /Healthy/],
    [
      'the values source reconciled at the old commit, OutOfSync: waits naming both',
      { ...done, multi: true, liveRev: OTHER, sync: 'OutOfSync' },
      {},
      'waiting',
      new RegExp(`${VALUES.replace(/[()]/g, '\\$&')}: b+, not a+`)
    ],
    [
      'the operation synced the values source at another commit',
      { ...done, multi: true, syncedRev: OTHER },
      {},
      'failed',
      /synced source 2 "values" .* at revision b+, not a+/
    ],
    [
      'an operation of another values revision is not ours',
      { ...done, multi: true, opRev: OTHER },
      {},
      'waiting',
      /our operation/
    ]
  ]
  it.each(multi)('multi-source: %s', (_label, opts, over, state, reason, memory) => {
    const v = decide(app(opts), multiExp(over), T0 + 5000, memory)
    expect(v.state).toBe(state)
    expect(v.reason).toMatch(reason)
  })

  it('a newer revision that does not change the app succeeds with a notice naming both', () => {
    const v = decide(app({ ...done, liveRev: OTHER }), exp(), T0 + 5000)
    expect(v.notice).toMatch(/b{40}, not a{40}/)
    expect(decide(app(done), exp(), T0 + 5000).notice).toBeUndefined()
  })

  it('Degraded fails only after the grace period', () => {
    const a = app({ ...done, health: 'Degraded' })
    const first = decide(a, exp(), T0 + 5000)
    expect(first).toMatchObject({ state: 'waiting', degraded: true })
    const memory = remember({}, a, exp(), first, T0 + 5000)
    expect(memory.degradedSince).toBe(T0 + 5000)
    expect(decide(a, exp(), T0 + 14_999, memory).state).toBe('waiting')
    const late = decide(a, exp(), T0 + 15_000, memory)
    expect(late.state).toBe('failed')
    expect(late.reason).toMatch(/Degraded for 10s/)
    expect(late.resources[0]).toMatch(/apps\/Deployment shop\/web Degraded/)
  })

  it('remembers our operation seen, and forgets Degraded when it ends', () => {
    const running = app({ phase: 'Running', started: 1 })
    let m = remember({}, running, exp(), decide(running, exp(), T0), T0)
    expect(m.ours).toBe('started')
    const succeeded = app({ started: 1, finished: 3 })
    m = remember(m, succeeded, exp(), decide(succeeded, exp(), T0), T0)
    expect(m.ours).toBe('succeeded')
    const other = app({ ...done, opRev: OTHER, started: 4 })
    expect(remember(m, other, exp(), decide(other, exp(), T0), T0).ours).toBe('succeeded')
    expect(
      remember({ degradedSince: 1 }, succeeded, exp(), decide(succeeded, exp(), T0), T0)
    ).not.toHaveProperty('degradedSince')
  })

  it('lists the failed hook of a Failed operation', () => {
    const v = decide(
      app({ phase: 'Failed', started: 1, finished: 2, failedHook: true }),
      exp(),
      T0 + 5000
    )
    expect(v.resources).toEqual([
      'batch/Job shop/migrate (PreSync hook): Job has reached the specified backoff limit'
    ])
  })

  it('names the resources that require pruning', () => {
    const v = decide(
      app({ ...done, pruneSkipped: 'ignored (requires pruning)', sync: 'OutOfSync' }),
      exp(),
      T0 + 5000
    )
    expect(v.resources).toEqual(['ConfigMap shop/legacy'])
  })

  it('marks our running operation as terminable', () => {
    expect(decide(app({ phase: 'Running' }), exp(), T0).running).toBe(true)
    expect(decide(app(done), exp(), T0).running).toBe(false)
  })

  it('isOurOperation compares on whole seconds', () => {
    const state = { startedAt: at(0), operation: { sync: { revision: OURS } } }
    expect(isOurOperation(state, exp({ requestedAt: T0 + 999, skewMs: 0 }))).toBe(true)
    expect(isOurOperation(state, exp({ requestedAt: T0 + 1000, skewMs: 0 }))).toBe(false)
    expect(isOurOperation(undefined, exp())).toBe(false)
  })
})

describe('decide on the captured Application objects', () => {
  const REF = join(import.meta.dirname, '..', 'fixtures', 'argocd', 'reference')
  const load = (f: string): Application =>
    JSON.parse(readFileSync(join(REF, f), 'utf8')) as Application
  const MYAPP = '39313e1c4af397986a5e1bbb53bde6fef15d6a50'
  const streamed = (
    JSON.parse(readFileSync(join(REF, 'captured_stream-applications-myapp.json'), 'utf8')) as {
      result: { application: Application }
    }[]
  ).map(e => e.result.application)
  const cases: [
    string,
    Application,
    Partial<Expectation> & { revision?: string },
    string,
    RegExp
  ][] = [
    [
      'captured GET, our sync',
      load('captured_get-application-myapp.json'),
      { revision: MYAPP, requestedAt: Date.parse('2025-08-13T07:52:13Z') },
      'succeeded',
      /Synced and Healthy/
    ],
    [
      'captured GET, our sync asked by short SHA',
      load('captured_get-application-myapp.json'),
      {
        revision: MYAPP.slice(0, 7).toUpperCase(),
        requestedAt: Date.parse('2025-08-13T07:52:13Z')
      },
      'succeeded',
      /Synced and Healthy/
    ],
    [
      'captured GET, an older operation than our request',
      load('captured_get-application-myapp.json'),
      { revision: MYAPP, requestedAt: Date.parse('2025-09-04T02:16:00Z') },
      'waiting',
      /waiting for our operation to start/
    ],
    [
      'captured GET, another revision asked',
      load('captured_get-application-myapp.json'),
      { revision: 'c'.repeat(40), requestedAt: Date.parse('2025-08-13T07:52:13Z') },
      'waiting',
      /our operation/
    ],
    [
      'captured stream MODIFIED event',
      streamed[1]!,
      { revision: MYAPP, requestedAt: Date.parse('2025-08-13T07:52:13Z') },
      'succeeded',
      /Healthy/
    ],
    [
      'roadie sync response: operation set, state cleared',
      load('roadie_sync-response.json'),
      {
        revision: '38554e11dbe1d68790c9f0567eaf31dedd4c3638',
        requestedAt: Date.parse('2022-04-12T15:54:28Z')
      },
      'waiting',
      /waiting for the controller to start it/
    ],
    [
      'diff-cache: reconciled in the same second at another revision',
      load('argo-cd_controller-testdata-diff-cache.json'),
      {
        revision: 'ea8759964626a583667a2bfd08f334ec2070040a',
        requestedAt: Date.parse('2024-03-05T07:33:03Z')
      },
      'waiting',
      /reconciled in the same second at another revision than ours \(rev1, not/
    ],
    [
      'diff-cache: wait-for operation',
      load('argo-cd_controller-testdata-diff-cache.json'),
      {
        revision: 'ea8759964626a583667a2bfd08f334ec2070040a',
        requestedAt: Date.parse('2024-03-05T07:33:03Z'),
        waitFor: 'operation'
      },
      'succeeded',
      /operation Succeeded/
    ]
  ]
  it.each(cases)('%s', (_label, app, over, state, reason) => {
    const v = decide(app, exp(over), Date.now())
    expect(v.state).toBe(state)
    expect(v.reason).toMatch(reason)
  })
})
