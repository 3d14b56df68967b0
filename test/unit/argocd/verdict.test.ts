/**
 * The sync verdict, table-driven: every common state of an Application object (ours
 * or someone else's operation, running, retrying, failed, succeeded, reconciled or
 * not, sync and health) and what it concludes; then the verdict on the captured
 * Application objects of reference/argocd. The edge states are in
 * argocd-verdict-edges.test.ts.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { Application } from '../../../src/argocd/application.js'
import { decide, isOurOperation, remember, type Expectation } from '../../../src/argocd/verdict.js'
import {
  OTHER,
  OURS,
  T0,
  app,
  at,
  done,
  exp,
  type Case
} from '../../support/argocd-verdict-fixtures.js'

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
    ]
  ]
  it.each(cases)('%s', (_label, opts, over, state, reason, memory) => {
    const v = decide(app(opts), exp(over), T0 + 5000, memory)
    expect(v.state).toBe(state)
    expect(v.reason).toMatch(reason)
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
  const REF = join(import.meta.dirname, '..', '..', 'fixtures', 'argocd', 'reference')
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
