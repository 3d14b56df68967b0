/**
 * The render check of a deploy: before and after the edit, with kubectl or the
 * in-process resolution, it passes a good edit, refuses one that changes more than
 * images or an entry that renders nowhere (even a no-op), falls back or fails when
 * kubectl refuses the branch as it is, widens a sparse checkout, and checks that Helm
 * charts' templates use the keys written; and the pure verdict.
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { planEdits } from '../../../../src/deploy/gitops/edit.js'
import { RenderCheck, type RenderCheckOptions } from '../../../../src/deploy/gitops/render.js'
import {
  parseTarget,
  updatesFromImages,
  type Target
} from '../../../../src/deploy/gitops/updates.js'
import {
  closestImages,
  diffResources,
  imagesOf,
  judge,
  rendersRef
} from '../../../../src/deploy/gitops/render-compare.js'
import { memoryLogger } from '../../../../src/core/logger.js'
import { cleanup } from '../../../support/gitrepo.js'
import { KUBECTL, scratch as workspace } from '../../../support/kustomize.js'

const D = `sha256:${'cd'.repeat(32)}`
const MD = 'us-central1-docker.pkg.dev/online-boutique-ci/microservices-demo'
afterAll(() => cleanup())

function check(root: string, o: Partial<RenderCheckOptions> = {}): RenderCheck {
  return new RenderCheck({
    mode: 'auto',
    within: root,
    path: '.',
    log: memoryLogger(),
    renderer: { command: KUBECTL, args: d => ['kustomize', d], label: 'kubectl kustomize' },
    ...o
  })
}

/** One full check: before, plan, write, after. */
async function verify(
  root: string,
  lines: string[],
  targets: Target[],
  c: RenderCheck,
  tamper?: () => void
): Promise<void> {
  const updates = updatesFromImages(lines, [], undefined)
  const shown = await c.before(updates, targets)
  const plan = planEdits(root, updates, targets, { rendered: shown })
  for (const [f, text] of plan.files) writeFileSync(join(root, f), text)
  tamper?.()
  await c.after(plan, updates, targets)
}

describe('RenderCheck', () => {
  const line = `${MD}/cartservice=registry.local:5000/shop/cartservice:v2`
  const target = [parseTarget('kustomize:kustomize/base')]

  it.each([
    ['kubectl', true],
    ['the in-process resolution', false]
  ])('passes a good edit with %s and reports it', async (_how, withRenderer) => {
    const root = workspace('microservices-demo')
    const c = check(root, withRenderer ? {} : { renderer: undefined })
    await verify(root, [line], target, c)
    expect(c.report).toEqual([
      `kustomize:kustomize/base renders registry.local:5000/shop/cartservice:v2 (${withRenderer ? 'kubectl kustomize' : 'in-process resolution'}); nothing else changed`
    ])
  })

  it.each([true, false])(
    'refuses an edit that changes more than images (renderer %s)',
    async withRenderer => {
      const root = workspace('microservices-demo')
      const c = check(root, withRenderer ? {} : { renderer: undefined })
      const file = join(root, 'kustomize/base/kustomization.yaml')
      await expect(
        verify(root, [line], target, c, () =>
          writeFileSync(
            file,
            readFileSync(file, 'utf8').replace(
              'resources:\n',
              withRenderer
                ? 'namePrefix: x-\nresources:\n'
                : 'resources:\n- ../../kubernetes-manifests/adservice.yaml\n'
            )
          )
        )
      ).rejects.toThrow(/changes more than the deployed images/)
    }
  )

  it('refuses an entry that already "holds" the image but renders nowhere (a no-op is not green)', async () => {
    const root = workspace(undefined, {
      'k/kustomization.yaml': 'resources: [d.yaml]\nimages:\n- name: ghost\n  newTag: "2"\n',
      'k/d.yaml':
        'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: "ghcr.io/acme/host:1"}]}\n'
    })
    await expect(
      verify(root, ['ghost=ghost:2'], [parseTarget('kustomize:k')], check(root))
    ).rejects.toThrow(
      /after the edit, kustomize:k does not render ghost:2\. .*It renders: ghcr\.io\/acme\/host:1/
    )
  })

  it('falls back to the in-process resolution when kubectl refuses the branch as it is (auto), fails (required)', async () => {
    const files = {
      'k/kustomization.yaml': 'resources: [d.yaml]\nnotAField: 1\n',
      'k/d.yaml':
        'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: "cart:1"}]}\n'
    }
    const root = workspace(undefined, files)
    const log = memoryLogger()
    await verify(root, ['cart=cart:2'], [parseTarget('kustomize:k')], check(root, { log }))
    expect(log.text()).toMatch(
      /kubectl kustomize cannot render the kustomization as it is on the branch .*in-process resolution instead/
    )
    const strict = workspace(undefined, files)
    await expect(
      verify(
        strict,
        ['cart=cart:2'],
        [parseTarget('kustomize:k')],
        check(strict, { mode: 'required' })
      )
    ).rejects.toThrow(/kubectl kustomize cannot render .*verify-render: required/)
  })

  it('widens a sparse checkout to the bases a target needs', async () => {
    const full = workspace('podinfo')
    const root = workspace(undefined, {
      'deploy/overlays/production/kustomization.yaml': readFileSync(
        join(full, 'deploy/overlays/production/kustomization.yaml'),
        'utf8'
      )
    })
    cpSync(join(full, 'deploy/overlays'), join(root, 'deploy/overlays'), { recursive: true })
    const widened: string[] = []
    const widen = async (patterns: string[]): Promise<void> => {
      widened.push(...patterns)
      for (const p of patterns) cpSync(join(full, p), join(root, p), { recursive: true })
    }
    await verify(
      root,
      ['ghcr.io/stefanprodan/podinfo=ghcr.io/stefanprodan/podinfo:6.15.0'],
      [parseTarget('kustomize:deploy/overlays/production')],
      check(root, { widen })
    )
    expect(widened.sort()).toEqual(['/deploy/bases/backend', '/deploy/bases/cache'])
  })
})

