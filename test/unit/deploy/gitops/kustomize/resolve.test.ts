/**
 * The in-process resolution of kustomizations, judged by the real kustomize: on every
 * conformance fixture (real public configs) and on small layouts exercising each
 * feature it resolves (bases, overlays, components, strategic merge and JSON 6902
 * patches, targets, name prefixes, transformer configs, Lists), it must list the same
 * container images, on the same resources and fields, as `kubectl kustomize` renders.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import {
  imagesOf,
  parseRender,
  type RenderedImage
} from '../../../../../src/deploy/gitops/render-compare.js'
import { resolveKustomization } from '../../../../../src/deploy/gitops/kustomize/resolve.js'
import {
  dirSource,
  kubectlVersion,
  kustomize,
  legacyKubectl
} from '../../../../support/kustomize.js'

const FIXTURES = join(
  import.meta.dirname,
  '..',
  '..',
  '..',
  '..',
  'fixtures',
  'deploy',
  'conformance'
)
const EXAMPLE = join(import.meta.dirname, '..', '..', '..', '..', '..', 'examples', 'config-repo')
const dirs: string[] = []
afterAll(() => dirs.forEach(d => rmSync(d, { recursive: true, force: true })))

const line = (i: RenderedImage): string => `${i.resource} ${i.path} ${i.value}`

/** The in-process images of `dir` under `root`, and kubectl's (undefined when it refuses). */
function both(root: string, dir: string): { mine: string[]; real?: string[]; error?: string } {
  const res = resolveKustomization(dirSource(root), dir)
  expect(res.missing).toEqual([])
  const mine = imagesOf(res.resources).map(line).sort()
  const r = kustomize(join(root, dir))
  if (!r.ok) return { mine, error: r.error }
  return { mine, real: imagesOf(parseRender(r.text)).map(line).sort() }
}

const MD = 'us-central1-docker.pkg.dev/online-boutique-ci/microservices-demo'
const SERVICES = [
  'adservice',
  'cartservice',
  'checkoutservice',
  'currencyservice',
  'emailservice',
  'frontend',
  'paymentservice',
  'productcatalogservice',
  'recommendationservice',
  'shippingservice'
]

describe('in-process resolution = kubectl kustomize on the conformance fixtures', () => {
  it.each([
    [
      FIXTURES,
      'microservices-demo/kustomize/base',
      [
        `busybox:1.38.0@sha256:fd8d9aa63ba2f0982b5304e1ee8d3b90a210bc1ffb5314d980eb6962f1a9715d`,
        'redis:alpine',
        ...[...SERVICES, 'loadgenerator'].map(s => `${MD}/${s}:v0.10.6`)
      ]
    ],
    [FIXTURES, 'microservices-demo/kubernetes-manifests', [...SERVICES, 'redis:alpine']],
    [FIXTURES, 'argocd-example-apps/kustomize-guestbook', ['gcr.io/google-samples/gb-frontend:v5']],
    [FIXTURES, 'podinfo/kustomize', ['ghcr.io/stefanprodan/podinfo:6.14.1']],
    // kubectl 1.20 (kustomize v2.0.3) does not know `transformers:` here: it is compared
    // with the images listed, and with kubectl wherever kubectl renders it.
    [
      FIXTURES,
      'podinfo/deploy/overlays/production',
      ['docker.io/redis:8.8.0', 'ghcr.io/stefanprodan/podinfo:6.14.1']
    ],
    // The example config repository's overlay uses `labels:` (kustomize v4+).
    [
      EXAMPLE,
      'overlays/prod',
      [
        'ghcr.io/acme/shop-cart:2.0.1',
        'ghcr.io/acme/shop-checkout:1.10',
        'ghcr.io/acme/shop-frontend:1.4.2',
        'registry.acme.internal:5000/payments/shop-payments:3.2.0@sha256:0000000000000000000000000000000000000000000000000000000000000001'
      ]
    ]
  ])('%s: %s', (root, dir, images) => {
    const { mine, real, error } = both(root, dir)
    expect([...new Set(mine.map(l => l.split(' ')[2]!))].sort()).toEqual([...images].sort())
    if (real) expect(mine).toEqual(real)
    else expect(error, `${kubectlVersion()} refused ${dir}`).toMatch(/unknown field/)
  })
})

