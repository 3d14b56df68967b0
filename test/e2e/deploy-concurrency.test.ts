/**
 * Twenty deploy processes (the committed bundle) pushing to one bare remote at the same
 * moment, each bumping a different service: every update lands, history stays linear.
 * Two runs of one service started together: the older source commit never wins.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { cleanup, makeRepo, sh } from '../support/gitrepo.js'
import { makeConfigRemote } from '../support/git-http.js'
import { runAction } from '../support/harness.js'
import { loadOverlay } from '../support/kustomize.js'

afterAll(() => cleanup())

const N = 20
const names = Array.from({ length: N }, (_, i) => `svc-${String(i + 1).padStart(2, '0')}`)

describe('deploy gitops: concurrency', () => {
  it(`${N} concurrent deploys of different services all land, history linear`, async () => {
    const repo = makeConfigRemote(loadOverlay(names))
    const start = Number(sh(repo.origin, ['rev-list', '--count', 'main']))
    const runs = await Promise.all(
      names.map((n, i) =>
        runAction('deploy', {
          inputs: {
            repository: repo.url,
            images: `${n}=ghcr.io/acme/${n}:2.0.${i}`,
            targets: 'kustomize:overlays/load'
          },
          sha: `${String(i).padStart(2, '0')}${'e'.repeat(38)}`,
          timeoutMs: 240_000
        })
      )
    )
    for (const r of runs) {
      expect(r.main.errors).toEqual([])
      expect(r.main.code).toBe(0)
      expect(r.main.outputs.result).toBe('pushed')
    }
    const file = `${sh(repo.origin, ['show', 'main:overlays/load/kustomization.yaml'])}\n`
    names.forEach((n, i) =>
      expect(file).toContain(`- name: ghcr.io/acme/${n}\n    newTag: 2.0.${i}\n`)
    )
    expect(Number(sh(repo.origin, ['rev-list', '--count', 'main']))).toBe(start + N)
    expect(sh(repo.origin, ['rev-list', '--merges', 'main'])).toBe('')
    // Every run's output commit is in the history.
    const history = sh(repo.origin, ['rev-list', 'main']).split('\n')
    for (const r of runs) expect(history).toContain(r.main.outputs.commit)
  }, 300_000)

  it('two concurrent runs of one service: the older source commit never wins', async () => {
    const repo = makeConfigRemote()
    const source = makeRepo({ 'a.txt': '1\n' })
    const older = source.sha()
    const newer = source.commit({ 'a.txt': '2\n' })
    const run = (sha: string, tag: string): ReturnType<typeof runAction> =>
      runAction('deploy', {
        inputs: {
          repository: repo.url,
          images: `cart=ghcr.io/acme/shop-cart:${tag}`,
          targets: 'kustomize:overlays/prod'
        },
        workspace: source.dir,
        sha
      })
    for (let round = 0; round < 3; round++) {
      const [a, b] = await Promise.all([run(older, `old-${round}`), run(newer, `new-${round}`)])
      expect(a.main.code).toBe(0)
      expect(b.main.code).toBe(0)
      expect(sh(repo.origin, ['show', 'main:overlays/prod/kustomization.yaml'])).toContain(
        `- name: ghcr.io/acme/shop-cart\n    newTag: new-${round}\n`
      )
      expect(b.main.outputs.result).toBe('pushed')
    }
  }, 120_000)
})