describe('RenderCheck: Helm charts in the repository', () => {
  it.each([
    ['microservices-demo', 'helm:helm-chart/values.yaml:images.tag', 'cartservice=x:v0.11.0'],
    ['argocd-example-apps', 'helm:helm-guestbook/values.yaml:image', 'gb=r.io/gb-frontend:v6'],
    ['argocd-example-apps', 'helm:helm-guestbook/values.yaml:image.tag', 'gb=r.io/gb-frontend:v6']
  ])('%s %s: the templates use the key', async (fixture, t, line) => {
    const root = workspace(fixture)
    const log = memoryLogger()
    await verify(root, [line], [parseTarget(t)], check(root, { log }))
    expect(log.text()).toMatch(/the chart in .* uses \.Values\./)
  })

  it('refuses a digest the chart never uses, listing what its templates use', async () => {
    const root = workspace('argocd-example-apps')
    await expect(
      verify(
        root,
        [`gb=gcr.io/google-samples/gb-frontend@${D}`],
        [parseTarget('helm:helm-guestbook/values.yaml:image')],
        check(root)
      )
    ).rejects.toThrow(
      /the chart in helm-guestbook never uses \.Values\.image\.digest .*Its templates use: .*\.Values\.image\.pullPolicy/
    )
  })

  it('only checks the key when no chart is beside or above the values file', async () => {
    const root = workspace(undefined, { 'env/values.yaml': 'image:\n  tag: v1\n' })
    const log = memoryLogger()
    await verify(
      root,
      ['a=a:v2'],
      [parseTarget('helm:env/values.yaml:image.tag')],
      check(root, { log })
    )
    expect(log.text()).toMatch(
      /no Chart\.yaml beside or above env\/values\.yaml; only the key was checked/
    )
  })
})

describe('the verdict, pure', () => {
  it.each([
    ['r.io/a:2', 'r.io/a:2', true],
    [`r.io/a:2@${D}`, `r.io/a:2@${D}`, true],
    // kustomize v2 renders an entry with newTag and digest as name@digest.
    [`r.io/a:2@${D}`, `r.io/a@${D}`, true],
    [`r.io/a:2@${D}`, `r.io/b@${D}`, false],
    [`r.io/a:2@${D}`, 'r.io/a:2', false],
    ['r.io/a:2', 'r.io/a:3', false]
  ])('%s rendered as %s: %s', (ref, value, expected) => {
    expect(rendersRef(ref, value)).toBe(expected)
  })

  it('orders what a target renders by closeness to the name asked for', () => {
    expect(
      closestImages(
        ['ghcr.io/acme/cart'],
        ['redis:7', 'ghcr.io/acme/card:1', 'r.io/cart:2', 'nginx']
      )
    ).toEqual(['r.io/cart:2', 'ghcr.io/acme/card:1', 'redis:7', 'nginx'])
  })

  it('allows only deployed images in image fields to change', () => {
    const doc = (image: string, replicas = 1): unknown => ({
      kind: 'Deployment',
      metadata: { name: 'd' },
      spec: { replicas, template: { spec: { containers: [{ name: 'c', image }] } } }
    })
    const [update] = updatesFromImages(['a=a:2'], [], undefined)
    const ok = judge(
      diffResources([doc('a:1')], [doc('a:2')]),
      imagesOf([doc('a:2')]),
      [update!],
      (u, v) => v === u.ref
    )
    expect(ok).toEqual({ unexpected: [], missing: [] })
    const bad = judge(
      diffResources([doc('a:1')], [doc('a:2', 3)]),
      imagesOf([doc('a:2', 3)]),
      [update!],
      (u, v) => v === u.ref
    )
    expect(bad.unexpected.map(d => d.path)).toEqual(['spec.replicas'])
    const other = judge(
      diffResources([doc('a:1')], [doc('b:1')]),
      imagesOf([doc('b:1')]),
      [update!],
      (u, v) => v === u.ref
    )
    expect(other.missing).toEqual([update])
    expect(other.unexpected).toHaveLength(1)
  })
})
