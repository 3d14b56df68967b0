/**
 * docker/metadata-action's test table (test/fixtures/metadata-action, converted from its
 * __tests__/meta.test.ts, Apache-2.0): the rows, the context its harness gives each row, and
 * how Conveyor's own defaults (an empty `tags` input) differ from metadata-action's on the
 * rows without a `tags` input, with the reason. Shared by the engine's unit test and the build
 * action's end-to-end conformance test.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { EventPayload } from '../../src/core/context.js'
import type { MetadataContext } from '../../src/image/metadata/context.js'
import { metadataContext } from '../../src/image/metadata/context.js'

export const FIXTURE_DIR = join(import.meta.dirname, '..', 'fixtures', 'metadata-action')

/** One row of the table. */
export interface Case {
  id: string
  group: string
  environment: string
  extraEnv?: Record<string, string>
  inputs: {
    images: string[]
    tags?: string[]
    flavor?: string[]
    labels?: string[]
    annotations?: string[]
    sepTags?: string
  }
  expected: {
    version?: { main: string | null; partial: string[]; latest: boolean }
    versionMain?: string
    tags: string[]
    tagNames?: string[]
    images?: string
    labels?: string[]
    annotations?: string[]
    annotationLevels?: string[]
    leveledAnnotations?: string[]
    tagsJoined?: string
  }
}

/** The converted table. */
export interface Fixture {
  source: { repository: string; commit: string; file: string }
  harness: { now: string; commitDate: string; repo: string }
  environments: Record<string, { payload: string | null; env: Record<string, string> }>
  cases: Case[]
}

export const fixture = JSON.parse(readFileSync(join(FIXTURE_DIR, 'cases.json'), 'utf8')) as Fixture
export const repo = JSON.parse(readFileSync(join(FIXTURE_DIR, fixture.harness.repo), 'utf8')) as {
  name: string
  description: string
  html_url: string
  default_branch: string
  license: { spdx_id: string }
}

/** The context metadata-action's harness gives a row (its env file, payload and mocks). */
export function contextOf(c: Case): MetadataContext {
  const spec = fixture.environments[c.environment]!
  const env = { ...spec.env, ...c.extraEnv }
  const payload = spec.payload
    ? (JSON.parse(readFileSync(join(FIXTURE_DIR, spec.payload), 'utf8')) as Record<string, unknown>)
    : {}
  return {
    ...metadataContext({
      eventName: env.GITHUB_EVENT_NAME ?? '',
      ref: env.GITHUB_REF ?? '',
      sha: env.GITHUB_SHA ?? '',
      payload,
      repo: {
        name: repo.name,
        description: repo.description,
        htmlUrl: repo.html_url,
        license: repo.license.spdx_id,
        defaultBranch: repo.default_branch
      },
      now: new Date(fixture.harness.now),
      env
    }),
    // The harness mocks moment-timezone, so {{commit_date}} is the mocked instant in every row.
    commitDate: new Date(fixture.harness.commitDate)
  }
}

/** The event payload of a row's environment ({} when its env file names none). */
export function payloadOf(c: Case): EventPayload {
  const spec = fixture.environments[c.environment]!
  return spec.payload
    ? (JSON.parse(readFileSync(join(FIXTURE_DIR, spec.payload), 'utf8')) as EventPayload)
    : {}
}

/** Why Conveyor's defaults (CONVEYOR_DEFAULT_TAGS) give other tags than metadata-action's on a row. */
const SHA_TAG = "Conveyor's defaults add type=sha (sha-<short commit>) to every run"
const LATEST_DEFAULT_BRANCH =
  'latest comes from type=raw,value=latest,enable={{is_default_branch}}: this push is to the default branch'
const NO_LATEST_FROM_TAG =
  "no latest from a git tag: Conveyor's defaults run with flavor latest=false (latest only on the default branch), where metadata-action's latest=auto tags latest from type=ref,event=tag"
const SEMVER =
  "Conveyor's defaults add type=semver,pattern={{version}} and {{major}}.{{minor}}: 1.1.1 (the version, priority 900 over the git tag's 600) and 1.1"
const SCHEDULE_DEFAULT_BRANCH =
  'a scheduled run is the default branch ({{is_default_branch}} is true for schedule), so latest'

export const CONVEYOR_DEFAULTS: Record<string, { tags: string[]; reasons: string[] }> = {
  'null/null01': { tags: [], reasons: [] },
  'push/push01': { tags: ['dev', 'sha-860c190'], reasons: [SHA_TAG] },
  'push/push03': {
    tags: ['master', 'latest', 'sha-2665741'],
    reasons: [LATEST_DEFAULT_BRANCH, SHA_TAG]
  },
  'push/push05': { tags: ['dev', 'sha-860c190'], reasons: [SHA_TAG] },
  'tag/tag01': { tags: ['release1', 'sha-860c190'], reasons: [NO_LATEST_FROM_TAG, SHA_TAG] },
  'tag/tag02': { tags: ['20200110-RC2', 'sha-860c190'], reasons: [NO_LATEST_FROM_TAG, SHA_TAG] },
  'latest/latest05': {
    tags: ['1.1.1', '1.1', 'v1.1.1', 'sha-860c190'],
    reasons: [SEMVER, NO_LATEST_FROM_TAG, SHA_TAG]
  },
  'pr/pr01': { tags: ['pr-15', 'sha-a9c8c58'], reasons: [SHA_TAG] },
  'pr/pr02': { tags: ['pr-15', 'sha-a9c8c58'], reasons: [SHA_TAG] },
  'pr-head-sha/pr01': { tags: ['pr-15', 'sha-3370e22'], reasons: [SHA_TAG] },
  'pr-head-sha/pr02': { tags: ['pr-15', 'sha-3370e22'], reasons: [SHA_TAG] },
  'schedule/schedule01': {
    tags: ['nightly', 'master', 'latest', 'sha-860c190'],
    reasons: [SCHEDULE_DEFAULT_BRANCH, SHA_TAG]
  },
  'schedule/schedule04': {
    tags: ['nightly', 'master', 'latest', 'sha-860c190'],
    reasons: [SCHEDULE_DEFAULT_BRANCH, SHA_TAG]
  },
  'release/release01': {
    tags: ['1.1.1', '1.1', 'v1.1.1', 'sha-860c190'],
    reasons: [SEMVER, NO_LATEST_FROM_TAG, SHA_TAG]
  },
  'json/json07': {
    tags: ['1.1.1', '1.1', 'v1.1.1', 'sha-860c190'],
    reasons: [SEMVER, NO_LATEST_FROM_TAG, SHA_TAG]
  },
  'bakeFile/bakeFile07': {
    tags: ['1.1.1', '1.1', 'v1.1.1', 'sha-860c190'],
    reasons: [SEMVER, NO_LATEST_FROM_TAG, SHA_TAG]
  }
}
