/**
 * In-place YAML edits: quoting decisions (YAML 1.1 and 1.2 readers must both read a
 * string), style preservation, key insertion and removal, and golden files for
 * realistic kustomize overlays, Helm values with anchors and multi-document manifests.
 */
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { parse, parseAllDocuments, type YAMLMap, type YAMLSeq } from 'yaml'
import { planEdits } from '../../../../src/deploy/gitops/edit.js'
import { parseTarget, updatesFromImages } from '../../../../src/deploy/gitops/updates.js'
import { formatScalar, needsQuoting, YamlEditor } from '../../../../src/deploy/gitops/yaml-edit.js'

const FIXTURES = join(import.meta.dirname, '..', '..', '..', 'fixtures', 'deploy')
const fixture = (name: string): string => readFileSync(join(FIXTURES, name), 'utf8')
const dirs: string[] = []
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

describe('needsQuoting', () => {
  it.each([
    ['1.10', true],
    ['1.0', true],
    ['10', true],
    ['yes', true],
    ['on', true],
    ['Off', true],
    ['y', true],
    ['null', true],
    ['~', true],
    ['0o7', true],
    ['0x1F', true],
    ['1e3', true],
    ['1_000', true],
    ['1:20', true],
    ['.inf', true],
    ['2026-11-20', true],
    ['', true],
    ['-dash', true],
    ['a b', true],
    ['#x', true],
    ['tag:', true],
    ['1.0.0', false],
    ['v1.10', false],
    ['2.1.0-rc.1', false],
    ['latest', false],
    ['ghcr.io/acme/cart:1.2', false],
    [`host:5000/team/app:1.2@sha256:${'a'.repeat(64)}`, false],
    ['sha256:abc', false]
  ])('%j → %s', (value, expected) => {
    expect(needsQuoting(value)).toBe(expected)
    // Whatever we write, both YAML versions read back the same string.
    const text = formatScalar(value, 'PLAIN')
    expect(parse(`k: ${text}`, { version: '1.1' })).toEqual({ k: value })
    expect(parse(`k: ${text}`, { version: '1.2' })).toEqual({ k: value })
  })

  it.each([
    ['QUOTE_SINGLE', "it's", "'it''s'"],
    ['QUOTE_DOUBLE', '1.10', '"1.10"'],
    ['PLAIN', '1.10', '"1.10"'],
    ['PLAIN', 'v2', 'v2']
  ] as const)('formatScalar in %s style: %j → %s', (style, value, text) => {
    expect(formatScalar(value, style)).toBe(text)
  })
})

describe('YamlEditor', () => {
  it('replaces only the scalar, keeping comments, anchors and the quoting style', () => {
    const src = 'a: &x \'one\' # c\nb: *x\nc:\n  - "two"\n'
    const ed = new YamlEditor(src)
    const a = ed.get(0, ['a']) as never
    ed.setScalar(a, 'uno')
    ed.setScalar(ed.get(0, ['c', 0]) as never, 'dos')
    expect(ed.toString()).toBe('a: &x \'uno\' # c\nb: *x\nc:\n  - "dos"\n')
  })

  it('setScalar with an equal value changes nothing', () => {
    const ed = new YamlEditor('a: b\n')
    expect(ed.setScalar(ed.get(0, ['a']) as never, 'b')).toBe(false)
    expect(ed.changed).toBe(false)
  })

  it('inserts a key at the indentation of its siblings, in block and flow maps', () => {
    const src = 'list:\n  - name: a   # first\n    tag: x\n  - {name: b}\ntail: 1\n'
    const ed = new YamlEditor(src)
    const seq = ed.get(0, ['list']) as YAMLSeq
    ed.setKey(seq.items[0] as YAMLMap, 'digest', 'sha256:00')
    ed.setKey(seq.items[1] as YAMLMap, 'tag', '1.10')
    expect(ed.toString()).toBe(
      'list:\n  - name: a   # first\n    tag: x\n    digest: sha256:00\n  - {name: b, tag: "1.10"}\ntail: 1\n'
    )
  })

  it('removes a key line, also the first key of a sequence item', () => {
    const src = 'l:\n  - newTag: x\n    name: a\n  - name: b\n    digest: d # gone\n    other: 1\n'
    const ed = new YamlEditor(src)
    const seq = ed.get(0, ['l']) as YAMLSeq
    ed.deleteKey(seq.items[0] as YAMLMap, 'newTag')
    ed.deleteKey(seq.items[1] as YAMLMap, 'digest')
    expect(ed.toString()).toBe('l:\n  - name: a\n  - name: b\n    other: 1\n')
  })

  it('appends sequence items and keys to a file without a final newline', () => {
    const ed = new YamlEditor('images:\n- name: a\n  newTag: "1"')
    ed.appendMapItem(ed.get(0, ['images']) as YAMLSeq, [
      ['name', 'b'],
      ['newTag', 'on']
    ])
    expect(ed.toString()).toBe('images:\n- name: a\n  newTag: "1"\n- name: b\n  newTag: "on"\n')
  })

  it('names file, line and column of a YAML syntax error', () => {
    expect(() => new YamlEditor('a: [1, 2\nb: 3\n', 'k/kustomization.yaml')).toThrow(
      /^k\/kustomization\.yaml:\d+:\d+: not valid YAML/
    )
  })
})

