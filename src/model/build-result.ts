/**
 * The build result file: one JSON per matrix leg, written by `build` and collected by
 * `deploy`, because matrix job outputs overwrite each other (actions/runner#1835).
 *
 * Convention: build writes `<RUNNER_TEMP>/conveyor/results/<service>.json` and sets the
 * output `result-file`; workflows upload it as the artifact `conveyor-result-<service>`
 * and download all of them (pattern `conveyor-result-*`, merge-multiple) into one
 * directory that deploy's `results` input points at.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigurationError, quote } from '../core/errors.js'
import { secrets } from '../core/secrets.js'

/** The schema version written into every result. */
export const RESULT_VERSION = 1

/** What one build leg produced. */
export interface BuildResult {
  version: typeof RESULT_VERSION
  service: string
  /** Image name without tag or digest, e.g. `ghcr.io/acme/cart`. */
  image: string
  /** `sha256:...` of the pushed manifest or index. */
  digest: string
  /** Full references, e.g. `ghcr.io/acme/cart:main`. */
  tags: string[]
  /** Whether the build was skipped and an existing image reused. */
  reused: boolean
  platforms: string[]
  /** The commit the image was built from, and where. */
  source: { repository: string; sha: string; ref: string; runUrl?: string }
  /** ISO 8601 time of the build (or reuse). */
  createdAt: string
}

const DIGEST = /^sha256:[a-f0-9]{64}$/

/** Validate a parsed result; `where` names the file or leg in errors. */
export function validateBuildResult(value: unknown, where: string): BuildResult {
  const fail = (what: string): never => {
    throw new ConfigurationError(`build result ${where}: ${what}`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    fail('expected a JSON object')
  const v = value as Record<string, unknown>
  if (v.version !== RESULT_VERSION)
    fail(
      `expected "version": ${RESULT_VERSION}, got ${String(JSON.stringify(v.version)).slice(0, 40)}`
    )
  for (const key of ['service', 'image', 'digest', 'createdAt'] as const) {
    if (typeof v[key] !== 'string' || v[key] === '') fail(`"${key}" must be a non-empty string`)
  }
  if (!DIGEST.test(v.digest as string))
    fail(`"digest" must look like sha256:<64 hex>, got ${quote(v.digest as string, 80)}`)
  if (!Array.isArray(v.tags) || v.tags.some(t => typeof t !== 'string'))
    fail('"tags" must be an array of strings')
  if (!Array.isArray(v.platforms) || v.platforms.some(t => typeof t !== 'string')) {
    fail('"platforms" must be an array of strings')
  }
  if (typeof v.reused !== 'boolean') fail('"reused" must be true or false')
  const s = v.source as Record<string, unknown> | undefined
  if (
    typeof s !== 'object' ||
    s === null ||
    typeof s.sha !== 'string' ||
    typeof s.repository !== 'string'
  ) {
    fail('"source" must be an object with "repository" and "sha"')
  }
  return v as unknown as BuildResult
}

/** Write a result file into `dir` (created), named after the service. Returns its path. */
export function writeBuildResult(dir: string, result: BuildResult): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(result.service)) {
    throw new Error(`service name ${JSON.stringify(result.service)} cannot name a result file`)
  }
  mkdirSync(dir, { recursive: true })
  const path = join(dir, `${result.service}.json`)
  const text = JSON.stringify(result, null, 2) + '\n'
  // The file becomes an artifact that deploy reads: never with a secret in it, and
  // never with a value masking would have to rewrite (a digest turned into `***:...`).
  secrets.assertUnmasked(`the result file ${result.service}.json`, text)
  writeFileSync(path, text)
  return path
}

/**
 * Read and validate one result file. A file that is not JSON is named with its size and
 * the place the parser stopped, never with what it holds: `results` may point at any
 * file, and the parser's own message quotes the text.
 */
export function readBuildResult(path: string): BuildResult {
  const text = readFileSync(path, 'utf8')
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    const at = /position (\d+)/.exec((error as Error).message)?.[1]
    throw new ConfigurationError(
      `build result ${path}: not valid JSON (${Buffer.byteLength(text)} bytes${at !== undefined ? `, the parser stopped at character ${at}` : ''}); expected the file the build action writes`
    )
  }
  return validateBuildResult(parsed, path)
}
