/**
 * argocd-sync's Rollout inputs: defaults, `succeed` accepting Suspended, and the
 * errors that name the input (an unknown mode, a bad duration, `promote` with
 * Suspended among healthy-states, a pause minimum without `promote`).
 */
import { describe, expect, it } from 'vitest'
import { getInputs } from '../../../../src/actions/argocd-sync/inputs.js'
import { InputReader, mapInputs } from '../../../../src/core/inputs.js'

const read = (values: Record<string, string>) =>
  getInputs(
    new InputReader(
      mapInputs({
        server: 'https://argocd.example.com',
        token: 'account-token-1234',
        applications: 'shop',
        ...values
      })
    )
  )

function messageOf(fn: () => unknown): string {
  try {
    fn()
  } catch (e) {
    return (e as Error).message
  }
  throw new Error('expected an error')
}

describe('argocd-sync: rollout inputs', () => {
  it('defaults: wait, no pause minimum, no abort', () => {
    const i = read({})
    expect([i.rollout, i.rolloutPauseMinMs, i.abortOnDegraded, i.healthyStates]).toEqual([
      'wait',
      0,
      false,
      ['Healthy']
    ])
  })

  it.each([
    [
      { rollout: 'promote', 'rollout-pause-min': '1m30s', 'abort-on-degraded': 'true' },
      ['promote', 90_000, true, ['Healthy']]
    ],
    [{ rollout: 'succeed' }, ['succeed', 0, false, ['Healthy', 'Suspended']]],
    [
      { rollout: 'succeed', 'healthy-states': 'Healthy,Suspended' },
      ['succeed', 0, false, ['Healthy', 'Suspended']]
    ]
  ])('%j', (values, want) => {
    const i = read(values)
    expect([i.rollout, i.rolloutPauseMinMs, i.abortOnDegraded, i.healthyStates]).toEqual(want)
  })

  it.each([
    [
      { rollout: 'yes' },
      /^input "rollout": got "yes", expected one of "wait", "promote", "succeed"$/
    ],
    [{ rollout: 'promote', 'rollout-pause-min': 'soon' }, /^input "rollout-pause-min": got "soon"/],
    [{ 'abort-on-degraded': 'maybe' }, /^input "abort-on-degraded": got "maybe"/],
    [
      { rollout: 'promote', 'healthy-states': 'Healthy,Suspended' },
      /^input "healthy-states": got "Healthy,Suspended", expected health states without "Suspended" when input "rollout" is "promote"/
    ],
    [
      { 'rollout-pause-min': '30s' },
      /^input "rollout-pause-min": got "30s", expected "0s" unless input "rollout" is "promote" \(it is "wait"/
    ]
  ])('%j is refused naming the input', (values, want) => {
    expect(messageOf(() => read(values))).toMatch(want)
  })
})
