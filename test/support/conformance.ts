/**
 * The deploy conformance suite's shared parts (test/e2e/deploy-conformance*.test.ts):
 * a fresh bare config repository holding the conformance fixtures (real public
 * configs), the deploy bundle run against it, and renders by the real kustomize with
 * the check that two renders differ only in deployed image lines. No vitest imports.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import picomatch from 'picomatch'
import { imagesOf, rendersRef } from '../../src/deploy/gitops/render-compare.js'
import { resolveKustomization } from '../../src/deploy/gitops/kustomize/resolve.js'
import { readTree } from './git-http.js'
import { makeRepo, sh, tempDir, type TestRepo } from './gitrepo.js'
import { runAction, type ActionRun } from './harness.js'
import {
  changedLines,
  dirSource,
  imageLine,
  KUBECTL,
  kustomize,
  legacyKubectl
} from './kustomize.js'

/** The conformance fixtures (test/fixtures/deploy/conformance). */
export const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'deploy', 'conformance')
/** A digest for the cases. */
export const D = `sha256:${'9f'.repeat(32)}`
/** microservices-demo's image prefix. */
export const MD = 'us-central1-docker.pkg.dev/online-boutique-ci/microservices-demo'
/** "Our" registry the cases deploy to. */
export const REG = 'registry.local:5000/shop'

/** The bundle finds the test kubectl first on PATH. */
const PATH = `${KUBECTL.includes('/') ? `${dirname(KUBECTL)}:` : ''}${process.env.PATH}`

/** A bare config repository like GitHub's, and its file:// URL. */
export interface Remote {
  origin: string
  url: string
}

let seed: TestRepo | undefined

/**
 * A fresh bare config repository holding every conformance fixture (a local clone of
 * one seed repository, made once per test file).
 */
export function configRepo(): Remote {
  seed ??= makeRepo(readTree(FIXTURES))
  const origin = join(tempDir('conveyor-conf-'), 'origin.git')
  sh(dirname(origin), ['clone', '-q', '--bare', seed.dir, origin])
  sh(origin, ['config', 'uploadpack.allowFilter', 'true'])
  sh(origin, ['config', 'uploadpack.allowAnySHA1InWant', 'true'])
  return { origin, url: `file://${origin}` }
}

/** Run the deploy bundle against `repo`. */
export function deploy(
  repo: Remote,
  inputs: Record<string, string>,
  env: Record<string, string> = {}
): Promise<ActionRun> {
  return runAction('deploy', {
    inputs: { repository: repo.url, ...inputs },
    env: { PATH, ...env },
    sha: 'c0ffee0000000000000000000000000000000016'
  })
}

/** A full clone of the remote's main. */
export function clone(repo: Remote): string {
  const d = tempDir('conveyor-conf-')
  sh(d, ['clone', '-q', repo.url, 'c'])
  return join(d, 'c')
}

/**
 * What `dir` renders: kubectl's output, or, when this kubectl refuses the config as it
 * is (kubectl 1.20 carries kustomize v2.0.3, which knows no `transformers:`), the image
 * lines of the in-process resolution. Any other refusal throws.
 */
export function render(root: string, dir: string): { how: 'kubectl' | 'in-process'; text: string } {
  const r = kustomize(join(root, dir))
  if (r.ok) return { how: 'kubectl', text: r.text }
  if (!/unknown field/.test(r.error)) throw new Error(`${KUBECTL} kustomize ${dir}: ${r.error}`)
  const images = imagesOf(resolveKustomization(dirSource(root), dir).resources)
  return { how: 'in-process', text: images.map(i => `image: ${i.value}`).join('\n') }
}

/**
 * Whether a rendered image is the deployed `ref`: the same text; with a kustomize v2
 * kubectl (1.20), which drops the tag of an entry that has a digest too, also the name
 * and digest alone.
 */
export function isRef(ref: string, value: string | undefined): boolean {
  return value === ref || (legacyKubectl && value !== undefined && rendersRef(ref, value))
}

/** Whether a render shows `ref` on an image line. */
export function shows(text: string, ref: string): boolean {
  return text.split('\n').some(l => isRef(ref, imageLine(l)))
}

/**
 * What is wrong with two renders that should differ only in image lines, each now one
 * of `refs`, every one of `refs` rendered; [] when nothing is.
 */
export function imageChanges(before: string, after: string, refs: readonly string[]): string[] {
  const diff = changedLines(before, after)
  if ('mismatch' in diff) return [`the renders do not pair up: ${diff.mismatch}`]
  const out: string[] = []
  if (diff.changed.length === 0) out.push('nothing changed')
  for (const [a, b] of diff.changed) {
    if (imageLine(a) === undefined) out.push(`a line that is not an image changed: ${a}`)
    else if (!refs.some(r => isRef(r, imageLine(b)))) {
      out.push(`an image became ${b.trim()}, not a deployed one`)
    }
  }
  for (const ref of refs) if (!shows(after, ref)) out.push(`${ref} is not rendered`)
  return out
}

/**
 * `kubectl kustomize` of the manifests a glob matches: a throwaway kustomization
 * listing them, in a copy outside the clone.
 */
export function renderManifests(root: string, glob: string): string {
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
