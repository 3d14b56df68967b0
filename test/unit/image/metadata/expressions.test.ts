/**
 * The expressions and context of src/image/metadata, table-driven: the global expressions
 * and the default branch per event, the run context (pull_request_target,
 * DOCKER_METADATA_PR_HEAD_SHA, DOCKER_METADATA_SHORT_SHA_LENGTH, SOURCE_DATE_EPOCH), the
 * labels, and Conveyor's own rules (its defaults, no automatic latest from a pull request
 * run, refused tags).
 */
import { describe, expect, it } from 'vitest'
import { computeMetadata, sanitizeTag } from '../../../../src/image/metadata/compute.js'
import type { EventPayload } from '../../../../src/core/context.js'
import type { MetadataContext } from '../../../../src/image/metadata/context.js'
import {
  commitDateFromPayload,
  repoFromPayload,
  sourceDateEpoch
} from '../../../../src/image/metadata/context.js'
import { isDefaultBranch } from '../../../../src/image/metadata/expressions.js'
import { HEAD, SHA, ctx, pr, push, tags, withRepo } from '../../../support/metadata.js'

describe('global expressions', () => {
  const tag = ctx('push', 'refs/tags/v1.1.1', { ...withRepo, base_ref: 'refs/heads/main' })
  it.each<[string, MetadataContext, string]>([
    ['{{branch}}', push('refs/heads/dev'), 'dev'],
    ['{{branch}}', pr, ''],
    ['{{tag}}', tag, 'v1.1.1'],
    ['{{sha}}', tag, '860c190'],
    ['{{base_ref}}', tag, 'main'],
    ['{{base_ref}}', pr, 'main'],
    ['{{base_ref}}', push('refs/heads/dev'), ''],
    ['{{is_default_branch}}', push('refs/heads/main'), 'true'],
    ['{{is_not_default_branch}}', push('refs/heads/dev'), 'true'],
    ["{{date 'YYYYMMDD-HHmmss' tz='Asia/Tokyo'}}", tag, '20200110-093000'],
    ["{{date 'dddd, MMMM Do YYYY, h:mm:ss a'}}", tag, 'Friday, January 10th 2020, 12:30:00 am'],
    ['{{commit_date YYYYMMDD}}', tag, '2020-01-10T00:30:00Z']
  ])('%s', (expr, c, expected) => {
    const r = computeMetadata({ tags: [], labels: [`x=${expr}`] }, c)
    expect(r.labels).toContain(`x=${expected}`)
  })

  it.each([
    ['{{brnach}}', /unknown expression \{\{brnach\}\} \(did you mean \{\{branch\}\}\?\)/],
    ['{{date}}', /\{\{date\}\} needs a format/],
    ["{{date 'YYYY' tz=Asia/Tokyo}}", /the time zone must be quoted/],
    ["{{date 'YYYY' zone='UTC'}}", /unknown attribute zone=; only tz= is known/],
    ["{{date 'YYYY' tz='Mars/Olympus'}}", /unknown time zone "Mars\/Olympus"/],
    ['{{#if branch}}x{{/if}}', /block helpers, partials and decorators are not supported/],
    ['{{branch', /"\{\{" is never closed/],
    ["{{branch 'x'}}", /\{\{branch\}\} takes no arguments/]
  ])('refuses %s in a rule, naming the rule', (expr, message) => {
    const run = (): unknown =>
      computeMetadata({ tags: [`type=raw,value=v${expr}`] }, push('refs/heads/dev'))
    expect(run).toThrow(message)
    expect(run).toThrow(/^input "tags" line 1 \(type=raw,value=v/)
  })

  it('refuses names a semver pattern or a schedule pattern does not render', () => {
    expect(() =>
      tags(['type=semver,pattern={{version}}-{{sha}}'], push('refs/tags/v1.0.0'))
    ).toThrow(/known here: \{\{raw\}\}, \{\{version\}\}.*use prefix= or suffix= for \{\{branch\}\}/)
    expect(() =>
      tags(['type=schedule,pattern=nightly-{{sha}}'], ctx('schedule', 'refs/heads/main', {}))
    ).toThrow(/known here: \{\{date\}\}, \{\{commit_date\}\}/)
  })

  it('warns that an unquoted date format is read as a variable (the default format applies)', () => {
    const r = computeMetadata(
      { tags: ['type=raw,value={{date YYYYMMDD}}'] },
      push('refs/heads/dev')
    )
    expect(r.tags).toEqual(['2020-01-10T00-30-00Z'])
    expect(r.warnings).toEqual([expect.stringMatching(/quote it: \{\{date 'YYYYMMDD'\}\}/)])
  })

  it('HTML-escapes expression output before sanitising, as Handlebars does in metadata-action', () => {
    expect(tags(['type=raw,value={{branch}}'], push('refs/heads/a=b'))).toEqual(['a-x3D-b'])
    expect(tags(['type=raw,value={{{branch}}}'], push('refs/heads/a=b'))).toEqual(['a-b'])
  })
})

describe('the default branch per event ({{is_default_branch}})', () => {
  it.each<[string, string, EventPayload, boolean]>([
    ['push', 'refs/heads/main', withRepo, true],
    ['push', 'refs/heads/dev', withRepo, false],
    ['schedule', 'refs/heads/main', { schedule: '0 0 * * *' }, true], // no repository in the payload
    ['create', 'refs/tags/v1', withRepo, true],
    ['issues', 'refs/heads/main', {}, true],
    ['discussion', 'refs/heads/main', {}, true],
    ['workflow_dispatch', 'refs/heads/dev', withRepo, false],
    ['pull_request', 'refs/pull/1/merge', withRepo, false],
    ['push', '', withRepo, false]
  ])('%s %s', (event, ref, payload, expected) => {
    expect(isDefaultBranch(ctx(event, ref, payload))).toBe(expected)
  })
})

describe('the context', () => {
  const payload = {
    number: 15,
    ...withRepo,
    pull_request: { base: { ref: 'main' }, head: { sha: HEAD } }
  }

  it('tags a pull_request_target run from its pull request, not the base branch it runs on', () => {
    const c = ctx('pull_request_target', 'refs/heads/main', payload)
    expect(c.ref).toBe('refs/pull/15/merge')
    expect(tags(['type=ref,event=branch', 'type=ref,event=pr'], c)).toEqual(['pr-15'])
  })

  it('DOCKER_METADATA_PR_HEAD_SHA=true uses the head commit of a pull request run only', () => {
    expect(
      ctx('pull_request', 'refs/pull/15/merge', payload, { DOCKER_METADATA_PR_HEAD_SHA: 'true' })
        .sha
    ).toBe(HEAD)
    expect(ctx('pull_request', 'refs/pull/15/merge', payload).sha).toBe(SHA)
    expect(
      ctx('push', 'refs/heads/main', payload, { DOCKER_METADATA_PR_HEAD_SHA: 'true' }).sha
    ).toBe(SHA)
  })

  it('DOCKER_METADATA_SHORT_SHA_LENGTH sets the short SHA, and a bad one is an error naming it', () => {
    const c = ctx('push', 'refs/heads/dev', withRepo, { DOCKER_METADATA_SHORT_SHA_LENGTH: '12' })
    expect(tags(['type=sha'], c)).toEqual(['sha-860c1904a1ce'])
    expect(() =>
      ctx('push', 'refs/heads/dev', withRepo, { DOCKER_METADATA_SHORT_SHA_LENGTH: 'x' })
    ).toThrow(
      /environment variable DOCKER_METADATA_SHORT_SHA_LENGTH: got "x", expected a whole number/
    )
  })

  it('SOURCE_DATE_EPOCH fixes now for {{date}} and the created label', () => {
    const c = ctx('push', 'refs/heads/dev', withRepo, { SOURCE_DATE_EPOCH: '1700000000' })
    const r = computeMetadata({ tags: ["type=raw,value={{date 'YYYYMMDD-HHmmss'}}"] }, c)
    expect(r.tags).toEqual(['20231114-221320'])
    expect(r.labels).toContain('org.opencontainers.image.created=2023-11-14T22:13:20.000Z')
    expect(sourceDateEpoch('')).toBeUndefined()
    expect(() => sourceDateEpoch('yesterday')).toThrow(
      /SOURCE_DATE_EPOCH: got "yesterday", expected whole seconds/
    )
  })

  it('reads the commit date from a push payload, and the repository data', () => {
    const p = {
      commits: [{ id: SHA, timestamp: '2024-11-13T13:42:28Z' }],
      repository: {
        name: 'shop',
        html_url: 'u',
        license: { spdx_id: 'MIT' },
        default_branch: 'main'
      }
    }
    expect(commitDateFromPayload(p, SHA)?.toISOString()).toBe('2024-11-13T13:42:28.000Z')
    expect(commitDateFromPayload(p, HEAD)).toBeUndefined()
    expect(repoFromPayload(p)).toEqual({
      name: 'shop',
      description: undefined,
      htmlUrl: 'u',
      license: 'MIT',
      defaultBranch: 'main'
    })
  })
})

describe('labels', () => {
  it('are the OCI labels, the labels input over them, sorted; a line without = is dropped with a warning', () => {
    const r = computeMetadata(
      {
        tags: ['type=ref,event=tag'],
        labels: ['org.opencontainers.image.title=My=Title', 'vendor={{branch}}x', 'invalid']
      },
      push('refs/tags/v1.0.0')
    )
    expect(r.labels).toEqual([
      'org.opencontainers.image.created=2020-01-10T00:30:00.000Z',
      'org.opencontainers.image.description=',
      'org.opencontainers.image.licenses=',
      `org.opencontainers.image.revision=${SHA}`,
      'org.opencontainers.image.source=https://github.com/acme/shop',
      'org.opencontainers.image.title=My=Title',
      'org.opencontainers.image.url=https://github.com/acme/shop',
      'org.opencontainers.image.version=v1.0.0',
      'vendor=x'
    ])
    expect(r.warnings).toEqual([expect.stringMatching(/"invalid" has no "="/)])
  })
})

describe("Conveyor's own rules", () => {
  it('never tags latest automatically from a pull request run', () => {
    const rules = ['type=semver,pattern={{version}},value=v1.2.3', 'type=match,pattern=\\d,value=1']
    expect(tags(rules, pr)).toEqual(['1.2.3', '1'])
    expect(tags(rules, push('refs/heads/dev'))).toEqual(['1.2.3', '1', 'latest'])
    const target = ctx('pull_request_target', 'refs/heads/main', { number: 15, ...withRepo })
    expect(tags(rules, target)).toEqual(['1.2.3', '1'])
    expect(tags([], target)).toEqual(['pr-15', 'sha-860c190']) // the defaults read the PR, not the base branch
  })

  it('gives latest on a pull request run when asked explicitly', () => {
    expect(tags(['type=ref,event=pr'], pr, ['latest=true'])).toEqual(['pr-15', 'latest'])
    expect(tags(['type=ref,event=pr', 'type=raw,value=latest'], pr)).toEqual(['pr-15', 'latest'])
  })

  it('uses its documented defaults when tags is empty, latest only on the default branch', () => {
    expect(tags([], push('refs/heads/main'))).toEqual(['main', 'latest', 'sha-860c190'])
    expect(tags([], push('refs/tags/v1.2.3'))).toEqual(['1.2.3', '1.2', 'v1.2.3', 'sha-860c190'])
    expect(tags([], push('refs/tags/v1.2.3'), ['latest=auto'])).toEqual([
      '1.2.3',
      '1.2',
      'v1.2.3',
      'sha-860c190',
      'latest'
    ])
    expect(
      computeMetadata({ tags: [] }, push('refs/heads/main'), { defaults: 'metadata-action' }).tags
    ).toEqual(['main'])
  })

  it('refuses a tag a registry would refuse, naming the rule, where metadata-action outputs it', () => {
    expect(() => tags(['type=raw,value={{base_ref}}-foo'], push('refs/heads/dev'))).toThrow(
      /^input "tags" line 1 \(type=raw,value=\{\{base_ref\}\}-foo\) makes the tag "-foo", which a registry refuses/
    )
    expect(() => tags([`type=raw,value=${'a'.repeat(129)}`], push('refs/heads/dev'))).toThrow(
      /1 to 128/
    )
  })

  it('lists an exact duplicate once (metadata-action lists latest twice)', () => {
    expect(tags(['type=ref,event=tag', 'type=raw,value=latest'], push('refs/tags/v1.0.0'))).toEqual(
      ['v1.0.0', 'latest']
    )
  })

  it('sanitises as metadata-action: each run of other characters becomes one -', () => {
    expect(sanitizeTag('my/feature#1245')).toBe('my-feature-1245')
    expect(sanitizeTag('a  b//c')).toBe('a-b-c')
  })
})
