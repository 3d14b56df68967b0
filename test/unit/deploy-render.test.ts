/**
 * Deploy edits judged by what kustomize renders: kustomization edits made the way
 * `kustomize edit set image` makes them render the deployed reference in `kubectl
 * kustomize`, an image no resource uses is refused with the names the target does
 * render (closest first), and the render check (before and after the edit, with
 * kubectl or in-process, Helm charts' templates) catches what would not render.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { planEdits } from '../../src/lib/deploy-edit.js'
import { RenderCheck, type RenderCheckOptions } from '../../src/lib/deploy-render.js'
import { parseTarget, updatesFromImages, type Target } from '../../src/lib/deploy-targets.js'
import {
  closestImages,
  diffResources,
  imagesOf,
  judge,
  parseRender,
  rendersRef
} from '../../src/lib/deploy-verify.js'
import { memoryLogger } from '../../src/lib/logger.js'
import { KUBECTL, kustomizeOk } from '../support/kustomize.js'

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'deploy', 'conformance')
const D = `sha256:${'cd'.repeat(32)}`
const dirs: string[] = []
afterAll(() => dirs.forEach(d => rmSync(d, { recursive: true, force: true })))

/** A copy of a conformance fixture (or of given files) in a fresh directory. */
function workspace(fixture?: string, files: Record<string, string> = {}): string {
  const d = mkdtempSync(join(tmpdir(), 'conveyor-render-'))
  dirs.push(d)
  if (fixture) cpSync(join(FIXTURES, fixture), d, { recursive: true })
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(d, p)), { recursive: true })
    writeFileSync(join(d, p), text)
  }
  return d
}

/** The images kubectl renders for `dir`. */
function rendered(root: string, dir: string): string[] {
  return imagesOf(parseRender(kustomizeOk(join(root, dir)))).map(i => i.value)
}

/** Plan `lines` against a kustomize target with what kubectl renders, and write it. */
function deployTo(root: string, dir: string, lines: string[]): ReturnType<typeof planEdits> {
  const updates = updatesFromImages(lines, [], undefined)
  const plan = planEdits(root, updates, [parseTarget(`kustomize:${dir}`)], {
    rendered: new Map([[dir, rendered(root, dir)]])
  })
  for (const [f, text] of plan.files) writeFileSync(join(root, f), text)
  return plan
}

const MD = 'us-central1-docker.pkg.dev/online-boutique-ci/microservices-demo'