function workdir(): string {
  const d = mkdtempSync(join(tmpdir(), 'conveyor-yaml-'))
  dirs.push(d)
  return d
}

const D = `sha256:${'f'.repeat(64)}`

describe('golden files: only the changed scalars move', () => {
  it('kustomize overlay (block and flow entries, digests, new entry, quoted tags)', () => {
    const d = workdir()
    mkdirSync(join(d, 'k'))
    copyFileSync(join(FIXTURES, 'kustomization.in.yaml'), join(d, 'k', 'kustomization.yaml'))
    const plan = planEdits(
      d,
      updatesFromImages(
        [
          'frontend=ghcr.io/acme/shop-frontend:1.10',
          `cart=registry.acme.internal:5000/team/shop-cart:2.1.0@${D}`,
          'checkout=ghcr.io/acme/shop-checkout:yes',
          'payments=ghcr.io/acme/shop-payments:0o7',
          'search=ghcr.io/acme/search:1.0.0'
        ],
        [],
        undefined
      ),
      [parseTarget('kustomize:k')]
    )
    const out = plan.files.get('k/kustomization.yaml')!
    expect(out).toBe(fixture('kustomization.out.yaml'))
    const images = (parse(out, { version: '1.1' }) as { images: Record<string, string>[] }).images
    expect(images.map(i => i.newTag)).toEqual(['1.10', '2.1.0', 'yes', '0o7', '1.0.0'])
    expect(images[0]!.digest).toBeUndefined()
    expect(images[1]!.digest).toBe(D)
    expect(plan.changes.map(c => [c.service, c.line])).toEqual([
      ['frontend', 18],
      ['cart', 22],
      ['checkout', 26],
      ['payments', 28],
      ['search', 35]
    ])
  })

  it('Helm values with a directive, anchors, merge keys, block scalars and flow maps', () => {
    const d = workdir()
    copyFileSync(join(FIXTURES, 'values.in.yaml'), join(d, 'values.yaml'))
    const plan = planEdits(
      d,
      updatesFromImages(
        [
          'frontend=ghcr.io/acme/shop-frontend:on',
          `cart=ghcr.io/acme/shop-cart:2.1.0@${D}`,
          'checkout=ghcr.io/acme/shop-checkout:v2.0.0',
          'payments=ghcr.io/acme/shop-payments:1.10'
        ],
        [],
        undefined
      ),
      [
        'helm:values.yaml:frontend.image.tag=frontend',
        'helm:values.yaml:cart.image=cart',
        'helm:values.yaml:checkout.image=checkout',
        'helm:values.yaml:payments.image=payments'
      ].map(t => parseTarget(t))
    )
    const out = plan.files.get('values.yaml')!
    expect(out).toBe(fixture('values.out.yaml'))
    const v = parse(out, { version: '1.1', merge: true }) as Record<string, Record<string, unknown>>
    expect(v.frontend!.image).toMatchObject({ tag: 'on', pullPolicy: 'IfNotPresent' })
    expect(v.frontend!.replicas).toBe(2)
    expect(v.cart!.image).toEqual({ repository: 'ghcr.io/acme/shop-cart', tag: '2.1.0', digest: D })
    expect(v.payments!.image).toEqual({ repository: 'ghcr.io/acme/shop-payments', tag: '1.10' })
  })

  it('multi-document manifests: every container array, nothing else', () => {
    const d = workdir()
    copyFileSync(join(FIXTURES, 'manifests.in.yaml'), join(d, 'manifests.yaml'))
    const plan = planEdits(
      d,
      updatesFromImages(['cart=ghcr.io/acme/shop-cart:2.1.0'], [], undefined),
      [parseTarget('manifests:*.yaml')]
    )
    const out = plan.files.get('manifests.yaml')!
    expect(out).toBe(fixture('manifests.out.yaml'))
    const docs = parseAllDocuments(out).map(doc => doc.toJS() as Record<string, unknown>)
    expect(docs).toHaveLength(5)
    expect(JSON.stringify(docs)).not.toMatch(
      /shop-cart(:2\.0\.1|:1\.0\.0|@sha256)"[^}]*"name":"(cart|migrate|cleanup|debugger)"/
    )
    expect(plan.changes.map(c => c.line)).toEqual([12, 15, 33, 43, 55])
    // The ConfigMap's look-alike value is not a container image.
    expect(out).toContain('  image: ghcr.io/acme/shop-cart:2.0.1   # not a container: untouched')
  })
})

