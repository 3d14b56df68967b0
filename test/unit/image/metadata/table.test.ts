/**
 * Conformance of the tag/label engine (src/image/metadata) with docker/metadata-action's own
 * test table (test/fixtures/metadata-action, converted from its __tests__/meta.test.ts):
 * every row runs through the engine from the row's event environment and payload, and must
 * give the row's tags, version and labels exactly. Rows with an empty `tags` input run with
 * metadata-action's defaults here; a second table lists how Conveyor's own defaults differ
 * on those rows, and why.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { computeMetadata, imageTags } from '../../../../src/image/metadata/compute.js'
import type { MetadataContext } from '../../../../src/image/metadata/context.js'
import { metadataContext } from '../../../../src/image/metadata/context.js'

const DIR = join(import.meta.dirname, '..', '..', '..', 'fixtures', 'metadata-action')

interface Case {
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

interface Fixture {
  source: { repository: string; commit: string; file: string }
  harness: { now: string; commitDate: string; repo: string }
  environments: Record<string, { payload: string | null; env: Record<string, string> }>
  cases: Case[]
}

const fixture = JSON.parse(readFileSync(join(DIR, 'cases.json'), 'utf8')) as Fixture
const repo = JSON.parse(readFileSync(join(DIR, fixture.harness.repo), 'utf8')) as {
  name: string
  description: string
  html_url: string
  default_branch: string
  license: { spdx_id: string }
}

/** The context metadata-action's harness gives a row (its env file, payload and mocks). */
function contextOf(c: Case): MetadataContext {
  const spec = fixture.environments[c.environment]!
  const env = { ...spec.env, ...c.extraEnv }
  const payload = spec.payload
    ? (JSON.parse(readFileSync(join(DIR, spec.payload), 'utf8')) as Record<string, unknown>)
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

/**
 * Full references as metadata-action outputs them: each enabled image with each tag (tag
 * names alone without images). Its `images` input is not Conveyor's (one image per service);
 * the rows use `name` and `name,enable=false` only.
 */
function references(images: readonly string[], tags: readonly string[]): string[] {
  const enabled = images.flatMap(entry => {
    const [name, ...attrs] = entry.split(',').map(f => f.trim())
    return attrs.includes('enable=false') ? [] : [name!]
  })
  return enabled.length > 0 ? imageTags(enabled, tags) : [...tags]
}

describe('the fixture', () => {
  it('holds the 131 rows of metadata-action test table, 115 of them with a tags input', () => {
    expect(fixture.source.repository).toBe('docker/metadata-action')
    expect(fixture.cases).toHaveLength(131)
    expect(fixture.cases.filter(c => (c.inputs.tags ?? []).length > 0)).toHaveLength(115)
  })
})

describe.each(fixture.cases.map(c => [c.id, c] as const))('%s', (_id, c) => {
  const hasTags = (c.inputs.tags ?? []).length > 0
  it(`gives metadata-action's tags, version and labels${hasTags ? '' : ' (its default rules)'}`, () => {
    const r = computeMetadata(
      {
        tags: c.inputs.tags ?? [],
        flavor: c.inputs.flavor,
        labels: c.inputs.labels,
        annotations: c.inputs.annotations
      },
      contextOf(c),
      { defaults: 'metadata-action' }
    )
    const ex = c.expected
    const refs = references(c.inputs.images, r.tags)
    expect(refs).toEqual(ex.tags)
    if (ex.version) {
      expect({
        main: r.version.main ?? null,
        partial: r.version.partial,
        latest: r.version.latest
      }).toEqual(ex.version)
    }
    if (ex.versionMain !== undefined) expect(r.version.main).toBe(ex.versionMain)
    if (ex.tagNames) expect(r.tags).toEqual(ex.tagNames)
    if (ex.tagsJoined !== undefined) expect(refs.join(c.inputs.sepTags)).toBe(ex.tagsJoined)
    if (ex.labels) {
      expect(r.labels).toEqual(ex.labels)
      const revision = ex.labels.find(l => l.startsWith('org.opencontainers.image.revision='))
      expect(r.labels).toContain(revision)
    }
    if (ex.annotations) expect(r.annotations).toEqual(ex.annotations)
    if (ex.leveledAnnotations) {
      const levels = ex.annotationLevels ?? []
      expect(levels.flatMap(level => r.annotations.map(a => `${level}:${a}`))).toEqual(
        ex.leveledAnnotations
      )
    }
  })
})

/** Why Conveyor's defaults (DEFAULT_TAG_RULES) give other tags than metadata-action's on a row. */
const SHA_TAG = "Conveyor's defaults add type=sha (sha-<short commit>) to every run"
const LATEST_DEFAULT_BRANCH =
  'latest comes from type=raw,value=latest,enable={{is_default_branch}}: this push is to the default branch'
const NO_LATEST_FROM_TAG =
  "no latest from a git tag: Conveyor's defaults run with flavor latest=false (latest only on the default branch), where metadata-action's latest=auto tags latest from type=ref,event=tag"
const SEMVER =
  "Conveyor's defaults add type=semver,pattern={{version}} and {{major}}.{{minor}}: 1.1.1 (the version, priority 900 over the git tag's 600) and 1.1"
const SCHEDULE_DEFAULT_BRANCH =
  'a scheduled run is the default branch ({{is_default_branch}} is true for schedule), so latest'

const CONVEYOR_DEFAULTS: Record<string, { tags: string[]; reasons: string[] }> = {
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

describe("Conveyor's defaults (empty tags) on the table's rows without a tags input", () => {
  const rows = fixture.cases.filter(c => (c.inputs.tags ?? []).length === 0)

  it('covers every such row, and gives a reason wherever the tags differ', () => {
    expect(Object.keys(CONVEYOR_DEFAULTS).sort()).toEqual(rows.map(c => c.id).sort())
    for (const c of rows) {
      const names = c.expected.tagNames ?? c.expected.tags.map(t => t.slice(t.lastIndexOf(':') + 1))
      const differs = JSON.stringify(names) !== JSON.stringify(CONVEYOR_DEFAULTS[c.id]!.tags)
      expect(CONVEYOR_DEFAULTS[c.id]!.reasons.length > 0, c.id).toBe(differs)
    }
    const differing = rows.filter(c => CONVEYOR_DEFAULTS[c.id]!.reasons.length > 0)
    expect(differing).toHaveLength(15)
  })

  it.each(rows.map(c => [c.id, c] as const))('%s', (id, c) => {
    const r = computeMetadata({ tags: [], flavor: c.inputs.flavor }, contextOf(c))
    expect(r.tags).toEqual(CONVEYOR_DEFAULTS[id]!.tags)
  })
})