describe('kustomize edits render the deployed image in kubectl kustomize', () => {
  it("the issue's example: an upstream name pointed at our registry, nothing else changes", () => {
    const root = workspace('microservices-demo')
    const before = kustomizeOk(join(root, 'kustomize/base'))
    const plan = deployTo(root, 'kustomize/base', [
      `${MD}/cartservice=registry.local:5000/shop/cartservice:v2`
    ])
    const file = plan.files.get('kustomize/base/kustomization.yaml')!
    expect(file).toContain(
      `images:\n- name: ${MD}/cartservice\n  newName: registry.local:5000/shop/cartservice\n  newTag: v2\n`
    )
    const after = kustomizeOk(join(root, 'kustomize/base'))
    expect(after).toBe(
      before.replace(`${MD}/cartservice:v0.10.6`, 'registry.local:5000/shop/cartservice:v2')
    )
  })

  it('two images into a kustomization without images: make one images: list', () => {
    const root = workspace('microservices-demo')
    deployTo(root, 'kubernetes-manifests', [
      'cartservice=registry.local:5000/shop/cartservice:v2',
      `frontend=registry.local:5000/shop/frontend@${D}`
    ])
    const text = readFileSync(join(root, 'kubernetes-manifests/kustomization.yaml'), 'utf8')
    expect(text.match(/^images:/gm)).toHaveLength(1)
    expect((parse(text) as { images: unknown[] }).images).toEqual([
      { name: 'cartservice', newName: 'registry.local:5000/shop/cartservice', newTag: 'v2' },
      { name: 'frontend', newName: 'registry.local:5000/shop/frontend', digest: D }
    ])
    const images = rendered(root, 'kubernetes-manifests')
    expect(images).toContain('registry.local:5000/shop/cartservice:v2')
    expect(images).toContain(`registry.local:5000/shop/frontend@${D}`)
    expect(images).not.toContain('cartservice')
  })

  it('a line named after the new image finds the name the resources write', () => {
    // Without rendering, `cart=` would become `name: cart`; the render says the
    // resources write ghcr.io/acme/cart.
    const root = workspace(undefined, {
      'k/kustomization.yaml': 'resources: [d.yaml]\n',
      'k/d.yaml':
        'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: "ghcr.io/acme/cart:1"}]}\n'
    })
    deployTo(root, 'k', ['cart=ghcr.io/acme/cart:2'])
    expect(readFileSync(join(root, 'k/kustomization.yaml'), 'utf8')).toContain(
      'images:\n- name: ghcr.io/acme/cart\n  newTag: "2"\n'
    )
    expect(rendered(root, 'k')).toEqual(['ghcr.io/acme/cart:2'])
  })

  it.each<[string, string, string, string]>([
    [
      'found by newName (a build result names the new repository)',
      '- name: cart\n  newName: r.io/team/cart\n  newTag: "1"\n',
      'r.io/team/cart=r.io/team/cart:2',
      'r.io/team/cart:2'
    ],
    [
      'found by name, back to the original repository: newName goes',
      '- name: cart\n  newName: r.io/team/cart\n  newTag: "1"\n',
      'cart=cart:3',
      'cart:3'
    ],
    [
      'a digest only replaces the tag',
      '- name: cart\n  newTag: "1"\n',
      `cart=cart@${D}`,
      `cart@${D}`
    ],
    [
      'tag and digest, in a flow entry',
      '- {name: cart, newTag: "1"}\n',
      `cart=h:5000/cart:v2@${D}`,
      `h:5000/cart:v2@${D}`
    ]
  ])('an existing entry %s', (_name, images, line, expected) => {
    const root = workspace(undefined, {
      'k/kustomization.yaml': `resources: [d.yaml]\nimages:\n${images}`,
      'k/d.yaml':
        'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: "cart:0"}]}\n'
    })
    const plan = deployTo(root, 'k', [line])
    expect(plan.changes).toHaveLength(1)
    expect(rendered(root, 'k')).toEqual([expected])
    expect(readFileSync(join(root, 'k/kustomization.yaml'), 'utf8').match(/name:/g)).toHaveLength(
      images.match(/name:/g)!.length
    )
  })

  it('one entry for one image named twice; two images under one name are refused', () => {
    const root = workspace('podinfo')
    const twice = [parseTarget('kustomize:kustomize'), parseTarget('kustomize:kustomize')]
    const rendered = new Map([['kustomize', ['ghcr.io/stefanprodan/podinfo:6.14.1']]])
    const plan = planEdits(
      root,
      updatesFromImages(['ghcr.io/stefanprodan/podinfo=r.io/podinfo:7'], [], undefined),
      twice,
      { rendered }
    )
    expect(plan.files.get('kustomize/kustomization.yaml')!.match(/- name:/g)).toHaveLength(1)
    expect(() =>
      planEdits(
        root,
        updatesFromImages(
          ['podinfo=ghcr.io/stefanprodan/podinfo:7', 'ghcr.io/stefanprodan/podinfo=r.io/podinfo:8'],
          [],
          undefined
        ),
        [parseTarget('kustomize:kustomize')],
        { rendered }
      )
    ).toThrow(
      /podinfo and ghcr\.io\/stefanprodan\/podinfo would both become the images entry "ghcr\.io\/stefanprodan\/podinfo"/
    )
  })

  it.each([
    [
      'podinfo',
      'kustomize',
      'ghcr.io/stefanprodan/podinfo-ui=ghcr.io/stefanprodan/podinfo-ui:1.0.0',
      /Did you mean "ghcr\.io\/stefanprodan\/podinfo"\? The target renders: ghcr\.io\/stefanprodan\/podinfo:6\.14\.1\./
    ],
    [
      'podinfo',
      'deploy/overlays/production',
      'redis=redis:8.9.0',
      /no image named "redis".*Did you mean "docker\.io\/redis"\? The target renders: docker\.io\/redis:8\.8\.0, ghcr\.io/
    ],
    [
      'microservices-demo',
      'kubernetes-manifests',
      'cartservise=registry.local:5000/shop/cartservice:v2',
      /Did you mean "cartservice"\? The target renders: cartservice, /
    ]
  ])('%s %s: %s renders nowhere, and says what does', (fixture, dir, line, message) => {
    const root = workspace(fixture)
    const before = readFileSync(join(root, dir, 'kustomization.yaml'), 'utf8')
    expect(() => deployTo(root, dir, [line])).toThrow(message)
    expect(() => deployTo(root, dir, [line])).toThrow(/Nothing was pushed/)
    expect(readFileSync(join(root, dir, 'kustomization.yaml'), 'utf8')).toBe(before)
  })
})

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
