/**
 * kustomization edits judged by what kustomize renders: made the way `kustomize edit
 * set image` makes them, they render the deployed reference in `kubectl kustomize`
 * (the example on microservices-demo, one images: list for two images, the
 * name the resources write, entries found by name or newName), and an image no
 * resource uses is refused with the names the target does render, closest first.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { planEdits } from '../../../../../src/deploy/gitops/edit.js'
import { parseTarget, updatesFromImages } from '../../../../../src/deploy/gitops/updates.js'
import { imagesOf, parseRender } from '../../../../../src/deploy/gitops/render-compare.js'
import { cleanup } from '../../../../support/gitrepo.js'
import { kustomizeOk, scratch as workspace } from '../../../../support/kustomize.js'

const D = `sha256:${'cd'.repeat(32)}`
afterAll(() => cleanup())

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
