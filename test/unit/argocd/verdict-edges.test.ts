/**
 * The sync verdict in Argo CD's edge states, table-driven: short and uppercase SHAs,
 * a later revision Argo CD compares against (Synced or not), pruning left over with
 * prune off, a partial sync, an operation that took ours' place, and the per-source
 * checks of a multi-source app.
 */
import { describe, expect, it } from 'vitest'
import { decide } from '../../../src/argocd/verdict.js'
import {
  CONFIGMAP,
  DEPLOYMENT,
  OTHER,
  OURS,
  T0,
  VALUES,
  app,
  done,
  exp,
  multiExp,
  type Case
} from '../../support/argocd-verdict-fixtures.js'

describe('decide in the edge states', () => {
  const cases: Case[] = [
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

  it('names the resources that require pruning', () => {
    const v = decide(
      app({ ...done, pruneSkipped: 'ignored (requires pruning)', sync: 'OutOfSync' }),
      exp(),
      T0 + 5000
    )
    expect(v.resources).toEqual(['ConfigMap shop/legacy'])
  })
})
