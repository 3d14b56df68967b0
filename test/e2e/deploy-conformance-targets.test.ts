/**
 * Conformance of the deploy action (the committed bundle, against a real bare config
 * repository over file://) on the manifests and Helm targets of real public configs
 * (test/fixtures/deploy/conformance): a new registry and tag, tag only, digest only,
 * tag and digest, two images at once, an idempotent re-run and a name that matches
 * nothing; manifests rendered before and after by `kubectl kustomize`. And the
 * verify-render modes: the in-process resolution without kubectl, required, off.
 */
import { readdirSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { findOnPath } from '../../src/deploy/gitops/render.js'
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
  renderManifests,
  type Remote
} from '../support/conformance.js'
import { changedLines } from '../support/kustomize.js'
import { cleanup, sh, tempDir } from '../support/gitrepo.js'

afterAll(() => cleanup())
// Each case runs the bundle once or twice and renders twice: room for a loaded machine.
vi.setConfig({ testTimeout: 180_000 })

async function manifestsCase(lines: string[], glob: string): Promise<Remote> {
  const repo = configRepo()
  const before = renderManifests(FIXTURES, glob)
  const run = await deploy(repo, { images: lines.join('\n'), targets: `manifests:${glob}` })
  expect(run.main.errors).toEqual([])
  expect(run.main.code).toBe(0)
  expect(run.main.outputs.result).toBe('pushed')
  const refs = lines.map(l => l.slice(l.indexOf('=') + 1))
  expect(imageChanges(before, renderManifests(clone(repo), glob), refs)).toEqual([])
  return repo
}

describe('conformance: manifests:argocd-example-apps/guestbook/*.yaml', () => {
  const glob = 'argocd-example-apps/guestbook/*.yaml'
  const a = 'gcr.io/google-samples/gb-frontend'
  it.each([
    ['a new registry and tag', `${a}=${REG}/gb-frontend:v6`],
    ['tag only', `${a}=${a}:v6`],
    ['digest only', `${a}=${a}@${D}`],
    ['tag and digest', `${a}=${REG}/gb-frontend:v6@${D}`]
  ])('%s', async (_name, line) => {
    await manifestsCase([line], glob)
  })
  it('two images at once (microservices-demo kubernetes-manifests as plain manifests)', async () => {
    await manifestsCase(
      [`cartservice=${REG}/cartservice:v2`, `frontend=${REG}/frontend:v2@${D}`],
      'microservices-demo/kubernetes-manifests/*.yaml'
    )
  })
  it('an idempotent re-run pushes nothing', async () => {
    const repo = await manifestsCase([`${a}=${a}:v6`], glob)
    const tip = sh(repo.origin, ['rev-parse', 'main'])
    const again = await deploy(repo, { images: `${a}=${a}:v6`, targets: `manifests:${glob}` })
    expect(again.main.outputs.result).toBe('no-op')
    expect(sh(repo.origin, ['rev-parse', 'main'])).toBe(tip)
  })
  it('a name that matches nothing fails with "did you mean", the repository untouched', async () => {
    const repo = configRepo()
    const refs = sh(repo.origin, ['show-ref'])
    const run = await deploy(repo, { images: `${a}s=${a}s:v6`, targets: `manifests:${glob}` })
    expect(run.main.code).toBe(1)
    expect(run.main.errors.join('\n')).toMatch(
      /no container uses the image of .*Did you mean "gcr\.io\/google-samples\/gb-frontend"\? The files use: gcr\.io\/google-samples\/gb-frontend:v5\./
    )
    expect(sh(repo.origin, ['show-ref'])).toBe(refs)
  })
})

/** The lines of a file that changed between two commits of the remote. */
function fileChanges(repo: Remote, file: string, from: string): [string, string][] {
  const diff = changedLines(
    sh(repo.origin, ['show', `${from}:${file}`]),
    sh(repo.origin, ['show', `main:${file}`])
  )
  expect(diff).not.toHaveProperty('mismatch')
  return (diff as { changed: [string, string][] }).changed
}

