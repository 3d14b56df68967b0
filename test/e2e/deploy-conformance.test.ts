/**
 * Conformance of the deploy action (the committed bundle, against a real bare config
 * repository over file://) on real public configs: Google's microservices-demo,
 * argocd-example-apps and podinfo (test/fixtures/deploy/conformance). For every
 * target: a new registry and tag, tag only, digest only, tag and digest, two images at
 * once, an idempotent re-run and a name that matches nothing. Each case is rendered
 * before and after by the real kustomize (`kubectl kustomize`), and the renders must
 * differ only in the deployed image lines; a mismatch fails with "did you mean" and
 * leaves the config repository untouched.
 */
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import picomatch from 'picomatch'
import { afterAll, describe, expect, it } from 'vitest'
import { findOnPath } from '../../src/lib/deploy-render.js'
import { imagesOf } from '../../src/lib/deploy-verify.js'
import { resolveKustomization } from '../../src/lib/kustomize-resolve.js'
import { readTree } from '../support/git-http.js'
import { cleanup, makeRepo, sh, tempDir, type TestRepo } from '../support/gitrepo.js'
import { runAction, type ActionRun } from '../support/harness.js'
import { changedLines, dirSource, imageLine, KUBECTL, kustomize } from '../support/kustomize.js'

afterAll(() => cleanup())

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'deploy', 'conformance')
const D = `sha256:${'9f'.repeat(32)}`
const MD = 'us-central1-docker.pkg.dev/online-boutique-ci/microservices-demo'
const REG = 'registry.local:5000/shop'

/** The bundle finds the test kubectl first on PATH. */
const PATH = `${KUBECTL.includes('/') ? `${dirname(KUBECTL)}:` : ''}${process.env.PATH}`

/** A bare config repository like GitHub's, and its file:// URL. */
interface Remote {
  origin: string
  url: string
}

let seed: TestRepo | undefined

/**
 * A fresh bare config repository holding every conformance fixture (a local clone of
 * one seed repository, made once).
 */
function configRepo(): Remote {
  seed ??= makeRepo(readTree(FIXTURES))
  const origin = join(tempDir('conveyor-conf-'), 'origin.git')
  sh(dirname(origin), ['clone', '-q', '--bare', seed.dir, origin])
  sh(origin, ['config', 'uploadpack.allowFilter', 'true'])
  sh(origin, ['config', 'uploadpack.allowAnySHA1InWant', 'true'])
  return { origin, url: `file://${origin}` }
}

function deploy(repo: Remote, inputs: Record<string, string>, env = {}): Promise<ActionRun> {
  return runAction('deploy', {
    inputs: { repository: repo.url, ...inputs },
    env: { PATH, ...env },
    sha: 'c0ffee0000000000000000000000000000000016'
  })
}

/** A full clone of the remote's main. */
function clone(repo: Remote): string {
  const d = tempDir('conveyor-conf-')
  sh(d, ['clone', '-q', repo.url, 'c'])
  return join(d, 'c')
}

/**
 * What `dir` renders: kubectl's output, or, when this kubectl refuses the config as it
 * is (kubectl 1.20 carries kustomize v2.0.3, which knows no `transformers:`), the image
 * lines of the in-process resolution.
 */
function render(root: string, dir: string): { how: 'kubectl' | 'in-process'; text: string } {
  const r = kustomize(join(root, dir))
  if (r.ok) return { how: 'kubectl', text: r.text }
  expect(r.error).toMatch(/unknown field/)
  const images = imagesOf(resolveKustomization(dirSource(root), dir).resources)
  return { how: 'in-process', text: images.map(i => `image: ${i.value}`).join('\n') }
}

/** Assert two renders differ only in image lines, each now a deployed reference. */
function onlyImagesChanged(before: string, after: string, refs: readonly string[]): void {
  const diff = changedLines(before, after)
  expect(diff).not.toHaveProperty('mismatch')
  const changed = (diff as { changed: [string, string][] }).changed
  expect(changed.length).toBeGreaterThan(0)
  for (const [a, b] of changed) {
    expect(imageLine(a), `changed line ${JSON.stringify(a)}`).toBeDefined()
    expect(refs).toContain(imageLine(b))
  }
  for (const ref of refs) expect(after).toContain(`image: ${ref}`)
}

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
    onlyImagesChanged(
      was.text,
      now.text,
      refs.filter(r => now.text.includes(`image: ${r}`))
    )
  })
  for (const ref of refs)
    expect(rendersAfter.some(r => r.text.includes(`image: ${ref}`))).toBe(true)
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

/**
 * `kubectl kustomize` of the manifests a glob matches: a throwaway kustomization
 * listing them, in a copy outside the clone.
 */
function renderManifests(root: string, glob: string): string {
  const match = picomatch(glob)
  const files = Object.keys(readTree(root)).filter(
    f => match(f) && !/kustomization\.ya?ml$/.test(f)
  )
  const d = mkdtempSync(join(tmpdir(), 'conveyor-manifests-'))
  try {
    for (const f of files) {
      mkdirSync(dirname(join(d, f)), { recursive: true })
      writeFileSync(join(d, f), readFileSync(join(root, f)))
    }
    writeFileSync(
      join(d, 'kustomization.yaml'),
      `resources:\n${files.map(f => `- ${f}`).join('\n')}\n`
    )
    const r = kustomize(d)
    if (!r.ok) throw new Error(r.error)
    return r.text
  } finally {
    rmSync(d, { recursive: true, force: true })
  }
}

async function manifestsCase(lines: string[], glob: string): Promise<Remote> {
  const repo = configRepo()
  const before = renderManifests(FIXTURES, glob)
  const run = await deploy(repo, { images: lines.join('\n'), targets: `manifests:${glob}` })
  expect(run.main.errors).toEqual([])
  expect(run.main.code).toBe(0)
  expect(run.main.outputs.result).toBe('pushed')
  onlyImagesChanged(
    before,
    renderManifests(clone(repo), glob),
    lines.map(l => l.slice(l.indexOf('=') + 1))
  )
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
    onlyImagesChanged(before.text, after.text, [`${REG}/cartservice:v2`])
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