describe('manifests: extra image paths for custom resources', () => {
  it('edits spec.image of a custom resource only when asked', () => {
    const d = workdir()
    const src = [
      'apiVersion: serving.acme.dev/v1',
      'kind: Function',
      'metadata: {name: fn}',
      'spec:',
      '  image: ghcr.io/acme/fn:1.0.0 # built by Conveyor',
      '  note: ghcr.io/acme/fn:1.0.0',
      ''
    ].join('\n')
    writeFileSync(join(d, 'fn.yaml'), src)
    const updates = updatesFromImages(['fn=ghcr.io/acme/fn:1.1.0'], [], undefined)
    expect(() => planEdits(d, updates, [parseTarget('manifests:*.yaml')])).toThrow(
      /no container uses the image of fn/
    )
    const plan = planEdits(d, updates, [parseTarget('manifests:*.yaml')], {
      imagePaths: ['spec.image']
    })
    expect(plan.files.get('fn.yaml')).toBe(
      src.replace('image: ghcr.io/acme/fn:1.0.0', 'image: ghcr.io/acme/fn:1.1.0')
    )
  })
})

describe('line endings', () => {
  it('keeps a CRLF file CRLF when inserting and removing lines', () => {
    const src = 'images:\r\n- name: a # c\r\n  newTag: "1"\r\n  digest: sha256:00\r\n'
    const ed = new YamlEditor(src)
    const seq = ed.get(0, ['images']) as YAMLSeq
    ed.deleteKey(seq.items[0] as YAMLMap, 'digest')
    ed.setKey(seq.items[0] as YAMLMap, 'newName', 'b')
    ed.appendMapItem(seq, [
      ['name', 'c'],
      ['newTag', '2']
    ])
    const out = ed.toString()
    expect(out).toBe(
      'images:\r\n- name: a # c\r\n  newTag: "1"\r\n  newName: b\r\n- name: c\r\n  newTag: "2"\r\n'
    )
    expect(out.replace(/\r\n/g, '')).not.toContain('\n')
  })
})

