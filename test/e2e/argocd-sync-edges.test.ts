/**
 * argocd-sync end to end through Argo CD's edge states, each answered the way Argo
 * CD's own code answers it (the table in actions/argocd-sync/README.md), with the
 * verdict and a bound on how long reaching it takes: a short or uppercase SHA, a
 * sync Argo CD refuses, a terminate with nothing running, pruning left over with
 * prune off, a partial sync, an automated sync taking our operation's place, and a
 * later commit that does not change the app.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { argocdE2E, appsOf } from '../support/argocd-e2e.js'
import { fakeSha } from '../support/argocd-sim.js'

const { sim, sync, cleanup } = argocdE2E()
afterEach(cleanup)

/** Fail-fast verdicts come within this; the runs' timeout is 20 s. */
const FAST_MS = 8000

describe('argocd-sync: edge states', () => {
  it('1. accepts a short, uppercase SHA: the full SHA Argo CD records starts with it', async () => {
    const head = `abcdef1${fakeSha('cart').slice(7)}`
    const s = await sim({ apps: [{ name: 'cart', head }] })
    const run = await sync(s, { applications: 'cart', revision: 'ABCDEF1' })
    expect(run.main.code, run.main.stdout).toBe(0)
    expect(s.syncs[0]!.body.revision).toBe('ABCDEF1')
    const out = appsOf(run).cart!
    // `requested` becomes the full SHA the operation synced.
    expect(out).toMatchObject({ result: 'succeeded', revision: head, requested: head })
    expect(out.durationMs).toBeLessThan(FAST_MS)
  })

  it('2. fails at once when Argo CD refuses the sync (auto-sync set to another revision), saying how to fix it', async () => {
    const s = await sim({ apps: [{ name: 'cart', autoSync: {}, upToDate: true }] })
    const sha = fakeSha('not-the-target')
    const run = await sync(s, { applications: 'cart', revision: sha })
    expect(run.main.code).toBe(1)
    const out = appsOf(run).cart!
    expect(out.result).toBe('failed')
    expect(out.message).toBe(
      `Argo CD refused the sync: Cannot sync to ${sha}: auto-sync currently set to HEAD. With automated sync on, Argo CD syncs only to the targetRevision of the application: leave input "revision" empty (or set it to that targetRevision), or turn off automated sync for the application`
    )
    expect(s.syncs).toHaveLength(1)
    expect(out.durationMs).toBeLessThan(FAST_MS)
  })

  it('3. treats "No operation is in progress" as nothing to terminate, then terminates it once it runs', async () => {
    // An operation set but not started by the controller for 6 s.
    const s = await sim({ apps: [{ name: 'cart', runningOperation: { pendingSteps: 200 } }] })
    const run = await sync(s, { applications: 'cart', 'on-running-operation': 'terminate' })
    expect(run.main.code, run.main.stdout).toBe(0)
    const deletes = s.requests.filter(r => r.method === 'DELETE')
    expect(deletes.map(d => d.status)).toEqual([400, 200])
    expect(run.main.stdout).toMatch(
      /nothing to terminate \(Unable to terminate operation\. No operation is in progress\)/
    )
    expect(appsOf(run).cart!.result).toBe('succeeded')
    expect(appsOf(run).cart!.durationMs).toBeLessThan(6000 + FAST_MS)
  })

  it.each(['health', 'operation'])(
    '4. fails at once when pruning is left over with prune off (wait-for %s), naming the resources',
    async waitFor => {
      const s = await sim({
        apps: [
          {
            name: 'cart',
            extraResources: [{ kind: 'ConfigMap', name: 'cart-legacy', extraneous: true }]
          }
        ]
      })
      const run = await sync(s, { applications: 'cart', 'wait-for': waitFor })
      expect(run.main.code).toBe(1)
      const out = appsOf(run).cart!
      expect(out.result).toBe('failed')
      expect(out.message).toMatch(
        /^1 resource\(s\) require pruning and the sync ran with prune off: Argo CD left them in place \(PruneSkipped\) and the application stays OutOfSync\. Set input "prune" to true/
      )
      expect(run.main.summary).toContain('ConfigMap shop/cart-legacy')
      expect(out.durationMs).toBeLessThan(FAST_MS)
      // With prune on, the same app ends Synced.
      const pruned = await sync(s, { applications: 'cart', prune: 'true', 'wait-for': waitFor })
      expect(pruned.main.code, pruned.main.stdout).toBe(0)
    }
  )

  it('5. judges a partial sync by the selected resources, and names the others OutOfSync', async () => {
    const s = await sim({
      apps: [
        {
          name: 'cart',
          extraResources: [{ kind: 'ConfigMap', name: 'cart-settings', drifted: true }]
        }
      ]
    })
    const run = await sync(s, { applications: 'cart', resources: 'apps:Deployment:shop/cart' })
    expect(run.main.code, run.main.stdout).toBe(0)
    const out = appsOf(run).cart!
    expect(out).toMatchObject({ result: 'succeeded', sync: 'OutOfSync' })
    expect(out.message).toBe(
      'selected resources Synced and Healthy; other resources OutOfSync (not selected): ConfigMap shop/cart-settings'
    )
    expect(out.durationMs).toBeLessThan(FAST_MS)
    // A resource the app does not have fails before any sync, as the CLI does.
    const none = await sync(s, { applications: 'cart', resources: 'apps:Deployment:shop/nope' })
    expect(appsOf(none).cart!.message).toMatch(
      /^input "resources": none of apps:Deployment:shop\/nope is a resource of the application/
    )
    expect(s.syncs).toHaveLength(1)
  })

  it('6. fails fast when an automated sync supersedes our operation', async () => {
    const s = await sim({
      apps: [{ name: 'cart', autoSync: {}, landsDuringSync: { touches: true } }]
    })
    const ours = s.head('cart')
    const run = await sync(s, { applications: 'cart' })
    expect(run.main.code).toBe(1)
    const out = appsOf(run).cart!
    expect(out.result).toBe('failed')
    expect(out.message).toMatch(
      new RegExp(
        `^superseded by an automated sync to ${fakeSha('cart-newer-1')}: our operation Succeeded at ${ours}, then Argo CD started that one; Argo CD's API cannot tell`
      )
    )
    expect(out.durationMs).toBeLessThan(FAST_MS)
  })

  it('7. succeeds with a notice when a later commit that does not change the app is what Argo CD compares against', async () => {
    const s = await sim({ apps: [{ name: 'cart', landsDuringSync: { touches: false } }] })
    const ours = s.head('cart')
    const newer = fakeSha('cart-newer-1')
    const run = await sync(s, { applications: 'cart' })
    expect(run.main.code, run.main.stdout).toBe(0)
    const out = appsOf(run).cart!
    expect(out).toMatchObject({ result: 'succeeded', revision: newer, requested: ours })
    expect(run.main.notices.join('\n')).toContain(`${newer}, not ${ours}`)
    expect(out.durationMs).toBeLessThan(FAST_MS)
  })
})
