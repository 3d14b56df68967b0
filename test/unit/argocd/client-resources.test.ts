/**
 * The resource calls against the simulator (whose routes follow Argo CD's
 * application.go and gateway): the live Rollout from its `manifest` string, the
 * actions list (an enabled action without `disabled`), a run through v2, the v1 form
 * when the server has no v2 route (and only v1 from then on), RBAC's 403 naming the
 * permission, a resource not in the app, and no retry of a run answered 503.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { ArgoApiError, ArgoClient } from '../../../src/argocd/client.js'
import { ResourceCalls, resourceName } from '../../../src/argocd/client-resources.js'
import type { RolloutRef } from '../../../src/argocd/rollout.js'
import { ConfigurationError } from '../../../src/core/errors.js'
import { HttpClient } from '../../../src/core/http/client.js'
import { startArgoSim, type ArgoSim, type SimOptions } from '../../support/argocd-sim.js'

const TOKEN = 'resource-test-token-12345'
const REF: RolloutRef = {
  group: 'argoproj.io',
  version: 'v1alpha1',
  kind: 'Rollout',
  namespace: 'shop',
  name: 'web'
}
const stops: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const s of stops.splice(0)) await s()
})

async function setup(options: SimOptions = {}): Promise<{ s: ArgoSim; calls: ResourceCalls }> {
  const s = await startArgoSim({
    tokens: [TOKEN],
    stepMs: 20,
    apps: [{ name: 'web', rollout: {} }],
    ...options
  })
  stops.push(() => s.stop())
  const h = new HttpClient({ retries: 3, backoffMs: 5, timeoutMs: 15_000 })
  stops.push(() => h.close())
  const c = new ArgoClient(h, s.url)
  c.setToken(TOKEN)
  return { s, calls: new ResourceCalls(c) }
}

const posts = (s: ArgoSim): string[] =>
  s.requests.filter(r => r.method === 'POST').map(r => `${r.path} ${r.status}`)

describe('ResourceCalls', () => {
  it('reads the live Rollout and its actions', async () => {
    const { calls } = await setup()
    const live = await calls.live('web', {}, REF)
    expect(live).toMatchObject({ kind: 'Rollout', metadata: { name: 'web', namespace: 'shop' } })
    const actions = await calls.actions('web', {}, REF)
    expect(actions.find(a => a.name === 'restart')).toEqual({
      name: 'restart',
      displayName: 'Restart Pods'
    })
    expect(actions.find(a => a.name === 'resume')).toEqual({ name: 'resume', disabled: true })
    expect(resourceName(REF)).toBe('argoproj.io/Rollout shop/web')
  })

  it('runs through v2, or v1 when the server has no v2 route (then v1 only)', async () => {
    const { s, calls } = await setup()
    expect(await calls.run('web', {}, REF, 'restart')).toBe('v2')
    const old = await setup({ noActionsV2: true })
    expect(await old.calls.run('web', {}, REF, 'restart')).toBe('v1')
    expect(await old.calls.run('web', {}, REF, 'restart')).toBe('v1')
    expect(posts(s)).toEqual(['/api/v1/applications/web/resource/actions/v2 200'])
    expect(posts(old.s)).toEqual([
      '/api/v1/applications/web/resource/actions/v2 404',
      '/api/v1/applications/web/resource/actions 200',
      '/api/v1/applications/web/resource/actions 200'
    ])
    expect(old.s.actions.map(a => `${a.action} ${a.via}`)).toEqual(['restart v1', 'restart v1'])
  })

  it('a 403 names the RBAC permission; a resource not in the app is Argo CD’s message', async () => {
    const { calls } = await setup({ deniedActions: ['abort'] })
    const denied = (await calls
      .run('web', { project: 'shop' }, REF, 'abort')
      .catch(e => e as Error)) as Error
    expect(denied).toBeInstanceOf(ConfigurationError)
    expect(denied.message).toBe(
      'action "abort" on argoproj.io/Rollout shop/web in "web": permission denied (403). The account needs the RBAC permission "applications, action/argoproj.io/Rollout/abort" on shop/web'
    )
    const missing = await calls.live('web', {}, { ...REF, name: 'nope' }).catch(e => e as Error)
    expect(missing).toBeInstanceOf(ArgoApiError)
    expect(missing.message).toMatch(
      /Rollout argoproj\.io nope not found as part of application web/
    )
  })

  it('does not retry a run answered 503 (the caller reads the Rollout first)', async () => {
    const { s, calls } = await setup({
      faults: [{ status: 503, times: 1, match: (m, p) => m === 'POST' && p.includes('/actions') }]
    })
    const failed = (await calls.run('web', {}, REF, 'restart').catch(e => e as Error)) as Error
    expect(failed).toBeInstanceOf(ArgoApiError)
    expect(posts(s)).toEqual(['/api/v1/applications/web/resource/actions/v2 503'])
    expect(s.actions).toEqual([])
  })
})
