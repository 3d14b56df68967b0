/**
 * The real kustomize for tests: `kubectl kustomize` (the Debian `kubernetes-client`
 * package, or any kubectl on PATH; CONVEYOR_TEST_KUBECTL picks another binary), and a
 * line diff of two renders that says which lines changed. No vitest imports.
 */
import { spawnSync } from 'node:child_process'
import { cpSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { FileSource } from '../../src/deploy/gitops/kustomize/resolve.js'
import { tempDir } from './gitrepo.js'

/** The deploy conformance fixtures: real public configs. */
export const CONFORMANCE = join(import.meta.dirname, '..', 'fixtures', 'deploy', 'conformance')

/** The kubectl the tests render with. */
export const KUBECTL = process.env.CONVEYOR_TEST_KUBECTL || 'kubectl'

/** What one render gave: the output, or why kubectl refused. */
export type Render = { ok: true; text: string } | { ok: false; error: string }

/** `kubectl kustomize <dir>`. */
export function kustomize(dir: string): Render {
  const r = spawnSync(KUBECTL, ['kustomize', dir], { encoding: 'utf8', maxBuffer: 1 << 28 })
  if (r.error) throw r.error
  if (r.status !== 0) return { ok: false, error: r.stderr.trim() }
  return { ok: true, text: r.stdout }
}

/** `kubectl kustomize <dir>`, failing the test when kubectl refuses. */
export function kustomizeOk(dir: string): string {
  const r = kustomize(dir)
  if (!r.ok) throw new Error(`${KUBECTL} kustomize ${dir} failed: ${r.error}`)
  return r.text
}

/** The `Client Version` kubectl reports (for test comments and skips). */
export function kubectlVersion(): string {
  const r = spawnSync(KUBECTL, ['version', '--client'], { encoding: 'utf8' })
  return /v\d+\.\d+\.\d+/.exec(r.stdout)?.[0] ?? 'unknown'
}

/**
 * Whether the test kubectl carries kustomize v2 (kubectl before 1.21, such as Debian
 * bookworm's kubernetes-client 1.20), which predates components, `patches:`,
 * transformer configs, tagSuffix and the in-order application of `images:` entries.
 */
export const legacyKubectl = /^v1\.([0-9]|1[0-9]|20)\./.test(kubectlVersion())

/** The lines that differ between two renders of equal length, or the reason they cannot be paired. */
export function changedLines(
  before: string,
  after: string
): { changed: [string, string][] } | { mismatch: string } {
  const a = before.split('\n')
  const b = after.split('\n')
  if (a.length !== b.length) return { mismatch: `${a.length} lines before, ${b.length} after` }
  const changed: [string, string][] = []
  a.forEach((line, i) => {
    if (line !== b[i]) changed.push([line, b[i]!])
  })
  return { changed }
}

/** The value of an `image:` line (`- image: x` or `image: x`), or undefined. */
export function imageLine(line: string): string | undefined {
  return /^\s*(?:- )?image: ["']?([^"'\s]+)["']?\s*$/.exec(line)?.[1]
}

/** A FileSource over a directory on disk, for the in-process resolution in tests. */
export function dirSource(root: string): FileSource {
  const stat = (rel: string): ReturnType<typeof statSync> | undefined => {
    try {
      return statSync(join(root, rel))
    } catch {
      return undefined
    }
  }
  return {
    read: rel => (stat(rel)?.isFile() ? readFileSync(join(root, rel), 'utf8') : undefined),
    isDir: rel => stat(rel)?.isDirectory() === true
  }
}

/**
 * A kustomize overlay for load tests: one Deployment and one `images:` entry per
 * name (`ghcr.io/acme/<name>`, tag 1.0.0), so that every deployed image renders.
 * Returns repository path → content, under `dir`.
 */
export function loadOverlay(
  names: readonly string[],
  dir = 'overlays/load'
): Record<string, string> {
  const deployments = names.map(n =>
    [
      'apiVersion: apps/v1',
      'kind: Deployment',
      `metadata: {name: ${n}}`,
      'spec:',
      '  template:',
      '    spec:',
      `      containers: [{name: ${n}, image: "ghcr.io/acme/${n}:0.1.0"}]`
    ].join('\n')
  )
  return {
    [`${dir}/kustomization.yaml`]: [
      '# load test overlay',
      'apiVersion: kustomize.config.k8s.io/v1beta1',
      'kind: Kustomization',
      'resources:',
      '  - deployments.yaml',
      'images:',
      ...names.flatMap(n => [`  - name: ghcr.io/acme/${n}`, '    newTag: 1.0.0']),
      ''
    ].join('\n'),
    [`${dir}/deployments.yaml`]: `${deployments.join('\n---\n')}\n`
  }
}

/**
 * A scratch directory holding a copy of a conformance fixture (test/fixtures/deploy/
 * conformance/<fixture>) and/or the given files; removed by gitrepo's cleanup().
 */
export function scratch(fixture?: string, files: Record<string, string> = {}): string {
  const d = tempDir('conveyor-render-')
  if (fixture) cpSync(join(CONFORMANCE, fixture), d, { recursive: true })
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(d, p)), { recursive: true })
    writeFileSync(join(d, p), text)
  }
  return d
}
