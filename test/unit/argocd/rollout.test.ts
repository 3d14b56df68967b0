/**
 * The Rollout decisions of argocd-sync, table-driven: the facts read from real
 * Rollout objects (Argo CD's own test data, test/fixtures/argocd/rollout), which
 * pause `promote` resumes (indefinite canary pause and blue-green pre-promotion only,
 * after rollout-pause-min, once per pause, with the other resources healthy), what
 * counts as mid-way for an abort, and the step lines for the log and the summary.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import {
  decidePromote,
  isMidway,
  pauseDurationMs,
  positionLine,
  readRollout,
  rolloutResult,
  transitions,
  type RolloutFacts,
  type RolloutPolicy,
  type RolloutRef
} from '../../../src/argocd/rollout.js'

const DIR = join(import.meta.dirname, '..', '..', 'fixtures', 'argocd', 'rollout')
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any
const load = (path: string): Loose => parse(readFileSync(join(DIR, path), 'utf8')) as Loose
const REF: RolloutRef = {
  group: 'argoproj.io',
  version: 'v1alpha1',
  kind: 'Rollout',
  namespace: 'shop',
  name: 'web'
}

/** A fixture with changes (a copy). */
function variant(path: string, change: (o: Loose) => void): Loose {
  const o = load(path)
  change(o)
  return o
}

describe('readRollout: the facts of real Rollout objects', () => {
  it.each([
    [
      'canary at pause {} (step 2 of 6)',
      load('actions/testdata/has_pause_condition_rollout.yaml'),
      'Suspended',
      { step: 2, steps: 6, stepText: 'pause', weight: 40, fullyPromoted: false, aborted: false },
      { reason: 'CanaryPauseStep', indefinite: true, promotable: true }
    ],
    [
      'v1.0 Paused phase at pause {}',
      load('testdata/suspended_v1.0_pausedRollout.yaml'),
      'Suspended',
      { step: 2, steps: 8, weight: 21, revision: '2' },
      { reason: 'CanaryPauseStep', indefinite: true, promotable: true }
    ],
    [
      'at a timed pause (duration: 10)',
      variant('testdata/suspended_v1.0_pausedRollout.yaml', o => (o.status.currentStepIndex = 3)),
      'Suspended',
      { step: 4, steps: 8, stepText: 'pause 10s', weight: 40 },
      { reason: 'CanaryPauseStep', indefinite: false, durationMs: 10_000, promotable: false }
    ],
    [
      'paused by a person (spec.paused)',
      load('testdata/suspended_userPause.yaml'),
      'Suspended',
      { step: 2, steps: 2 },
      { reason: 'manual', indefinite: true, promotable: false }
    ],
    [
      'aborted (status.abort)',
      load('testdata/degraded_abortedRollout.yaml'),
      'Degraded',
      { step: 1, steps: 6, aborted: true, fullyPromoted: false },
      undefined
    ],
    [
      'all steps done',
      load('testdata/canary/healthy_executedAllSteps.yaml'),
      'Healthy',
      { fullyPromoted: true, weight: 100 },
      undefined
    ],
    [
      'at a setWeight step',
      load('testdata/canary/progressing_setWeightStep.yaml'),
      'Progressing',
      { step: 4, steps: 4, weight: 40, fullyPromoted: false },
      undefined
    ],
    [
      'blue-green waiting for promotion (autoPromotionEnabled: false)',
      variant('testdata/bluegreen/healthy_servingActiveService.yaml', o => {
        o.spec.strategy.blueGreen.autoPromotionEnabled = false
        o.status.pauseConditions = [{ reason: 'BlueGreenPause', startTime: '2024-01-01T00:00:00Z' }]
        o.status.currentPodHash = 'newhash'
      }),
      'Suspended',
      { strategy: 'blueGreen', fullyPromoted: false },
      {
        reason: 'BlueGreenPause',
        indefinite: true,
        promotable: true,
        startedAt: Date.parse('2024-01-01T00:00:00Z')
      }
    ],
    [
      'blue-green with autoPromotionSeconds (timed)',
      variant('testdata/bluegreen/healthy_servingActiveService.yaml', o => {
        o.spec.strategy.blueGreen.autoPromotionSeconds = 30
        o.status.pauseConditions = [{ reason: 'BlueGreenPause', startTime: '2024-01-01T00:00:00Z' }]
      }),
      'Suspended',
      { strategy: 'blueGreen' },
      { reason: 'BlueGreenPause', indefinite: false, durationMs: 30_000, promotable: false }
    ],
    [
      'an inconclusive analysis pause is left to people',
      variant('actions/testdata/has_pause_condition_rollout.yaml', o => {
        o.status.pauseConditions = [
          { reason: 'InconclusiveAnalysisRun', startTime: '2024-01-01T00:00:00Z' }
        ]
      }),
      'Suspended',
      {},
      { reason: 'InconclusiveAnalysisRun', indefinite: true, promotable: false }
    ]
  ])('%s', (_name, live, health, want, pause) => {
    const f = readRollout(REF, live, { status: health })
    expect(f).toMatchObject({ health, ...want })
    if (f.strategy === 'blueGreen') expect([f.step, f.steps]).toEqual([undefined, undefined])
    if (pause) expect(f.pause).toMatchObject(pause)
    else expect(f.pause).toBeUndefined()
  })

  it('gives no step until the controller observed the new spec (the fields are the old update’s)', () => {
    const live = variant('testdata/suspended_v1.0_pausedRollout.yaml', o => {
      o.metadata.generation = 9
      o.status.observedGeneration = '8'
    })
    const f = readRollout(REF, live, { status: 'Progressing' })
    expect([f.step, f.steps, f.weight]).toEqual([undefined, undefined, undefined])
    const seen = variant('testdata/suspended_v1.0_pausedRollout.yaml', o => {
      o.metadata.generation = 9
      o.status.observedGeneration = '9'
    })
    expect(readRollout(REF, seen).step).toBe(2)
  })

  it('reads the traffic-routed weight from status.canary.weights', () => {
    const live = variant('actions/testdata/has_pause_condition_rollout.yaml', o => {
      o.status.canary = { weights: { canary: { weight: 35 }, stable: { weight: 65 } } }
    })
    expect(readRollout(REF, live).weight).toBe(35)
  })

  it('gives each pause its own key (step, start) and the same key to the same pause', () => {
    const a = readRollout(REF, load('actions/testdata/has_pause_condition_rollout.yaml'))
    const again = readRollout(REF, load('actions/testdata/has_pause_condition_rollout.yaml'))
    const next = readRollout(
      REF,
      variant('actions/testdata/has_pause_condition_rollout.yaml', o => {
        o.status.currentStepIndex = 3
        o.status.pauseConditions[0].startTime = '2019-11-05T18:20:00Z'
      })
    )
    expect(a.pause!.key).toBe(again.pause!.key)
    expect(next.pause!.key).not.toBe(a.pause!.key)
  })
})

