/**
 * argocd-sync end to end: the committed bundle, run by the runner harness, against
 * the Argo CD simulator, through every scenario.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { argocdE2E, appsOf } from '../support/argocd-e2e.js'
import { simAppsFromExamples } from '../support/argocd-examples.js'
import { fakeSha } from '../support/argocd-sim.js'

const { sim, sync, cleanup } = argocdE2E()
afterEach(cleanup)
const apps = appsOf

describe('argocd-sync scenarios', () => {
  it('syncs a healthy app, observes it through the stream, with few API calls', async () => {
    const s = await sim({ apps: [{ name: 'frontend' }] })
    // What main resolves to: the commit waiting to be synced.
    const head = s.head('frontend')
    const run = await sync(s, {
      applications: 'frontend',
      revision: 'main',
      prune: 'true',
      'sync-options': 'ServerSideApply=true'
    })
    expect(run.main.code, run.main.stdout).toBe(0)
    expect(run.main.outputs.result).toBe('succeeded')
    const out = apps(run).frontend!
    expect(out).toMatchObject({
      result: 'succeeded',
      phase: 'Succeeded',
      sync: 'Synced',
      health: 'Healthy',
      revision: head,
      requested: head
    })
    // The sync request carried our inputs.
    expect(s.syncs[0]!.body).toMatchObject({
      name: 'frontend',
      revision: 'main',
      prune: true,
      syncOptions: { items: ['ServerSideApply=true'] }
    })
    // The app object in the sim agrees.
    expect(s.app('frontend').status.sync.revision).toBe(head)
    // Stream, not polling: GET + sync + stream (+ nothing else).
    const calls = s.requests.filter(r => r.app === 'frontend').map(r => `${r.method} ${r.path}`)
    expect(calls).toEqual([
      'GET /api/v1/applications/frontend',
      'POST /api/v1/applications/frontend/sync',
      'GET /api/v1/stream/applications'
    ])
    expect(run.main.summary).toMatch(/### Argo CD sync: succeeded/)
    expect(run.main.summary).toMatch(/\| succeeded \| Succeeded \| Synced \| Healthy \|/)
  })

  it('syncs several apps concurrently (globs), each with its own verdict, and fails on one failed hook', async () => {
    const s = await sim({
      apps: [
        { name: 'frontend' },
        { name: 'cart' },
        { name: 'checkout', scenario: 'failed-hook' },
        { name: 'payments', scenario: 'slow' },
        { name: 'admin' }
      ]
    })
    const run = await sync(s, { applications: 'frontend\nc*\npayments', concurrency: '4' })
    expect(run.main.code).toBe(1)
    expect(run.main.outputs.result).toBe('failed')
    const out = apps(run)
    expect(Object.keys(out).sort()).toEqual(['cart', 'checkout', 'frontend', 'payments'])
    expect(out.frontend!.result).toBe('succeeded')
    expect(out.cart!.result).toBe('succeeded')
    expect(out.payments!.result).toBe('succeeded')
    expect(out.checkout).toMatchObject({ result: 'failed', phase: 'Failed' })
    expect(out.checkout!.message).toMatch(/backoff limit/)
    expect(s.syncs.map(x => x.app)).not.toContain('admin')
    // Concurrency: the four sync requests overlapped in time.
    const posts = s.requests
      .filter(r => r.method === 'POST' && r.path.endsWith('/sync'))
      .map(r => r.at)
    expect(Math.max(...posts) - Math.min(...posts)).toBeLessThan(1500)
    expect(run.main.summary).toMatch(/#### ❌ checkout/)
    expect(run.main.summary).toMatch(
      /batch\/Job shop\/checkout-migrate \(PreSync hook\): Job has reached the specified backoff limit/
    )
    expect(run.main.errors.join('\n')).toMatch(/argocd-sync failed: checkout failed/)
  })

  it('syncs one app at a time with concurrency 1', async () => {
    const s = await sim({ apps: [{ name: 'cart' }, { name: 'checkout' }] })
    const run = await sync(s, { applications: 'cart,checkout', concurrency: '1' })
    expect(run.main.code, run.main.stdout).toBe(0)
    const posts = s.requests.filter(r => r.method === 'POST' && r.path.endsWith('/sync'))
    expect(posts.map(p => p.app)).toEqual(['cart', 'checkout'])
    // The second sync starts only after the first app reached its final state.
    expect(posts[1]!.at).toBeGreaterThanOrEqual(s.finalAt.get('cart')!)
  })

  it('selects apps by label selector', async () => {
    const s = await sim({
      apps: [
        { name: 'cart', labels: { team: 'shop' } },
        { name: 'checkout', labels: { team: 'shop' } },
        { name: 'frontend', labels: { team: 'web' } }
      ]
    })
    const run = await sync(s, { selector: 'team=shop' })
    expect(run.main.code, run.main.stdout).toBe(0)
    expect(Object.keys(apps(run)).sort()).toEqual(['cart', 'checkout'])
  })

  it('syncs the example shop (examples/argocd, one app multi-source) by label selector and project', async () => {
    const s = await sim({
      apps: simAppsFromExamples({ 'shop-payments': 'degraded-then-recovers' })
    })
    const run = await sync(s, {
      selector: 'app.kubernetes.io/part-of=shop',
      project: 'shop',
      'degraded-grace': '5s',
      // shop-checkout is an Argo Rollouts canary that pauses once.
      rollout: 'promote'
    })
    expect(run.main.code, run.main.stdout).toBe(0)
    expect(Object.keys(apps(run)).sort()).toEqual([
      'shop-cart',
      'shop-checkout',
      'shop-frontend',
      'shop-payments',
      'shop-web'
    ])
    // The multi-source app: no revision asked, its values source is the one reported.
    expect(apps(run)['shop-web']!.revision).toBe(s.head('shop-web'))
    const list = s.requests.find(r => r.path === '/api/v1/applications')!
    expect(list.query).toEqual({ projects: ['shop'], selector: ['app.kubernetes.io/part-of=shop'] })
    expect(s.syncs.every(x => x.body.project === 'shop')).toBe(true)
  })

  it('accepts Degraded that recovers within the grace period', async () => {
    const s = await sim({
      apps: [{ name: 'cart', scenario: 'degraded-then-recovers' }],
      degradedSteps: 10
    })
    const run = await sync(s, { applications: 'cart', 'degraded-grace': '3s' })
    expect(run.main.code, run.main.stdout).toBe(0)
    expect(run.main.stdout).toMatch(/Degraded, within the grace period/)
    expect(apps(run).cart!.health).toBe('Healthy')
  })

  it('fails an app that stays Degraded, only after the grace period', async () => {
    const s = await sim({ apps: [{ name: 'cart', scenario: 'degraded' }] })
    const run = await sync(s, { applications: 'cart', 'degraded-grace': '1500ms' })
    expect(run.main.code).toBe(1)
    const out = apps(run).cart!
    expect(out).toMatchObject({ result: 'failed', health: 'Degraded' })
    expect(out.message).toMatch(/Degraded for \d+s \(grace 2s\)/)
    expect(out.durationMs).toBeGreaterThanOrEqual(1500)
    // The resource tree's unhealthy pod is listed.
    expect(run.main.summary).toMatch(
      /Pod shop\/myapp-7dfb7d78d5-fbtpd Degraded: Back-off restarting/
    )
  })

  it('fails when the operation synced another revision', async () => {
    const s = await sim({ apps: [{ name: 'cart', scenario: 'wrong-revision' }] })
    const run = await sync(s, { applications: 'cart' })
    expect(run.main.code).toBe(1)
    const out = apps(run).cart!
    expect(out.message).toMatch(/synced revision [0-9a-f]{40}, not [0-9a-f]{40}/)
    expect(out.requested).toBe(fakeSha('cart-HEAD'))
  })

  it('does not stop at a retrying operation (Running with finishedAt)', async () => {
    const s = await sim({ apps: [{ name: 'cart', scenario: 'retry-then-succeeds' }] })
    const run = await sync(s, { applications: 'cart' })
    expect(run.main.code, run.main.stdout).toBe(0)
    expect(run.main.stdout).toMatch(/attempt failed, retrying \(retry 1\)/)
  })

  it('times out on a stuck operation and terminates it when asked', async () => {
    const s = await sim({ apps: [{ name: 'cart', scenario: 'stuck' }] })
    const run = await sync(s, { applications: 'cart', timeout: '2s', 'on-timeout': 'terminate' })
    expect(run.main.code).toBe(1)
    expect(run.main.outputs.result).toBe('timed-out')
    const out = apps(run).cart!
    expect(out.message).toMatch(
      /timed out after 2s; last state: operation Running.*waiting for completion of hook/
    )
    expect(out.message).toMatch(/the operation was terminated/)
    expect(
      s.requests.some(
        r => r.method === 'DELETE' && r.path === '/api/v1/applications/cart/operation'
      )
    ).toBe(true)
    await new Promise(r => setTimeout(r, 200))
    expect(s.app('cart').status.operationState).toMatchObject({
      phase: 'Failed',
      message: 'Operation terminated'
    })
  })

  it('times out on a slow app without terminating by default', async () => {
    const s = await sim({ apps: [{ name: 'cart', scenario: 'slow' }], slowFactor: 100 })
    const run = await sync(s, { applications: 'cart', timeout: '1s' })
    expect(run.main.outputs.result).toBe('timed-out')
    expect(s.requests.some(r => r.method === 'DELETE')).toBe(false)
  })

  it('rides out 429 and 502 bursts', async () => {
    const s = await sim({
      apps: [{ name: 'cart' }],
      faults: [
        {
          status: 429,
          times: 2,
          retryAfter: '0',
          match: (m, p) => m === 'POST' && p.endsWith('/sync')
        },
        { status: 502, times: 2, match: (m, p) => m === 'GET' && p === '/api/v1/applications/cart' }
      ]
    })
    const run = await sync(s, { applications: 'cart' })
    expect(run.main.code, run.main.stdout).toBe(0)
    expect(s.requests.filter(r => r.status === 429)).toHaveLength(2)
    expect(s.requests.filter(r => r.status === 502)).toHaveLength(2)
    expect(s.syncs.length).toBe(1)
  })

  it('waits for an operation already running, then syncs', async () => {
    // Long enough (150 steps x 30 ms) to still be running when a busy machine has started the bundle.
    const s = await sim({
      apps: [{ name: 'cart', runningOperation: { steps: 150, automated: true } }]
    })
    const run = await sync(s, { applications: 'cart' })
    expect(run.main.code, run.main.stdout).toBe(0)
    expect(run.main.stdout).toMatch(/waiting for the running operation to finish/)
    expect(s.syncs).toHaveLength(1)
  })

  it('fails on an operation already running with on-running-operation: fail', async () => {
    const s = await sim({ apps: [{ name: 'cart', runningOperation: {} }] })
    const run = await sync(s, { applications: 'cart', 'on-running-operation': 'fail' })
    expect(run.main.code).toBe(1)
    expect(apps(run).cart!.message).toMatch(/an operation is already running/)
    expect(s.syncs).toHaveLength(0)
  })

  it('terminates an operation already running with on-running-operation: terminate', async () => {
    const s = await sim({ apps: [{ name: 'cart', runningOperation: {} }] })
    const run = await sync(s, { applications: 'cart', 'on-running-operation': 'terminate' })
    expect(run.main.code, run.main.stdout).toBe(0)
    const methods = s.requests.filter(r => r.app === 'cart').map(r => r.method)
    expect(methods.indexOf('DELETE')).toBeLessThan(methods.indexOf('POST'))
  })

  it('retries "another operation is already in progress" when an auto-sync races', async () => {
    const s = await sim({ apps: [{ name: 'cart', autoSyncRace: true }] })
    const run = await sync(s, { applications: 'cart', refresh: 'hard' })
    expect(run.main.code, run.main.stdout).toBe(0)
    expect(run.main.stdout).toMatch(/another operation is already in progress; retrying/)
    expect(s.syncs.length).toBeGreaterThanOrEqual(2)
    expect(s.refreshes).toEqual(['cart:hard'])
  })

  it('reconnects after stream drops and error chunks', async () => {
    const s = await sim({
      apps: [{ name: 'cart', scenario: 'slow' }],
      slowFactor: 8,
      streamFaults: { afterEvents: 2, kinds: ['drop', 'error'] }
    })
    const run = await sync(s, { applications: 'cart' })
    expect(run.main.code, run.main.stdout).toBe(0)
    expect(
      s.requests.filter(r => r.path === '/api/v1/stream/applications').length
    ).toBeGreaterThanOrEqual(3)
    expect(run.main.stdout).toMatch(/watch stream (dropped .*|ended); reconnecting/)
    expect(run.main.stdout).toMatch(
      /watch stream sent an error: transport is closing; reconnecting/
    )
  })

  it('reports a deny sync window instead of blaming RBAC, and still syncs the other apps', async () => {
    const s = await sim({ apps: [{ name: 'cart', syncWindow: true }, { name: 'checkout' }] })
    const run = await sync(s, { applications: 'cart,checkout' })
    expect(run.main.code).toBe(1)
    const out = apps(run)
    expect(out.cart!.message).toMatch(
      /cannot sync: blocked by sync window \(403\). A deny sync window/
    )
    expect(out.cart!.message).not.toMatch(/RBAC/)
    expect(out.checkout!.result).toBe('succeeded')
  })

  it('polls when asked (watch: poll)', async () => {
    const s = await sim({ apps: [{ name: 'cart' }] })
    const run = await sync(s, { applications: 'cart', watch: 'poll' })
    expect(run.main.code, run.main.stdout).toBe(0)
    expect(s.requests.some(r => r.path.startsWith('/api/v1/stream'))).toBe(false)
  })

  it('targets apps in another namespace (app-namespace) and syncs only the listed resources', async () => {
    const s = await sim({ apps: [{ name: 'cart', namespace: 'team-a' }] })
    const run = await sync(s, {
      applications: 'cart',
      'app-namespace': 'team-a',
      resources: 'apps:Deployment:shop/cart\n:Service:cart'
    })
    expect(run.main.code, run.main.stdout).toBe(0)
    expect(s.syncs[0]!.body).toMatchObject({
      appNamespace: 'team-a',
      resources: [
        { group: 'apps', kind: 'Deployment', namespace: 'shop', name: 'cart' },
        { group: '', kind: 'Service', name: 'cart' }
      ]
    })
    const stream = s.requests.find(r => r.path === '/api/v1/stream/applications')!
    expect(stream.query).toEqual({ name: ['cart'], appNamespace: ['team-a'] })
    const wrong = await sync(s, { applications: 'cart' })
    expect(wrong.main.errors.join()).toMatch(/set input "app-namespace" if it lives outside/)
  })

  it('accepts Suspended only when healthy-states says so', async () => {
    const s = await sim({ apps: [{ name: 'canary', scenario: 'suspended' }] })
    const strict = await sync(s, { applications: 'canary', timeout: '1500ms' })
    expect(strict.main.outputs.result).toBe('timed-out')
    expect(apps(strict).canary!.message).toMatch(/health Suspended/)
    const run = await sync(s, { applications: 'canary', 'healthy-states': 'Healthy,Suspended' })
    expect(run.main.code, run.main.stdout).toBe(0)
    expect(apps(run).canary!.health).toBe('Suspended')
  })

  it.each([
    ['operation', /operation Succeeded/],
    ['sync', /^Synced$/]
  ])('wait-for %s stops at that level even when health never comes', async (waitFor, message) => {
    const s = await sim({ apps: [{ name: 'cart', scenario: 'degraded' }] })
    const run = await sync(s, { applications: 'cart', 'wait-for': waitFor, 'degraded-grace': '0' })
    expect(run.main.code, run.main.stdout).toBe(0)
    expect(apps(run).cart!.message).toMatch(message)
  })

  it('waits only for the operation on dry-run', async () => {
    const s = await sim({ apps: [{ name: 'cart' }] })
    const run = await sync(s, { applications: 'cart', 'dry-run': 'true', force: 'true' })
    expect(run.main.code, run.main.stdout).toBe(0)
    expect(s.syncs[0]!.body).toMatchObject({ dryRun: true, strategy: { hook: { force: true } } })
    // Nothing was applied: the commit waiting to be synced still is.
    expect(s.app('cart').status.sync.status).toBe('OutOfSync')
    expect(s.app('cart').status.resources.find(r => r.kind === 'Deployment')?.status).toBe(
      'OutOfSync'
    )
  })
})
