/**
 * argocd-sync end to end with multi-source applications (a Helm chart from a chart
 * repository, its values from the config repository deploy edits): the sync request
 * places our revision at our source (`revisions` + numeric `sourcePositions`), the
 * verdict is held to that source's revision, the outputs report it and every source;
 * input `source` errors; and Argo CD's refusals that are not a running operation
 * fail at once.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { argocdE2E, appsOf } from '../support/argocd-e2e.js'
import { simAppsFromExamples } from '../support/argocd-examples.js'
import type { SimAppSpec } from '../support/argocd-sim.js'
import { followGitRepo } from '../support/argocd-sim-git.js'
import { cleanup as cleanupRepos, makeRepo } from '../support/gitrepo.js'

const { sim, sync, cleanup } = argocdE2E()
afterEach(async () => {
  await cleanup()
  cleanupRepos()
})

const CONFIG = 'https://github.com/acme/shop-config.git'
const WEB: SimAppSpec = {
  name: 'shop-web',
  sources: [
    {
      repoURL: 'https://charts.example.com/shop',
      chart: 'shop-web',
      targetRevision: '1.2.3',
      helm: { valueFiles: ['$values/helm/values-prod.yaml'] }
    },
    { repoURL: CONFIG, targetRevision: 'main', ref: 'values' }
  ],
  upToDate: true
}
/** The commit deploy pushed to the config repository. */
const OURS = 'de9107ed'.padEnd(40, '7')

