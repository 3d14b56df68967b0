/**
 * argocd-sync end to end with Argo Rollouts (issue 20), the committed bundle against
 * the simulator's Rollouts (Argo CD's health.lua and actions, the Argo Rollouts
 * controller's steps): promote through an indefinite and a timed pause, `wait` that
 * times out without any action, `succeed` at a pause, abort on Degraded, blue-green
 * promotion, a Rollout without an enabled `resume`, a dropped watch stream mid-way,
 * an Argo CD without the v2 action route, and a run whose answer is lost after the
 * server acted (the action is not sent twice). Each checks the actions the simulator
 * ran, the `rollouts` entries of the `applications` output and the step summary.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { argocdE2E, appsOf } from '../support/argocd-e2e.js'
import type { ActionRun } from '../support/harness.js'
import type { ArgoSim } from '../support/argocd-sim.js'

const { sim, sync, cleanup } = argocdE2E()
afterEach(cleanup)

interface RolloutOut {
  name: string
  namespace: string
  result: string
  step: number | null
  steps: number | null
}
const rolloutsOf = (run: ActionRun, app = 'web'): RolloutOut[] =>
  (appsOf(run)[app] as unknown as { rollouts: RolloutOut[] }).rollouts

const actionsRun = (s: ArgoSim): string[] => s.actions.map(a => `${a.action} ${a.resource}`)
const actionPosts = (s: ArgoSim): number =>
  s.requests.filter(r => r.method === 'POST' && r.path.includes('/resource/actions')).length

describe('argocd-sync: Argo Rollouts', () => {
  it('promote: resumes the indefinite pause once (after rollout-pause-min), waits out the timed one, ends promoted', async () => {
    const s = await sim({
      apps: [
        {
          name: 'web',
          rollout: {
            canary: {
              steps: [
                { setWeight: 20 },
                { pause: {} },
                { setWeight: 50 },
                { pause: { duration: '2s' } },
                { setWeight: 80 }
              ],
              trafficRouting: true
            }
          }
        }
      ]
    })
    const run = await sync(s, {
      applications: 'web',
      rollout: 'promote',
      'rollout-pause-min': '1s'
    })
    expect(run.main.code, run.main.stdout).toBe(0)
    expect(actionsRun(s)).toEqual(['resume argoproj.io/Rollout shop/web'])
    expect(s.actions[0]!.via).toBe('v2')
    const history = s.rollout('web').history
    expect(history).toContain('CanaryPauseStep 2s')
    expect(history).toContain('CanaryPauseStep duration passed')
    expect(history).toContain('action resume')
    expect(history.at(-1)).toBe('healthy')
    expect(rolloutsOf(run)).toEqual([
      { name: 'web', namespace: 'shop', result: 'promoted', step: 5, steps: 5 }
    ])
    // The pause lasted rollout-pause-min (from its startTime) before the resume.
    const start = s.rollout('web').pauses[0]!
    expect(s.actions[0]!.at - Date.parse(start)).toBeGreaterThanOrEqual(1000)
    expect(run.main.stdout).toMatch(/Rollout shop\/web: paused \(CanaryPauseStep, indefinite\)/)
    const out = run.main.stdout
    expect(out).toMatch(/Rollout shop\/web: step 2 of 5 \(pause\), canary weight 20%/)
    expect(out).toMatch(/Rollout shop\/web: paused \(CanaryPauseStep, timed 2s\)/)
    expect(out).toMatch(/Rollout shop\/web: resume sent \(resource action, v2\)/)
    expect(run.main.summary).toMatch(/Rollout `shop\/web`: promoted, step 5 of 5/)
    expect(run.main.summary).toMatch(/\| \d\d:\d\d:\d\d \| resume sent \(resource action, v2\) \|/)
    expect(run.main.summary).toMatch(
      /\| \d\d:\d\d:\d\d \| step 4 of 5 \(pause 2s\), canary weight 50% \|/
    )
    expect(appsOf(run).web!.result).toBe('succeeded')
  })

  it('wait: times out at the pause without calling any action', async () => {
    const s = await sim({ apps: [{ name: 'web', rollout: {} }] })
    const run = await sync(s, { applications: 'web', timeout: '4s' })
    expect(run.main.code).toBe(1)
    expect(appsOf(run).web!.result).toBe('timed-out')
    expect(appsOf(run).web!.health).toBe('Suspended')
    expect(actionPosts(s)).toBe(0)
    expect(s.actions).toEqual([])
    expect(rolloutsOf(run)).toEqual([
      { name: 'web', namespace: 'shop', result: 'paused', step: 2, steps: 3 }
    ])
    expect(run.main.summary).toMatch(/paused \(CanaryPauseStep, indefinite\)/)
  })

  it('succeed: a paused Rollout counts as done', async () => {
    const s = await sim({ apps: [{ name: 'web', rollout: {} }] })
    const run = await sync(s, { applications: 'web', rollout: 'succeed' })
    expect(run.main.code, run.main.stdout).toBe(0)
    expect(appsOf(run).web).toMatchObject({ result: 'succeeded', health: 'Suspended' })
    expect(s.actions).toEqual([])
    expect(rolloutsOf(run)).toEqual([
      { name: 'web', namespace: 'shop', result: 'paused', step: 2, steps: 3 }
    ])
  })

  it('abort-on-degraded: a Rollout Degraded past the grace is aborted back to stable before the step fails', async () => {
    const s = await sim({
      apps: [{ name: 'web', rollout: { degradeAtStep: { step: 1, how: 'progress-deadline' } } }]
    })
    const run = await sync(s, {
      applications: 'web',
      rollout: 'promote',
      'abort-on-degraded': 'true',
      'degraded-grace': '1s'
    })
    expect(run.main.code).toBe(1)
    expect(actionsRun(s)).toEqual(['abort argoproj.io/Rollout shop/web'])
    const out = appsOf(run).web!
    expect(out.result).toBe('failed')
    expect(out.message).toMatch(/^Degraded for \d+s \(grace 1s\)/)
    expect(out.message).toMatch(/aborted Rollout shop\/web \(traffic back to the stable version\)$/)
    expect(rolloutsOf(run)[0]).toMatchObject({ name: 'web', result: 'aborted' })
    expect(s.rollout('web').obj.status.abort).toBe(true)
    expect(run.main.summary).toMatch(/abort sent \(resource action, v2\)/)
  })

  it('abort-on-degraded: a timeout with the Rollout mid-way (paused) aborts it before failing', async () => {
    const s = await sim({ apps: [{ name: 'web', rollout: {} }] })
    const run = await sync(s, { applications: 'web', timeout: '3s', 'abort-on-degraded': 'true' })
    expect(run.main.code).toBe(1)
    expect(appsOf(run).web!.result).toBe('timed-out')
    expect(actionsRun(s)).toEqual(['abort argoproj.io/Rollout shop/web'])
    expect(appsOf(run).web!.message).toMatch(/; aborted Rollout shop\/web \(traffic back/)
    expect(rolloutsOf(run)[0]).toMatchObject({ result: 'aborted', step: 2, steps: 3 })
  })

  it('without abort-on-degraded nothing is aborted', async () => {
    const s = await sim({
      apps: [{ name: 'web', rollout: { degradeAtStep: { step: 1, how: 'progress-deadline' } } }]
    })
    const run = await sync(s, { applications: 'web', 'degraded-grace': '1s' })
    expect(run.main.code).toBe(1)
    expect(actionPosts(s)).toBe(0)
    expect(rolloutsOf(run)[0]).toMatchObject({ result: 'degraded' })
  })

  it('blue-green: the pre-promotion pause is resumed and the active service switches', async () => {
    const s = await sim({
      apps: [{ name: 'web', rollout: { blueGreen: { autoPromotionEnabled: false } } }]
    })
    const run = await sync(s, { applications: 'web', rollout: 'promote' })
    expect(run.main.code, run.main.stdout).toBe(0)
    expect(actionsRun(s)).toEqual(['resume argoproj.io/Rollout shop/web'])
    const st = s.rollout('web').obj.status
    expect(st.blueGreen.activeSelector).toBe(st.currentPodHash)
    expect(rolloutsOf(run)).toEqual([
      { name: 'web', namespace: 'shop', result: 'promoted', step: null, steps: null }
    ])
    expect(run.main.stdout).toMatch(/paused \(BlueGreenPause, indefinite\)/)
  })

  it.each([
    [
      'not listed',
      [{ name: 'restart', displayName: 'Restart Pods' }, { name: 'abort' }],
      'not among its actions; Argo CD offers restart, abort for it now'
    ],
    [
      'disabled',
      [{ name: 'resume', disabled: true }, { name: 'abort' }],
      'disabled; Argo CD offers abort for it now'
    ]
  ])(
    'a Rollout whose resume is %s fails naming the resource and the actions available',
    async (_what, customActions, says) => {
      const s = await sim({ apps: [{ name: 'web', rollout: { customActions } }] })
      const run = await sync(s, { applications: 'web', rollout: 'promote' })
      expect(run.main.code).toBe(1)
      expect(actionPosts(s)).toBe(0)
      expect(appsOf(run).web!.message).toBe(
        `argoproj.io/Rollout shop/web in application "web": the action "resume" is ${says} (set input "rollout" to "wait" to leave the pause to a person)`
      )
    }
  )

  it('a watch stream dropped mid-rollout (at the pause): reconnects and promotes once', async () => {
    const s = await sim({ apps: [{ name: 'web', rollout: {} }] })
    const running = sync(s, { applications: 'web', rollout: 'promote', 'rollout-pause-min': '2s' })
    // Wait for the pause, then cut the watch stream the action holds.
    const end = Date.now() + 15_000
    while (!s.rollout('web').history.includes('CanaryPauseStep') && Date.now() < end)
      await new Promise(r => setTimeout(r, 20))
    expect(s.dropStreams()).toBe(1)
    const run = await running
    expect(run.main.code, run.main.stdout).toBe(0)
    expect(run.main.stdout).toMatch(/\[web\] watch stream dropped \([^)]*\); reconnecting/)
    expect(actionsRun(s)).toEqual(['resume argoproj.io/Rollout shop/web'])
    const out = run.main.stdout
    expect(out.search(/watch stream dropped/)).toBeLessThan(out.indexOf('resume sent'))
    expect(rolloutsOf(run)[0]).toMatchObject({ result: 'promoted', step: 3, steps: 3 })
  })

  it('an Argo CD before 3.1 (no v2 action route): the v1 form runs the action', async () => {
    const s = await sim({ apps: [{ name: 'web', rollout: {} }], noActionsV2: true })
    const run = await sync(s, { applications: 'web', rollout: 'promote' })
    expect(run.main.code, run.main.stdout).toBe(0)
    expect(s.actions.map(a => `${a.action} ${a.via}`)).toEqual(['resume v1'])
  })

  it('an answer lost after the server resumed: read again, not sent twice', async () => {
    const s = await sim({
      apps: [{ name: 'web', rollout: { canary: { steps: [{ pause: {} }, { pause: {} }] } } }],
      faults: [
        {
          status: 502,
          times: 1,
          afterHandling: true,
          match: (m, p) => m === 'POST' && p.endsWith('/resource/actions/v2')
        }
      ]
    })
    const run = await sync(s, { applications: 'web', rollout: 'promote' })
    expect(run.main.code, run.main.stdout).toBe(0)
    // Two pauses, one resume each: the lost answer did not cause a second resume
    // (which would have skipped the second pause).
    expect(actionsRun(s)).toEqual([
      'resume argoproj.io/Rollout shop/web',
      'resume argoproj.io/Rollout shop/web'
    ])
    const history = s.rollout('web').history
    expect(history.filter(h => h === 'CanaryPauseStep')).toHaveLength(2)
    expect(run.main.stdout).toMatch(/resume on argoproj.io\/Rollout shop\/web failed/)
  })

  it('names the input when rollout inputs are wrong', async () => {
    const s = await sim({ apps: [{ name: 'web', rollout: {} }] })
    const bad = await sync(s, { applications: 'web', rollout: 'yes' })
    expect(bad.main.code).toBe(1)
    expect(bad.main.stdout).toMatch(/input "rollout"/)
    const both = await sync(s, {
      applications: 'web',
      rollout: 'promote',
      'healthy-states': 'Healthy,Suspended'
    })
    expect(both.main.code).toBe(1)
    expect(both.main.stdout).toMatch(/input "healthy-states"/)
    expect(s.syncs).toHaveLength(0)
  })
})
