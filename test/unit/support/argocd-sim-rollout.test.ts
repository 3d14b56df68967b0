/**
 * The simulator's Argo Rollouts over its HTTP API: a sync hands the new image to the
 * Rollout, whose steps then move on the controller's timer; Argo CD's health follows
 * (Progressing, Suspended at every pause, Healthy once promoted, Degraded on abort);
 * the resource routes answer as argocd-sim-resources.ts says (live object, actions
 * list without `disabled` for enabled ones, v1 and v2 run routes, their errors).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { startArgoSim, type ArgoSim, type SimOptions } from '../../support/argocd-sim.js'
import { TOKEN, call, post, type Loose } from '../../support/argocd-sim-calls.js'

const sims: ArgoSim[] = []
afterEach(async () => {
  await Promise.all(sims.splice(0).map(s => s.stop()))
})
async function sim(options: SimOptions): Promise<ArgoSim> {
  const s = await startArgoSim({ tokens: [TOKEN], stepMs: 20, ...options })
  sims.push(s)
  return s
}

const RES = 'namespace=shop&resourceName=web&group=argoproj.io&version=v1alpha1&kind=Rollout'

async function rolloutHealth(s: ArgoSim): Promise<{ status: string; message?: string }> {
  const tree = (await call(s, '/api/v1/applications/web/resource-tree')).json() as Loose
  return tree.nodes.find((n: Loose) => n.kind === 'Rollout').health
}

async function until<T>(what: () => Promise<T>, ok: (v: T) => boolean, ms = 5000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await what()
    if (ok(v)) return v
    if (Date.now() > end) throw new Error(`not reached: ${JSON.stringify(v)}`)
    await new Promise(r => setTimeout(r, 20))
  }
}

const live = async (s: ArgoSim): Promise<Loose> =>
  JSON.parse(((await call(s, `/api/v1/applications/web/resource?${RES}`)).json() as Loose).manifest)
const actions = async (s: ArgoSim): Promise<Loose[]> =>
  ((await call(s, `/api/v1/applications/web/resource/actions?${RES}`)).json() as Loose).actions

describe('argocd simulator: Argo Rollouts', () => {
  it('a canary pauses indefinitely at pause {}, lists resume enabled, resumes through v1 and ends Healthy', async () => {
    const s = await sim({ apps: [{ name: 'web', rollout: {} }] })
    expect((await rolloutHealth(s)).status).toBe('Healthy')
    expect((await post(s, '/api/v1/applications/web/sync', { name: 'web' })).status).toBe(200)
    await until(
      () => rolloutHealth(s),
      h => h.status === 'Suspended'
    )
    const obj = await live(s)
    expect(obj.status.currentStepIndex).toBe(1)
    expect(obj.status.pauseConditions[0].reason).toBe('CanaryPauseStep')
    expect(obj.status.pauseConditions[0].startTime).toMatch(/Z$/)
    const list = await actions(s)
    const resume = list.find(a => a.name === 'resume')
    expect(resume).toEqual({ name: 'resume' })
    expect(list.find(a => a.name === 'retry')).toEqual({ name: 'retry', disabled: true })
    const ran = await call(s, `/api/v1/applications/web/resource/actions?${RES}`, {
      method: 'POST',
      body: '"resume"',
      headers: { 'content-type': 'application/json' }
    })
    expect(ran.status).toBe(200)
    expect(ran.json()).toEqual({})
    await until(
      () => rolloutHealth(s),
      h => h.status === 'Healthy'
    )
    expect(s.actions.map(a => `${a.action} ${a.via} ${a.resource}`)).toEqual([
      'resume v1 argoproj.io/Rollout shop/web'
    ])
    expect(s.rollout('web').history).toContain('healthy')
  })

  it('a timed pause ends by itself; Argo CD shows it Suspended meanwhile', async () => {
    const s = await sim({
      apps: [
        {
          name: 'web',
          rollout: { canary: { steps: [{ setWeight: 50 }, { pause: { duration: '1s' } }] } }
        }
      ]
    })
    await post(s, '/api/v1/applications/web/sync', { name: 'web' })
    await until(
      () => rolloutHealth(s),
      h => h.status === 'Suspended'
    )
    await until(
      () => rolloutHealth(s),
      h => h.status === 'Healthy',
      4000
    )
    expect(s.actions).toEqual([])
    expect(s.rollout('web').history).toContain('CanaryPauseStep duration passed')
  })

  it('abort through v2 turns it Degraded (RolloutAborted); v2 is a plain 404 before 3.1', async () => {
    const s = await sim({ apps: [{ name: 'web', rollout: {} }] })
    await post(s, '/api/v1/applications/web/sync', { name: 'web' })
    await until(
      () => rolloutHealth(s),
      h => h.status === 'Suspended'
    )
    const ran = await post(s, '/api/v1/applications/web/resource/actions/v2', {
      name: 'web',
      namespace: 'shop',
      resourceName: 'web',
      group: 'argoproj.io',
      version: 'v1alpha1',
      kind: 'Rollout',
      action: 'abort'
    })
    expect(ran.status).toBe(200)
    const h = await until(
      () => rolloutHealth(s),
      x => x.status === 'Degraded'
    )
    expect(h.message).toMatch(/^RolloutAborted: Rollout aborted update to revision 2/)
    const old = await sim({ apps: [{ name: 'web', rollout: {} }], noActionsV2: true })
    const res = await call(old, '/api/v1/applications/web/resource/actions/v2', {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json' }
    })
    expect([res.status, res.type, res.text]).toEqual([
      404,
      'text/plain; charset=utf-8',
      'Not Found\n'
    ])
  })

  it('blue-green pauses before promotion when autoPromotionEnabled is false', async () => {
    const s = await sim({
      apps: [{ name: 'web', rollout: { blueGreen: { autoPromotionEnabled: false } } }]
    })
    await post(s, '/api/v1/applications/web/sync', { name: 'web' })
    await until(
      () => rolloutHealth(s),
      h => h.status === 'Suspended'
    )
    expect((await live(s)).status.pauseConditions[0].reason).toBe('BlueGreenPause')
    await post(s, '/api/v1/applications/web/resource/actions/v2', {
      name: 'web',
      namespace: 'shop',
      resourceName: 'web',
      group: 'argoproj.io',
      version: 'v1alpha1',
      kind: 'Rollout',
      action: 'resume'
    })
    await until(
      () => rolloutHealth(s),
      h => h.status === 'Healthy'
    )
    const obj = await live(s)
    expect(obj.status.blueGreen.activeSelector).toBe(obj.status.currentPodHash)
  })

  it('an analysis failure aborts by itself; the app turns Degraded', async () => {
    const s = await sim({
      apps: [{ name: 'web', rollout: { degradeAtStep: { step: 3, how: 'analysis' } } }]
    })
    await post(s, '/api/v1/applications/web/sync', { name: 'web' })
    await until(
      () => rolloutHealth(s),
      h => h.status === 'Suspended'
    )
    await post(s, '/api/v1/applications/web/resource/actions/v2', {
      name: 'web',
      namespace: 'shop',
      resourceName: 'web',
      group: 'argoproj.io',
      version: 'v1alpha1',
      kind: 'Rollout',
      action: 'resume'
    })
    const h = await until(
      () => rolloutHealth(s),
      x => x.status === 'Degraded'
    )
    expect(h.message).toMatch(/Metric "success-rate" assessed Failed/)
    const app = (await call(s, '/api/v1/applications/web')).json() as Loose
    expect(app.status.health.status).toBe('Degraded')
  })

  it('answers the resource routes errors as Argo CD does', async () => {
    const s = await sim({ apps: [{ name: 'web', rollout: {} }] })
    const missing = await call(
      s,
      '/api/v1/applications/web/resource?namespace=shop&resourceName=nope&group=argoproj.io&version=v1alpha1&kind=Rollout'
    )
    expect(missing.status).toBe(400)
    expect(missing.json().message).toBe(
      'Rollout argoproj.io nope not found as part of application web'
    )
    const noKind = await call(
      s,
      '/api/v1/applications/web/resource?namespace=shop&resourceName=web'
    )
    expect(noKind.status).toBe(500)
    expect(noKind.json().message).toMatch(/required field "kind" not set/)
    const unknown = await call(s, `/api/v1/applications/web/resource/actions?${RES}`, {
      method: 'POST',
      body: '"scale"',
      headers: { 'content-type': 'application/json' }
    })
    expect(unknown.status).toBe(500)
    expect(unknown.json().message).toMatch(/built-in script does not exist/)
  })
})