describe('kustomize images: created when missing', () => {
  it.each([
    [
      'no images key',
      'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - a.yaml\n',
      'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - a.yaml\nimages:\n  - name: cart\n    newName: ghcr.io/acme/cart\n    newTag: "1.10"\n'
    ],
    [
      'an empty flow list',
      'kind: Kustomization\nimages: [] # none yet\n',
      'kind: Kustomization\nimages: [{name: cart, newName: ghcr.io/acme/cart, newTag: "1.10"}] # none yet\n'
    ]
  ])('%s', (_name, src, expected) => {
    const d = workdir()
    writeFileSync(join(d, 'kustomization.yaml'), src)
    const plan = planEdits(d, updatesFromImages(['cart=ghcr.io/acme/cart:1.10'], [], undefined), [
      parseTarget('kustomize:.')
    ])
    expect(plan.files.get('kustomization.yaml')).toBe(expected)
    const images = (parse(expected) as { images: { newTag: string }[] }).images
    expect(images[0]!.newTag).toBe('1.10')
  })
})

describe('planEdits never edits through a symlink', () => {
  const updates = updatesFromImages(['cart=ghcr.io/acme/cart:2.0.0'], [], undefined)
  const kustomization = 'images:\n- name: ghcr.io/acme/cart\n  newTag: "1.0"\n'
  const values = 'image:\n  tag: "1.0"\n'
  const manifest =
    'apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: c\n    image: ghcr.io/acme/cart:1.0\n'

  /** A clone with `name` in it linking to `outside/<name>`; returns both dirs. */
  function linked(name: string, content: string, linkDir = false) {
    const clone = workdir()
    const outside = workdir()
    writeFileSync(join(outside, name.split('/').pop()!), content)
    const parts = name.split('/')
    if (linkDir) {
      mkdirSync(join(clone, ...parts.slice(0, -2)), { recursive: true })
      symlinkSync(outside, join(clone, ...parts.slice(0, -1)))
    } else {
      mkdirSync(join(clone, ...parts.slice(0, -1)), { recursive: true })
      symlinkSync(join(outside, parts.at(-1)!), join(clone, ...parts))
    }
    return { clone, outside }
  }

  it.each([
    [
      'kustomize file',
      'overlays/prod/kustomization.yaml',
      kustomization,
      'kustomize:overlays/prod',
      false,
      'overlays/prod/kustomization.yaml'
    ],
    [
      'kustomize directory',
      'overlays/prod/kustomization.yaml',
      kustomization,
      'kustomize:overlays/prod',
      true,
      'overlays/prod'
    ],
    [
      'helm values file',
      'charts/values.yaml',
      values,
      'helm:charts/values.yaml:image.tag',
      false,
      'charts/values.yaml'
    ],
    [
      'helm values directory',
      'charts/values.yaml',
      values,
      'helm:charts/values.yaml:image.tag',
      true,
      'charts'
    ],
    ['manifests file', 'apps/pod.yaml', manifest, 'manifests:apps/*.yaml', false, 'apps/pod.yaml']
  ])(
    '%s: refused, naming the link, the file outside untouched',
    (_n, name, content, target, linkDir, shown) => {
      const { clone, outside } = linked(name, content, linkDir)
      expect(() => planEdits(clone, updates, [parseTarget(target)])).toThrow(
        new RegExp(`${shown.replace(/\./g, '\\.')} in the config repository is a symbolic link`)
      )
      expect(readFileSync(join(outside, name.split('/').pop()!), 'utf8')).toBe(content)
    }
  )

  it('a "path" that is a symlink is refused', () => {
    const clone = workdir()
    const outside = workdir()
    writeFileSync(join(outside, 'kustomization.yaml'), kustomization)
    symlinkSync(outside, join(clone, 'deploy'))
    expect(() =>
      planEdits(join(clone, 'deploy'), updates, [parseTarget('kustomize:.')], { within: clone })
    ).toThrow(/input "path": deploy in the config repository is a symbolic link/)
  })

  it('a symlink elsewhere in the clone does not matter', () => {
    const clone = workdir()
    mkdirSync(join(clone, 'k'))
    writeFileSync(join(clone, 'k', 'kustomization.yaml'), kustomization)
    symlinkSync('/etc/passwd', join(clone, 'k', 'README.md'))
    const plan = planEdits(clone, updates, [parseTarget('kustomize:k')])
    expect(plan.files.get('k/kustomization.yaml')).toContain('newTag: "2.0.0"')
  })
})
