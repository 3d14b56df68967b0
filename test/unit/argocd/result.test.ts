/**
 * The overall result of a sync run from the per-app ones: a failure anywhere fails
 * the run, else a timeout anywhere times it out.
 */
import { describe, expect, it } from 'vitest'
import { overall, type AppResult } from '../../../src/argocd/result.js'

const app = (result: AppResult['result']): AppResult => ({
  name: `app-${result}`,
  result,
  phase: 'Succeeded',
  sync: 'Synced',
  health: 'Healthy',
  revision: '',
  requested: '',
  revisions: [],
  durationMs: 0,
  message: '',
  resources: [],
  observedBy: 'stream',
  terminated: false,
  rollouts: []
})

describe('overall', () => {
  it.each<[string, AppResult['result'][], AppResult['result']]>([
    ['no app', [], 'succeeded'],
    ['all succeeded', ['succeeded', 'succeeded'], 'succeeded'],
    ['a timeout', ['succeeded', 'timed-out'], 'timed-out'],
    ['a failure outranks a timeout', ['timed-out', 'failed', 'succeeded'], 'failed'],
    ['a failure alone', ['failed'], 'failed']
  ])('%s', (_, results, expected) => {
    expect(overall(results.map(app))).toBe(expected)
  })
})