/** Write a layout of files under a fresh directory. */
function layout(files: Record<string, string>): string {
  const d = mkdtempSync(join(tmpdir(), 'conveyor-kres-'))
  dirs.push(d)
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(d, p)), { recursive: true })
    writeFileSync(join(d, p), text)
  }
  return d
}

const deployment = (name: string, image: string, extra = ''): string =>
  [
    'apiVersion: apps/v1',
    'kind: Deployment',
    `metadata: {name: ${name}, labels: {app: ${name}}}`,
    'spec:',
    '  template:',
    '    spec:',
    '      containers:',
    `      - {name: main, image: ${image}}`,
    extra
  ].join('\n')

const BASE = {
  'base/kustomization.yaml':
    'resources: [cart.yaml, web.yaml]\nimages:\n- {name: cart, newTag: "1"}\n',
  'base/cart.yaml': deployment('cart', 'cart:0'),
  'base/web.yaml': deployment('web', 'ghcr.io/a/web:0')
}

describe('in-process resolution = kubectl kustomize, feature by feature', () => {
  it.each<[string, Record<string, string>, string, string[], boolean]>([
    [
      'an overlay renaming a base image, with prefix and namespace',
      {
        ...BASE,
        'prod/kustomization.yaml':
          'bases: [../base]\nnamePrefix: prod-\nnamespace: shop\nimages:\n- {name: cart, newName: r.io:5000/s/cart, newTag: "2"}\n'
      },
      'prod',
      ['r.io:5000/s/cart:2', 'ghcr.io/a/web:0'],
      false
    ],
    [
      'components with images and a patch',
      {
        ...BASE,
        'comp/kustomization.yaml': [
          'apiVersion: kustomize.config.k8s.io/v1alpha1',
          'kind: Component',
          'images:',
          '- {name: ghcr.io/a/web, newTag: comp}',
          'patches:',
          '- target: {kind: Deployment, name: "ca.*"}',
          '  patch: |-',
          '    - op: replace',
          '      path: /spec/template/spec/containers/0/image',
          '      value: patched/cart:9',
          ''
        ].join('\n'),
        'o/kustomization.yaml': 'resources: [../base]\ncomponents: [../comp]\n'
      },
      'o',
      ['patched/cart:9', 'ghcr.io/a/web:comp'],
      true
    ],
    [
      'strategic merge patches from files: a new image, a sidecar, a deleted resource',
      {
        ...BASE,
        'o/kustomization.yaml': 'bases: [../base]\npatchesStrategicMerge: [p.yaml, del.yaml]\n',
        'o/p.yaml': deployment('cart', 'cart:patched', '      - {name: side, image: envoy:1}'),
        'o/del.yaml':
          'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n$patch: delete\n'
      },
      'o',
      ['cart:patched', 'envoy:1'],
      false
    ],
    [
      'patches: an inline strategic merge patch with a label selector, a JSON 6902 file',
      {
        ...BASE,
        'o/kustomization.yaml': [
          'resources: [../base]',
          'patches:',
          '- target: {labelSelector: app=web}',
          '  patch: |-',
          '    apiVersion: apps/v1',
          '    kind: Deployment',
          '    metadata: {name: ignored}',
          '    spec: {template: {spec: {initContainers: [{name: init, image: busybox:1}]}}}',
          'patchesJson6902:',
          '- target: {group: apps, version: v1, kind: Deployment, name: cart}',
          '  path: j.yaml',
          ''
        ].join('\n'),
        'o/j.yaml':
          '- op: add\n  path: /spec/template/spec/containers/-\n  value: {name: two, image: cart:two}\n'
      },
      'o',
      ['cart:1', 'cart:two', 'ghcr.io/a/web:0', 'busybox:1'],
      true
    ],
    [
      'an ImageTagTransformer config in transformers:, and a List of resources',
      {
        'o/kustomization.yaml': 'resources: [list.yaml]\ntransformers: [t.yaml]\n',
        'o/list.yaml': [
          'apiVersion: v1',
          'kind: List',
          'items:',
          '- apiVersion: v1',
          '  kind: Pod',
          '  metadata: {name: p}',
          '  spec: {containers: [{name: c, image: "nginx:1"}]}',
          ''
        ].join('\n'),
        'o/t.yaml':
          'apiVersion: builtin\nkind: ImageTagTransformer\nmetadata: {name: t}\nimageTag: {name: nginx, newTag: "2", digest: sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}\n'
      },
      'o',
      [`nginx:2@sha256:${'a'.repeat(64)}`],
      true
    ],
    [
      'entries applied in order, a CronJob, and an image name no entry matches',
      {
        'o/kustomization.yaml':
          'resources: [c.yaml]\nimages:\n- {name: a, newName: b}\n- {name: b, newTag: "3"}\n- {name: docker.io/library/c, newTag: "9"}\n',
        'o/c.yaml': [
          'apiVersion: batch/v1',
          'kind: CronJob',
          'metadata: {name: j}',
          'spec:',
          '  jobTemplate:',
          '    spec:',
          '      template:',
          '        spec:',
          '          containers: [{name: a, image: "a:1"}, {name: c, image: "c:1"}]',
          ''
        ].join('\n')
      },
      'o',
      ['b:3', 'c:1'],
      true
    ]
  ])('%s', (_name, files, dir, images, sinceV3) => {
    const root = layout(files)
    const { mine, real, error } = both(root, dir)
    expect(mine.map(l => l.split(' ')[2])).toEqual(images)
    // kubectl 1.20 (Debian's kubernetes-client, kustomize v2.0.3) predates components,
    // `patches:`, transformer configs, tagSuffix and the in-order application of images
    // entries (kustomize v3+). With it, those layouts are checked against the images
    // listed only; every other layout, and every layout with a newer kubectl, against
    // what kubectl renders.
    if (sinceV3 && legacyKubectl) return
    expect(error).toBeUndefined()
    expect(mine).toEqual(real)
  })
})

