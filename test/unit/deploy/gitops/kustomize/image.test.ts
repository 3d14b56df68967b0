/**
 * kustomize's image semantics, table-driven, and judged by the real kustomize: every
 * entry's predicted effect (applyImage) is what `kubectl kustomize` renders, and an
 * entry written by entryFor renders exactly the deployed reference.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { parseImageRef } from '../../../../../src/model/image-ref.js'
import {
  applyImage,
  entryFor,
  imageFields,
  imageMatches,
  splitImage,
  transformImages,
  type KustomizeImage
} from '../../../../../src/deploy/gitops/kustomize/image.js'
import { imagesOf, parseRender } from '../../../../../src/deploy/gitops/render-compare.js'
import { kustomizeOk, legacyKubectl } from '../../../../support/kustomize.js'

const dirs: string[] = []
afterAll(() => dirs.forEach(d => rmSync(d, { recursive: true, force: true })))

const D = `sha256:${'ab'.repeat(32)}`

describe('splitImage (kustomize image.Split)', () => {
  it.each([
    ['nginx', 'nginx', '', ''],
    ['nginx:1.2.3', 'nginx', '1.2.3', ''],
    ['nginx@sha256:12345', 'nginx', '', 'sha256:12345'],
    ['nginx:1.2.3@sha256:12345', 'nginx', '1.2.3', 'sha256:12345'],
    ['docker.io/nginx:1.2.3', 'docker.io/nginx', '1.2.3', ''],
    ['foo.com:443/nginx:1.2.3', 'foo.com:443/nginx', '1.2.3', ''],
    ['foo.com:443/nginx:1.2.3@sha256:12345', 'foo.com:443/nginx', '1.2.3', 'sha256:12345'],
    ['localhost:5000/a/b', 'localhost:5000/a/b', '', '']
  ])('%s', (value, name, tag, digest) => {
    expect(splitImage(value)).toEqual({ name, tag, digest })
  })
})

describe('imageMatches (kustomize IsImageMatched: exact name, any tag or digest)', () => {
  it.each([
    ['nginx', 'nginx', true],
    ['nginx:12345', 'nginx', true],
    ['nginx@sha256:xyz', 'nginx', true],
    ['nginx:12345@sha512:xyz', 'nginx', true],
    ['nginx@multihash+base58:QmRZ', 'nginx', true],
    ['apache:12345', 'nginx', false],
    ['nginx-ui:1', 'nginx', false],
    ['docker.io/nginx:1', 'nginx', false],
    ['nginx:1', 'docker.io/library/nginx', false],
    ['registry.local:5000/shop/cart:v2', 'registry.local:5000/shop/cart', true],
    ['registry.local:5000/shop/cart:v2', 'registry.local', false],
    ['nginx', '[', false]
  ])('%s against %s → %s', (value, name, expected) => {
    expect(imageMatches(value, name)).toBe(expected)
  })
})

const ENTRIES: [string, KustomizeImage, string | undefined][] = [
  ['nginx:1.0', { name: 'nginx', newTag: '2.0' }, 'nginx:2.0'],
  ['nginx:1.0', { name: 'nginx', newName: 'r.io/x/nginx' }, 'r.io/x/nginx:1.0'],
  [`nginx:1.0@${D}`, { name: 'nginx', newTag: '2.0' }, 'nginx:2.0'],
  ['nginx:1.0', { name: 'nginx', digest: D }, `nginx@${D}`],
  ['nginx:1.0', { name: 'nginx', newTag: '2', digest: D }, `nginx:2@${D}`],
  ['nginx:1.0', { name: 'nginx', tagSuffix: '-rc' }, 'nginx:1.0-rc'],
  ['nginx', { name: 'nginx', newName: 'h:5000/n', newTag: 'v2' }, 'h:5000/n:v2'],
  ['docker.io/nginx:1', { name: 'nginx', newTag: '2' }, undefined],
  ['nginx-ui:1', { name: 'nginx', newTag: '2' }, undefined]
]

describe('applyImage (kustomize imageTagUpdater)', () => {
  it.each(ENTRIES)('%s with %j → %s', (value, entry, expected) => {
    expect(applyImage(value, entry)).toBe(expected)
  })

  it('predicts what kubectl kustomize renders for each entry', () => {
    const d = mkdtempSync(join(tmpdir(), 'conveyor-kimage-'))
    dirs.push(d)
    // kustomize v2 (kubectl 1.20) has no tagSuffix: that entry is left out with it.
    const cases = ENTRIES.filter(([, e]) => !(legacyKubectl && e.tagSuffix))
    // One Deployment per case, each image name unique so that entries do not overlap.
    const docs = cases.map(([value], i) =>
      [
        'apiVersion: apps/v1',
        'kind: Deployment',
        `metadata: {name: d${i}}`,
        'spec:',
        '  template:',
        '    spec:',
        '      containers:',
        `      - {name: c, image: "${value.replace(/nginx/, `nginx${i}`)}"}`
      ].join('\n')
    )
    writeFileSync(join(d, 'r.yaml'), docs.join('\n---\n'))
    const entries = cases.map(([, e], i) => ({
      ...e,
      name: e.name === 'nginx' ? `nginx${i}` : e.name,
      ...(e.newName === undefined ? {} : { newName: e.newName })
    }))
    writeFileSync(
      join(d, 'kustomization.yaml'),
      `resources: [r.yaml]\nimages: ${JSON.stringify(entries)}\n`
    )
    const rendered = imagesOf(parseRender(kustomizeOk(d)))
    // The prediction: the entries applied in order to each resource, as the transformer
    // does (a tagSuffix lands twice: the legacy filter and the field specs both see
    // spec/template/spec/containers, in kustomize as here).
    const resources = parseRender(docs.join('\n---\n'))
    for (const e of entries) for (const r of resources) transformImages(r, e)
    expect(imagesOf(resources)).toEqual(rendered)
    if (!legacyKubectl) expect(rendered.map(r => r.value)).toContain('nginx5:1.0-rc-rc')
  })
})

describe('entryFor (kustomize edit set image NAME=NEWREF)', () => {
  it.each([
    [
      'cart',
      'registry.local:5000/shop/cart:v2',
      { name: 'cart', newName: 'registry.local:5000/shop/cart', newTag: 'v2' }
    ],
    ['ghcr.io/a/cart', 'ghcr.io/a/cart:v2', { name: 'ghcr.io/a/cart', newTag: 'v2' }],
    ['ghcr.io/a/cart', `ghcr.io/a/cart@${D}`, { name: 'ghcr.io/a/cart', digest: D }],
    [
      'ghcr.io/a/cart',
      `ghcr.io/a/cart:v2@${D}`,
      { name: 'ghcr.io/a/cart', newTag: 'v2', digest: D }
    ]
  ])('%s=%s', (name, ref, expected) => {
    expect(entryFor(name, parseImageRef(ref))).toEqual(expected)
  })

  it('renders the deployed reference exactly, whatever the old tag or digest', () => {
    for (const old of ['cart:1', `cart@${D}`, `cart:1@${D}`, 'cart']) {
      for (const ref of ['r.io:5000/s/cart:v2', `cart@${D}`, `r.io/cart:v2@${D}`, 'cart:v3']) {
        expect(applyImage(old, entryFor('cart', parseImageRef(ref)))).toBe(ref)
      }
    }
  })
})

describe('imageFields and transformImages', () => {
  const pod = (): Record<string, unknown> => ({
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name: 'j' },
    spec: {
      jobTemplate: {
        spec: {
          template: {
            spec: {
              initContainers: [{ name: 'i', image: 'busybox:1' }],
              containers: [{ name: 'c', image: 'app:1' }],
              ephemeralContainers: [{ name: 'e', image: 'app:1' }]
            }
          }
        }
      }
    }
  })

  it('finds containers and initContainers anywhere (the legacy filter), not ephemeral ones', () => {
    expect(imageFields(pod()).map(f => `${f.path}=${f.value}`)).toEqual([
      'spec.jobTemplate.spec.template.spec.initContainers[0].image=busybox:1',
      'spec.jobTemplate.spec.template.spec.containers[0].image=app:1'
    ])
  })

  it('leaves CustomResourceDefinitions alone', () => {
    const crd = { ...pod(), kind: 'CustomResourceDefinition' }
    expect(imageFields(crd)).toEqual([])
    transformImages(crd, { name: 'app', newTag: '2' })
    expect(JSON.stringify(crd)).toContain('"app:1"')
  })

  it('transforms in place', () => {
    const p = pod()
    transformImages(p, { name: 'app', newName: 'r.io/app', newTag: '2' })
    expect(imageFields(p).map(f => f.value)).toEqual(['busybox:1', 'r.io/app:2'])
  })
})