describe('argocd-sync: multi-source applications', () => {
  it('syncs our sha at the values source and succeeds only once Argo CD reports that source at it', async () => {
    const s = await sim({ apps: [WEB] })
    const old = s.head('shop-web')
    let pushedAt = 0
    let verdictAt = 0
    // The webhook of the push reaches Argo CD a second after our operation succeeded:
    // until then it compares the values source against the old commit.
    const watcher = setInterval(() => {
      const os = s.app('shop-web').status.operationState as { phase?: string } | undefined
      if (!pushedAt && os?.phase === 'Succeeded' && s.syncs.length > 0) {
        pushedAt = -1
        setTimeout(() => {
          s.push(CONFIG, { sha: OURS })
          pushedAt = Date.now()
        }, 1000)
      }
    }, 20)
    const run = await sync(
      s,
      { applications: 'shop-web', revision: OURS, source: 'acme/shop-config' },
      {
        onStdout: chunk => {
          if (/shop-web: succeeded/.test(chunk)) verdictAt ||= Date.now()
        }
      }
    )
    clearInterval(watcher)
    expect(run.main.code, run.main.stdout).toBe(0)
    // The request: our source's revision by position (a JSON number), never `revision`.
    const body = s.syncs[0]!.body
    expect(body).toMatchObject({ name: 'shop-web', revisions: [OURS], sourcePositions: [2] })
    expect(body).not.toHaveProperty('revision')
    expect(JSON.stringify(body)).toContain('"sourcePositions":[2]')
    // It waited for the values source, naming both revisions, and concluded after the push.
    expect(run.main.stdout).toContain(`source 2 "values" (${CONFIG}): ${old}, not ${OURS}`)
    expect(pushedAt).toBeGreaterThan(0)
    expect(verdictAt).toBeGreaterThanOrEqual(pushedAt)
    const out = appsOf(run)['shop-web']!
    expect(out).toMatchObject({ result: 'succeeded', revision: OURS, requested: OURS })
    expect(out.revisions).toEqual([
      {
        source: 'https://charts.example.com/shop (chart shop-web)',
        revision: '1.2.3',
        requested: '1.2.3',
        ours: false
      },
      { source: CONFIG, name: 'values', revision: OURS, requested: OURS, ours: true }
    ])
    expect(run.main.stdout).toMatch(
      /live revisions: source 1 \(https:\/\/charts\.example\.com\/shop, chart shop-web\) 1\.2\.3; source 2 "values" .* \(ours\)/
    )
    expect(run.main.summary).toMatch(
      /\| values: https:\/\/github\.com\/acme\/shop-config\.git \(ours\) \|/
    )
  })

  it('fails at the timeout, naming both revisions, while the values source stays at the old commit', async () => {
    const s = await sim({ apps: [WEB] })
    const old = s.head('shop-web')
    const started = Date.now()
    const run = await sync(s, {
      applications: 'shop-web',
      revision: OURS,
      source: CONFIG,
      timeout: '4s'
    })
    expect(run.main.code).toBe(1)
    expect(run.main.outputs.result).toBe('timed-out')
    const out = appsOf(run)['shop-web']!
    expect(out.message).toMatch(/^timed out after 4s; last state: operation Succeeded, OutOfSync/)
    expect(out.message).toContain(`${old}, not ${OURS}`)
    expect(out).toMatchObject({ revision: old, requested: OURS })
    // The operation did sync our commit: only the reconcile disagrees.
    const synced = (
      s.app('shop-web').status.operationState as { syncResult: { revisions: string[] } }
    ).syncResult.revisions
    expect(synced).toEqual(['1.2.3', OURS])
    expect(Date.now() - started).toBeLessThan(4000 + 10_000)
  })

  it('without a revision: sends none, and reports the values source as resolved by Argo CD', async () => {
    const s = await sim({ apps: [{ ...WEB, upToDate: false }] })
    const head = s.head('shop-web')
    const run = await sync(s, { applications: 'shop-web' })
    expect(run.main.code, run.main.stdout).toBe(0)
    const body = s.syncs[0]!.body
    for (const key of ['revision', 'revisions', 'sourcePositions'])
      expect(body).not.toHaveProperty(key)
    const out = appsOf(run)['shop-web']!
    expect(out).toMatchObject({ result: 'succeeded', revision: head, requested: head })
    expect(out.revisions.map(r => r.ours)).toEqual([false, true])
  })

  it('refuses an ambiguous source before syncing anything, listing the candidates', async () => {
    const two: SimAppSpec = {
      name: 'shop-web',
      sources: [
        { repoURL: CONFIG, targetRevision: 'main', path: 'charts/shop-web' },
        { repoURL: CONFIG, targetRevision: 'main', ref: 'values' }
      ]
    }
    const s = await sim({ apps: [two, { name: 'cart' }] })
    const run = await sync(s, {
      applications: 'shop-web,cart',
      revision: OURS,
      source: 'acme/shop-config'
    })
    expect(run.main.code).toBe(1)
    expect(run.main.outputs.result).toBe('failed')
    expect(run.main.errors.join('\n')).toMatch(
      /input "source": got "acme\/shop-config", which matches 2 sources of application "shop-web" \(1\. https:\/\/github\.com\/acme\/shop-config\.git \(targetRevision main\); 2\. https:\/\/github\.com\/acme\/shop-config\.git \(ref values, targetRevision main\)\)/
    )
    // "cart" has one source, from another repository: named too.
    expect(run.main.errors.join('\n')).toMatch(/which matches no source of application "cart"/)
    expect(s.syncs).toHaveLength(0)
    // Without input "source", two git sources and a revision: the same kind of error.
    const bare = await sync(s, { applications: 'shop-web', revision: OURS })
    expect(bare.main.errors.join('\n')).toMatch(
      /application "shop-web" has 2 git sources without a chart .*: set input "source"/
    )
    expect(s.syncs).toHaveLength(0)
  })

  it("fails at once, with Argo CD's message, on a FailedPrecondition that is not a running operation", async () => {
    const s = await sim({ apps: [WEB] })
    const run = await sync(s, {
      applications: 'shop-web',
      revision: 'no-such-branch',
      source: 'acme/shop-config'
    })
    expect(run.main.code).toBe(1)
    const out = appsOf(run)['shop-web']!
    expect(out.result).toBe('failed')
    expect(out.message).toBe(
      'Argo CD refused the sync: error resolving repo revision: rpc error: code = Unknown desc = unable to resolve \'no-such-branch\' to a commit SHA: revision not found. Check input "revision" (a commit, branch or tag of the source it belongs to, see input "source") and that Argo CD can reach the repository'
    )
    // One request, no retry as if another operation were running.
    expect(s.syncs).toHaveLength(1)
    expect(out.durationMs).toBeLessThan(5000)
    expect(run.main.stdout).not.toMatch(/retrying the sync/)
  })

  it('follows a real config repository (the dogfooding path): every example app, single- and multi-source, at the pushed commit', async () => {
    const config = makeRepo({ 'helm/values-prod.yaml': 'frontend:\n  image: { tag: "1.0" }\n' })
    config.push('main')
    const s = await sim({ apps: simAppsFromExamples() })
    const follower = followGitRepo(s, CONFIG, config.origin, { intervalMs: 100 })
    try {
      // What deploy does: a commit on main of the config repository.
      const commit = config.commit({
        'helm/values-prod.yaml': 'frontend:\n  image: { tag: "1.1" }\n'
      })
      config.push('main')
      const run = await sync(s, {
        selector: 'app.kubernetes.io/part-of=shop',
        revision: commit,
        source: 'acme/shop-config',
        // shop-checkout is an Argo Rollouts canary that pauses once.
        rollout: 'promote'
      })
      expect(run.main.code, run.main.stdout).toBe(0)
      const out = appsOf(run)
      expect(Object.keys(out).sort()).toEqual([
        'shop-cart',
        'shop-checkout',
        'shop-frontend',
        'shop-payments',
        'shop-web'
      ])
      for (const app of Object.values(out))
        expect(app).toMatchObject({ revision: commit, requested: commit })
      expect(s.syncs.find(x => x.app === 'shop-web')!.body).toMatchObject({
        revisions: [commit],
        sourcePositions: [2]
      })
      expect(s.syncs.find(x => x.app === 'shop-cart')!.body).toMatchObject({ revision: commit })
    } finally {
      follower.stop()
    }
  })
})