// helm is not installable here (Debian has no package), so these cases check what
// verify-render checks without it: the key exists and the chart's templates use it.
// With helm on PATH the bundle also compares `helm template` before and after.
describe('conformance: Helm values of charts in the repository', () => {
  const GB = 'argocd-example-apps/helm-guestbook/values.yaml'
  const MDV = 'microservices-demo/helm-chart/values.yaml'
  const a = 'gcr.io/google-samples/gb-frontend'
  it.each<[string, string, string, [string, string][]]>([
    [
      'a new registry and tag (an image map)',
      `${a}=${REG}/gb-frontend:v6`,
      `helm:${GB}:image`,
      [
        ['  repository: gcr.io/google-samples/gb-frontend', `  repository: ${REG}/gb-frontend`],
        ['  tag: v5', '  tag: v6']
      ]
    ],
    [
      'tag only (helm-guestbook)',
      `${a}=${a}:v6`,
      `helm:${GB}:image.tag`,
      [['  tag: v5', '  tag: v6']]
    ],
    [
      'tag only (microservices-demo)',
      `cartservice=cartservice:v0.11.0`,
      `helm:${MDV}:images.tag`,
      [['  tag: ""', '  tag: "v0.11.0"']]
    ]
  ])('%s', async (_name, line, target, expected) => {
    const repo = configRepo()
    const from = sh(repo.origin, ['rev-parse', 'main'])
    const run = await deploy(repo, { images: line, targets: target })
    expect(run.main.errors).toEqual([])
    expect(run.main.outputs.result).toBe('pushed')
    expect(run.main.stdout).toMatch(/verify-render: helm:.*: the chart in .* uses \.Values\./)
    const file = target.split(':')[1]!
    expect(fileChanges(repo, file, from)).toEqual(expected)
  })
  it.each([
    ['digest only', `${a}=${a}@${D}`],
    ['tag and digest', `${a}=${REG}/gb-frontend:v6@${D}`]
  ])('%s: refused, since the chart never uses a digest', async (_name, line) => {
    const repo = configRepo()
    const refs = sh(repo.origin, ['show-ref'])
    const run = await deploy(repo, { images: line, targets: `helm:${GB}:image` })
    expect(run.main.code).toBe(1)
    expect(run.main.errors.join('\n')).toMatch(
      /the chart in argocd-example-apps\/helm-guestbook never uses \.Values\.image\.digest in its templates.*Its templates use: .*\.Values\.image\.repository/
    )
    expect(sh(repo.origin, ['show-ref'])).toBe(refs)
  })
  it('two images at once, one per chart', async () => {
    const repo = configRepo()
    const from = sh(repo.origin, ['rev-parse', 'main'])
    const run = await deploy(repo, {
      images: `cartservice=${REG}/cartservice:v0.11.0\n${a}=${REG}/gb-frontend:v6`,
      targets: `helm:${MDV}:images.tag=cartservice\nhelm:${GB}:image=${a}`
    })
    expect(run.main.errors).toEqual([])
    expect(fileChanges(repo, MDV, from)).toEqual([['  tag: ""', '  tag: "v0.11.0"']])
    expect(fileChanges(repo, GB, from)).toHaveLength(2)
  })
  it('an idempotent re-run pushes nothing', async () => {
    const repo = configRepo()
    const inputs = { images: `${a}=${a}:v6`, targets: `helm:${GB}:image.tag` }
    expect((await deploy(repo, inputs)).main.outputs.result).toBe('pushed')
    const tip = sh(repo.origin, ['rev-parse', 'main'])
    expect((await deploy(repo, inputs)).main.outputs.result).toBe('no-op')
    expect(sh(repo.origin, ['rev-parse', 'main'])).toBe(tip)
  })
  it('a name that matches nothing fails with "did you mean", the repository untouched', async () => {
    const repo = configRepo()
    const refs = sh(repo.origin, ['show-ref'])
    const run = await deploy(repo, {
      images: `gb-frontnd=${REG}/gb-frontend:v6`,
      targets: `helm:${GB}:image=gb-frontend`
    })
    expect(run.main.code).toBe(1)
    expect(run.main.errors.join('\n')).toMatch(/no target takes .*Did you mean "gb-frontend"\?/)
    expect(sh(repo.origin, ['show-ref'])).toBe(refs)
  })
})