describe('pauseDurationMs: int seconds or a Go duration', () => {
  it.each([
    [10, 10_000],
    ['30s', 30_000],
    ['1m30s', 90_000],
    ['45', 45_000],
    [undefined, undefined],
    ['soon', undefined]
  ])('%s → %s', (d, ms) => expect(pauseDurationMs(d)).toBe(ms))
})

const facts = (over: Partial<RolloutFacts> = {}): RolloutFacts => ({
  ref: REF,
  health: 'Suspended',
  strategy: 'canary',
  revision: '2',
  step: 2,
  steps: 3,
  aborted: false,
  fullyPromoted: false,
  pause: {
    reason: 'CanaryPauseStep',
    startedAt: 100_000,
    indefinite: true,
    key: '2/1/CanaryPauseStep/t',
    promotable: true
  },
  ...over
})
const policy = (over: Partial<RolloutPolicy> = {}): RolloutPolicy => ({
  mode: 'promote',
  pauseMinMs: 0,
  abortOnDegraded: false,
  ...over
})

describe('decidePromote: when promote resumes', () => {
  const none = new Set<string>()
  it.each([
    ['an indefinite pause, others healthy', facts(), policy(), 100_000, true, none, 'resume'],
    ['mode wait never resumes', facts(), policy({ mode: 'wait' }), 200_000, true, none, 'none'],
    [
      'mode succeed never resumes',
      facts(),
      policy({ mode: 'succeed' }),
      200_000,
      true,
      none,
      'none'
    ],
    ['other resources not healthy yet', facts(), policy(), 200_000, false, none, 'wait'],
    [
      'before rollout-pause-min',
      facts(),
      policy({ pauseMinMs: 30_000 }),
      129_999,
      true,
      none,
      'wait'
    ],
    [
      'at rollout-pause-min',
      facts(),
      policy({ pauseMinMs: 30_000 }),
      130_000,
      true,
      none,
      'resume'
    ],
    [
      'already resumed this pause',
      facts(),
      policy(),
      200_000,
      true,
      new Set(['2/1/CanaryPauseStep/t']),
      'wait'
    ],
    [
      'a timed pause is waited out',
      facts({
        pause: { ...facts().pause!, indefinite: false, durationMs: 10_000, promotable: false }
      }),
      policy(),
      100_000,
      true,
      none,
      'wait'
    ],
    [
      'a manual pause is left to people',
      facts({ pause: { ...facts().pause!, reason: 'manual', promotable: false } }),
      policy(),
      200_000,
      true,
      none,
      'wait'
    ],
    [
      'not paused',
      facts({ pause: undefined, health: 'Progressing' }),
      policy(),
      200_000,
      true,
      none,
      'none'
    ],
    [
      'paused but Argo CD does not show it Suspended yet',
      facts({ health: 'Progressing' }),
      policy(),
      200_000,
      true,
      none,
      'none'
    ]
  ])('%s → %s', (_name, f, p, now, othersHealthy, sent, kind) => {
    expect(decidePromote(f, p, { now, othersHealthy, sent }).kind).toBe(kind)
  })

  it('says until when to wait (pause-min, a timed pause)', () => {
    const ctx = { now: 110_000, othersHealthy: true, sent: new Set<string>() }
    expect(decidePromote(facts(), policy({ pauseMinMs: 30_000 }), ctx)).toEqual({
      kind: 'wait',
      reason: 'paused for 10s of rollout-pause-min 30s',
      untilMs: 130_000
    })
    const timed = facts({ pause: { ...facts().pause!, indefinite: false, durationMs: 10_000 } })
    expect(decidePromote(timed, policy(), ctx)).toMatchObject({ kind: 'wait', untilMs: 110_000 })
  })
})