describe('in-process resolution: what it skips and what it reports', () => {
  it('skips remote resources and Helm charts with a notice', () => {
    const root = layout({
      'k/kustomization.yaml':
        'resources:\n- https://github.com/acme/x//base?ref=v1\n- github.com/acme/y/base\n- d.yaml\nhelmCharts:\n- {name: x}\nconfigurations: [c.yaml]\n',
      'k/d.yaml': deployment('d', 'd:1')
    })
    const res = resolveKustomization(dirSource(root), 'k')
    expect(imagesOf(res.resources).map(i => i.value)).toEqual(['d:1'])
    expect(res.notices.join('\n')).toMatch(
      /remote resource https:\/\/github\.com\/acme\/x.*skipped/
    )
    expect(res.notices.join('\n')).toMatch(/remote resource github\.com\/acme\/y\/base/)
    expect(res.notices.join('\n')).toMatch(/helmCharts are not rendered in-process/)
    expect(res.notices.join('\n')).toMatch(/configurations \(custom field specs\) are not applied/)
  })

  it('reports referenced paths that are absent (for a sparse checkout to widen)', () => {
    const root = layout({
      'o/kustomization.yaml':
        'resources: [../base, x.yaml]\npatches: [{path: p.yaml}]\nconfigMapGenerator: [{name: c, files: [k=conf.txt]}]\n'
    })
    const res = resolveKustomization(dirSource(root), 'o')
    expect(res.missing.map(m => m.path).sort()).toEqual([
      'base',
      'o/conf.txt',
      'o/p.yaml',
      'o/x.yaml'
    ])
  })

  it('refuses paths out of the repository and cycles', () => {
    const root = layout({
      'a/kustomization.yaml': 'resources: [../b]\n',
      'b/kustomization.yaml': 'resources: [../a]\n',
      'c/kustomization.yaml': 'resources: [../../outside, /etc]\n'
    })
    expect(() => resolveKustomization(dirSource(root), 'a')).toThrow(/cycle: a → b → a/)
    const res = resolveKustomization(dirSource(root), 'c')
    expect(res.notices).toEqual([
      'c: resource ../../outside is outside the repository; skipped',
      'c: resource /etc is outside the repository; skipped'
    ])
    expect(resolveKustomization(dirSource(root), 'd').missing).toEqual([{ path: 'd', kind: 'dir' }])
  })
})
