/**
 * Conformance of the deploy action (the committed bundle, against a real bare config
 * repository over file://) on the kustomize targets of real public configs: Google's
 * microservices-demo, argocd-example-apps and podinfo (test/fixtures/deploy/conformance).
 * For every target: a new registry and tag, tag only, digest only, tag and digest, two
 * images at once, an idempotent re-run and a name that matches nothing. Each case is
 * rendered before and after by the real kustomize (`kubectl kustomize`), and the
 * renders must differ only in the deployed image lines; a mismatch fails with "did you
 * mean" and leaves the config repository untouched. Manifests and Helm targets, and the
 * verify-render modes: deploy-conformance-targets.test.ts.
 */
import { afterAll, describe, expect, it, vi } from 'vitest'
import {
  clone,
  configRepo,
  D,
  deploy,
  FIXTURES,
  imageChanges,
  MD,
  REG,
  render,
  shows,
  type Remote
} from '../support/conformance.js'
import { cleanup, sh } from '../support/gitrepo.js'

afterAll(() => cleanup())
// Each case runs the bundle once or twice and renders twice: room for a loaded machine.
vi.setConfig({ testTimeout: 180_000 })

/** Deploy `lines` to kustomize `dirs`, pushed, each render changed only in images. */
async function kustomizeCase(lines: string[], dirs: string[]): Promise<Remote> {
  const repo = configRepo()
  // The remote holds the fixtures as they are: render them where they are.
  const rendersBefore = dirs.map(d => render(FIXTURES, d))
  const run = await deploy(repo, {
    images: lines.join('\n'),
    targets: dirs.map(d => `kustomize:${d}`).join('\n')
  })
  expect(run.main.errors).toEqual([])
  expect(run.main.code).toBe(0)
  expect(run.main.outputs.result).toBe('pushed')
  expect(run.main.stdout).toContain(
    'verify-render: kustomize targets are rendered with kubectl kustomize'
  )
  expect(run.main.summary).toContain('Verified before the push (verify-render)')
  const after = clone(repo)
  const refs = lines.map(l => l.slice(l.indexOf('=') + 1))
  const rendersAfter = dirs.map(d => render(after, d))
  dirs.forEach((_d, i) => {
    const was = rendersBefore[i]!
    const now = rendersAfter[i]!
    expect(now.how).toBe(was.how)
    const here = refs.filter(r => shows(now.text, r))
    expect(imageChanges(was.text, now.text, here)).toEqual([])
  })
  for (const ref of refs) expect(rendersAfter.some(r => shows(r.text, ref))).toBe(true)
  return repo
}

const base = (name: string): string => name.slice(name.lastIndexOf('/') + 1)

const KUSTOMIZE: { dir: string; a: string; b?: string; other?: [string, string] }[] = [
  { dir: 'microservices-demo/kustomize/base', a: `${MD}/cartservice`, b: `${MD}/frontend` },
  { dir: 'microservices-demo/kubernetes-manifests', a: 'cartservice', b: 'redis' },
  {
    dir: 'argocd-example-apps/kustomize-guestbook',
    a: 'gcr.io/google-samples/gb-frontend',
    other: ['podinfo/kustomize', 'ghcr.io/stefanprodan/podinfo']
  },
  {
    dir: 'podinfo/kustomize',
    a: 'ghcr.io/stefanprodan/podinfo',
    other: ['argocd-example-apps/kustomize-guestbook', 'gcr.io/google-samples/gb-frontend']
  },
  // The overlay holds the images entry; the bases are outside the sparse checkout of
  // the target and are fetched for the render.
  {
    dir: 'podinfo/deploy/overlays/production',
    a: 'ghcr.io/stefanprodan/podinfo',
    b: 'docker.io/redis'
  }
]

describe.each(KUSTOMIZE)('conformance: kustomize:$dir', ({ dir, a, b, other }) => {
  it('a new registry and tag', async () => {
    await kustomizeCase([`${a}=${REG}/${base(a)}:v2`], [dir])
  })
  it('tag only', async () => {
    await kustomizeCase([`${a}=${a}:v2`], [dir])
  })
  it('digest only', async () => {
    await kustomizeCase([`${a}=${a}@${D}`], [dir])
  })
  it('tag and digest', async () => {
    await kustomizeCase([`${a}=${REG}/${base(a)}:v2@${D}`], [dir])
  })
  it(
    b ? 'two images at once, one images: list' : 'two images at once, each where it renders',
    async () => {
      const lines = b
        ? [`${a}=${REG}/${base(a)}:v2`, `${b}=${b}:7.4.0`]
        : [`${a}=${REG}/${base(a)}:v2`, `${other![1]}=${other![1]}:9.9.9`]
      const repo = await kustomizeCase(lines, b ? [dir] : [dir, other![0]])
      const k = sh(repo.origin, ['show', `main:${dir}/kustomization.yaml`])
      expect(k.match(/^images:/gm)).toHaveLength(1)
    }
  )
  it('an idempotent re-run pushes nothing', async () => {
    const line = `${a}=${REG}/${base(a)}:v2`
    const repo = await kustomizeCase([line], [dir])
    const tip = sh(repo.origin, ['rev-parse', 'main'])
    const again = await deploy(repo, { images: line, targets: `kustomize:${dir}` })
    expect(again.main.code).toBe(0)
    expect(again.main.outputs.result).toBe('no-op')
    expect(sh(repo.origin, ['rev-parse', 'main'])).toBe(tip)
  })
  it('a name that matches nothing fails with "did you mean", the repository untouched', async () => {
    const repo = configRepo()
    const refs = sh(repo.origin, ['show-ref'])
    const run = await deploy(repo, { images: `${a}-ui=${a}-ui:1.0.0`, targets: `kustomize:${dir}` })
    expect(run.main.code).toBe(1)
    const error = run.main.errors.join('\n')
    expect(error).toContain(`would render nowhere: no image named "${a}-ui"`)
    expect(error).toContain(`Did you mean "${a}"?`)
    expect(error).toContain('Nothing was pushed; the config repository is unchanged.')
    expect(sh(repo.origin, ['show-ref'])).toBe(refs)
  })
})