describe('mid-way, result, lines', () => {
  it.each([
    ['paused', facts(), true, 'paused'],
    ['progressing', facts({ health: 'Progressing', pause: undefined }), true, 'progressing'],
    ['degraded, not aborted', facts({ health: 'Degraded', pause: undefined }), true, 'degraded'],
    ['aborted', facts({ health: 'Degraded', aborted: true, pause: undefined }), false, 'aborted'],
    [
      'promoted',
      facts({ health: 'Healthy', fullyPromoted: true, pause: undefined }),
      false,
      'promoted'
    ]
  ])('%s', (_name, f, midway, result) => {
    expect(isMidway(f)).toBe(midway)
    expect(rolloutResult(f, false)).toBe(result)
  })

  it('an abort of ours makes the result aborted', () => {
    expect(rolloutResult(facts({ health: 'Progressing' }), true)).toBe('aborted')
  })

  it('writes the position and the transitions people read', () => {
    const paused = facts({ stepText: 'pause', weight: 25 })
    expect(positionLine(paused)).toBe(
      'Suspended: step 2 of 3 (pause), canary weight 25%, paused (CanaryPauseStep, indefinite)'
    )
    // A new update: its revision, then where it is, as steps (however late the first look).
    expect(transitions(undefined, paused)).toEqual([
      'revision 2: Suspended',
      'step 2 of 3 (pause), canary weight 25%',
      'paused (CanaryPauseStep, indefinite)'
    ])
    const moved = facts({
      step: 3,
      stepText: 'setWeight 75',
      weight: 75,
      health: 'Progressing',
      pause: undefined
    })
    expect(transitions(paused, moved)).toEqual([
      'step 3 of 3 (setWeight 75), canary weight 75%',
      'pause ended (CanaryPauseStep)',
      'Progressing'
    ])
    const done = facts({ ...moved, health: 'Healthy', fullyPromoted: true, weight: 100 })
    expect(transitions(moved, done)).toEqual(['canary weight 100%', 'Healthy'])
    expect(transitions(done, done)).toEqual([])
  })
})