describe('verify-render: which renderer, and how to turn it off', () => {
  const line = `${MD}/cartservice=${REG}/cartservice:v2`
  const target = 'kustomize:microservices-demo/kustomize/base'

  /** A PATH with git and nothing else: no kubectl, no kustomize. */
  function gitOnlyPath(): string {
    const d = tempDir('conveyor-path-')
    symlinkSync(findOnPath('git')!, join(d, 'git'))
    expect(readdirSync(d)).toEqual(['git'])
    return d
  }

  it("the issue's example without kubectl: the in-process resolution, and kubectl agrees", async () => {
    const repo = configRepo()
    const before = render(FIXTURES, 'microservices-demo/kustomize/base')
    const run = await deploy(repo, { images: line, targets: target }, { PATH: gitOnlyPath() })
    expect(run.main.errors).toEqual([])
    expect(run.main.outputs.result).toBe('pushed')
    expect(run.main.stdout).toContain(
      'the in-process resolution (neither kustomize nor kubectl is on PATH)'
    )
    const after = render(clone(repo), 'microservices-demo/kustomize/base')
    expect(imageChanges(before.text, after.text, [`${REG}/cartservice:v2`])).toEqual([])
  })

  it('widens the sparse checkout of an overlay to its bases for the render', async () => {
    const repo = configRepo()
    const run = await deploy(repo, {
      images: 'ghcr.io/stefanprodan/podinfo=ghcr.io/stefanprodan/podinfo:6.15.0',
      targets: 'kustomize:podinfo/deploy/overlays/production'
    })
    expect(run.main.errors).toEqual([])
    expect(run.main.stdout).toContain('sparse checkout: /podinfo/deploy/overlays/production/*')
    expect(run.main.stdout).toContain(
      'sparse checkout: adding /podinfo/deploy/bases/backend /podinfo/deploy/bases/cache for the render'
    )
    expect(
      sh(repo.origin, ['show', 'main:podinfo/deploy/overlays/production/kustomization.yaml'])
    ).toContain('  - name: ghcr.io/stefanprodan/podinfo\n    newTag: 6.15.0')
  })

  it('required fails without a renderer, before touching the repository', async () => {
    const repo = configRepo()
    const refs = sh(repo.origin, ['show-ref'])
    const run = await deploy(
      repo,
      { images: line, targets: target, 'verify-render': 'required' },
      { PATH: gitOnlyPath() }
    )
    expect(run.main.code).toBe(1)
    expect(run.main.errors.join('\n')).toMatch(
      /input "verify-render": got "required", but neither kustomize nor kubectl is on PATH/
    )
    expect(sh(repo.origin, ['show-ref'])).toBe(refs)
  })

  it('off pushes what kustomize edit set image would write, unchecked', async () => {
    const repo = configRepo()
    const run = await deploy(repo, {
      images: 'ghcr.io/stefanprodan/podinfo-ui=ghcr.io/stefanprodan/podinfo-ui:1.0.0',
      targets: 'kustomize:podinfo/kustomize',
      'verify-render': 'off'
    })
    expect(run.main.outputs.result).toBe('pushed')
    expect(run.main.stdout).not.toContain('verify-render:')
    expect(sh(repo.origin, ['show', 'main:podinfo/kustomize/kustomization.yaml'])).toContain(
      'images:\n  - name: ghcr.io/stefanprodan/podinfo-ui\n    newTag: 1.0.0'
    )
  })
})
