/**
 * Conformance of the tag/label engine (src/image/metadata) with docker/metadata-action's own
 * test table (test/fixtures/metadata-action, converted from its __tests__/meta.test.ts):
 * every row runs through the engine from the row's event environment and payload, and must
 * give the row's tags, version and labels exactly. Rows with an empty `tags` input run with
 * metadata-action's defaults here; a second table lists how Conveyor's own defaults differ
 * on those rows, and why.
 */
import { describe, expect, it } from 'vitest'
import { computeMetadata, imageTags } from '../../../../src/image/metadata/compute.js'
import { CONVEYOR_DEFAULTS, contextOf, fixture } from '../../../support/metadata-action.js'

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
