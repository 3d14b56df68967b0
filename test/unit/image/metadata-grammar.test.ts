/**
 * Each piece of the tag grammar (src/image/metadata), table-driven: rule parsing and its
 * errors, the flavor, every rule type, the global expressions and the default branch per
 * event, dates and time zones, the context (pull_request_target, DOCKER_METADATA_PR_HEAD_SHA,
 * DOCKER_METADATA_SHORT_SHA_LENGTH, SOURCE_DATE_EPOCH), the labels, and Conveyor's own
 * rules (its defaults, no automatic latest from a pull request run, refused tags).
 */
import { describe, expect, it } from 'vitest'
import { computeMetadata, sanitizeTag } from '../../../src/image/metadata/compute.js'
import type { EventPayload, MetadataContext } from '../../../src/image/metadata/context.js'
import {
  commitDateFromPayload,
  metadataContext,
  repoFromPayload,
  sourceDateEpoch
} from '../../../src/image/metadata/context.js'
import { isDefaultBranch } from '../../../src/image/metadata/expressions.js'
import { parseFlavor, parseTagRules } from '../../../src/image/metadata/rules.js'
import { ConfigurationError } from '../../../src/lib/errors.js'

const SHA = '860c1904a1ce19322e91ac35af1ab07466440c37'
const HEAD = '3370e228f2209994d57af4427fe64e71bb79ac96'
const NOW = new Date('2020-01-10T00:30:00.000Z')
const REPO = { name: 'shop', htmlUrl: 'https://github.com/acme/shop', defaultBranch: 'main' }
const withRepo: EventPayload = { repository: { default_branch: 'main' } }

function ctx(
  eventName: string,
  ref: string,
  payload: EventPayload = withRepo,
  env: Record<string, string> = {}
): MetadataContext {
  return metadataContext({ eventName, ref, sha: SHA, payload, repo: REPO, now: NOW, env })
}

/** The tag names the rules give in a context. */
function tags(rules: string[], c: MetadataContext, flavor: string[] = []): string[] {
  return computeMetadata({ tags: rules, flavor }, c).tags
}

const push = (ref: string): MetadataContext => ctx('push', ref)
const pr = ctx('pull_request', 'refs/pull/15/merge', {
  number: 15,
  ...withRepo,
  pull_request: { base: { ref: 'main' }, head: { sha: HEAD } }
})

describe('parseTagRules', () => {
  it('fills in metadata-action defaults and sorts by priority, stable', () => {
    const rules = parseTagRules([
      'type=sha',
      'foo',
      'type=ref,event=pr',
      'type=schedule',
      'type=raw,bar'
    ])
    expect(rules.map(r => [r.type, r.priority, r.attrs.value ?? r.attrs.event ?? ''])).toEqual([
      ['schedule', 1000, ''],
      ['ref', 600, 'pr'],
      ['raw', 200, 'foo'],
      ['raw', 200, 'bar'],
      ['sha', 100, '']
    ])
    expect(rules[0]!.attrs.pattern).toBe('nightly')
    expect(rules[1]!.attrs.prefix).toBe('pr-')
    expect(rules[4]!.attrs).toMatchObject({ prefix: 'sha-', format: 'short', enable: 'true' })
  })

  it('takes a priority as metadata-action does (any number)', () => {
    expect(
      parseTagRules(['type=raw,a,priority=1e3', 'type=raw,b,priority=-5']).map(r => r.priority)
    ).toEqual([1000, -5])
  })

  it('reads quoted fields, skips blank and comment lines, keeps line numbers', () => {
    const rules = parseTagRules(['', '# comment', 'type=match,"pattern=\\d{1,3}",group=0'])
    expect(rules).toHaveLength(1)
    expect(rules[0]).toMatchObject({ line: 3, attrs: { pattern: '\\d{1,3}', group: '0' } })
  })

  it.each([
    ['type=foo', /line 1: got "type=foo", expected a type among schedule, semver/],
    ['type=semvr,pattern={{version}}', /did you mean "semver"\?/],
    ['type=semver', /type=semver with a pattern=/],
    ['type=match,pattern=x,group=one', /group= as the number of a capturing group/],
    ['type=ref', /type=ref with event=branch, event=tag or event=pr/],
    ['type=ref,event=push', /type=ref with event=branch/],
    ['type=raw', /type=raw with a value/],
    ['type=sha,format=medium', /format=short or format=long/],
    ['type=sha,prefx=x', /attribute "prefx" is not one \(did you mean "prefix"\?\)/],
    ['type=sha,foo', /a bare field \(taken as value=\) is not one/],
    ['type=raw,value=a,value=b', /each attribute at most once \(value= is repeated\)/],
    ['type=raw,a,b', /one value/],
    ['type=raw,value=a,priority=high', /priority= as a number/],
    ['type=raw,value="a"', /a quote may only open a field/],
    ['type=raw,"value=a', /the quote is never closed/]
  ])('refuses %s, naming the input and line', (line, message) => {
    expect(() => parseTagRules([line])).toThrow(ConfigurationError)
    expect(() => parseTagRules([line])).toThrow(message)
    expect(() => parseTagRules([line])).toThrow(/^input "tags" line 1: /)
  })
})

describe('parseFlavor', () => {
  it.each([
    [[], { latest: 'auto', prefix: '', prefixLatest: false, suffix: '', suffixLatest: false }],
    [['latest=false'], { latest: 'false', latestSet: true }],
    [['prefix=foo-,onlatest=true'], { prefix: 'foo-', prefixLatest: true }],
    [['prefix=a-', 'suffix=-b,onlatest=true'], { prefix: 'a-', suffix: '-b', suffixLatest: true }]
  ])('%j', (lines, expected) => {
    expect(parseFlavor(lines)).toMatchObject(expected)
  })

  it.each([
    ['latest=sometimes', /latest=auto, latest=true or latest=false/],
    ['onlatest=true', /onlatest= after a prefix= or suffix= on the same line/],
    ['prefix=a,onlatest=yes', /onlatest=true or onlatest=false/],
    ['prefx=a', /did you mean "prefix"\?/],
    ['prefix', /key=value entries/],
    ['prefix=a=b', /one "=" per entry/]
  ])('refuses %s', (line, message) => {
    expect(() => parseFlavor([line])).toThrow(message)
    expect(() => parseFlavor([line])).toThrow(/^input "flavor" line 1: /)
  })
})

describe('rule types', () => {
  it.each<[string, string[], MetadataContext, string[]]>([
    ['schedule: only on a scheduled run', ['type=schedule'], push('refs/heads/main'), []],
    [
      'schedule with a dated pattern',
      ["type=schedule,pattern={{date 'YYYYMMDD'}}"],
      ctx('schedule', 'refs/heads/main', {}),
      ['20200110']
    ],
    [
      'semver: the git tag',
      [
        'type=semver,pattern={{version}}',
        'type=semver,pattern={{major}}.{{minor}}',
        'type=semver,pattern={{major}}'
      ],
      push('refs/tags/v1.2.3'),
      ['1.2.3', '1.2', '1', 'latest']
    ],
    [
      'semver: major zero gives 0, as metadata-action',
      ['type=semver,pattern={{major}}'],
      push('refs/tags/v0.4.1'),
      ['0', 'latest']
    ],
    [
      'semver: a pre-release falls back to {{version}}',
      ['type=semver,pattern={{major}}.{{minor}}'],
      push('refs/tags/v2.0.8-beta.67'),
      ['2.0.8-beta.67']
    ],
    [
      'semver: a pre-release keeps {{raw}}',
      ['type=semver,pattern={{raw}}'],
      push('refs/tags/v2.0.8-beta.67'),
      ['v2.0.8-beta.67']
    ],
    [
      'semver: value= and match=',
      ['type=semver,pattern={{version}},value=p1/v1.2.3,"match=v(\\d.\\d.\\d)$"'],
      push('refs/heads/dev'),
      ['1.2.3', 'latest']
    ],
    [
      'semver: not a version, no tag',
      ['type=semver,pattern={{version}}'],
      push('refs/tags/release1'),
      []
    ],
    [
      'pep440: post-release falls back to the clean version',
      ['type=pep440,pattern={{major}}.{{minor}}'],
      push('refs/tags/1.2post1'),
      ['1.2.post1']
    ],
    [
      'pep440: a release',
      ['type=pep440,pattern={{major}}.{{minor}}'],
      push('refs/tags/v1.2.3'),
      ['1.2', 'latest']
    ],
    [
      'match: a group',
      ['type=match,pattern=v(\\d+),group=1'],
      push('refs/tags/v12.3'),
      ['12', 'latest']
    ],
    [
      'match: /re/flags',
      ['type=match,pattern=/^V(\\d)/i,group=1'],
      push('refs/tags/v7'),
      ['7', 'latest']
    ],
    [
      'match: a missing group, no tag',
      ['type=match,pattern=(a)?b,group=1'],
      push('refs/tags/b'),
      []
    ],
    ['edge: the default branch', ['type=edge'], push('refs/heads/main'), ['edge']],
    ['edge: another branch named', ['type=edge,branch=dev'], push('refs/heads/dev'), ['edge']],
    [
      'ref: branch, sanitised',
      ['type=ref,event=branch'],
      push('refs/heads/my/feature#1245'),
      ['my-feature-1245']
    ],
    [
      'ref: tag makes latest (auto)',
      ['type=ref,event=tag'],
      push('refs/tags/v1.0.0'),
      ['v1.0.0', 'latest']
    ],
    ['ref: pr', ['type=ref,event=pr'], pr, ['pr-15']],
    [
      'raw: shorthand forms',
      ['type=raw,foo', 'bar', 'type=raw,value=baz'],
      push('refs/heads/dev'),
      ['foo', 'bar', 'baz']
    ],
    [
      'sha: short and long',
      ['type=sha', 'type=sha,format=long,prefix='],
      push('refs/heads/dev'),
      ['sha-860c190', SHA]
    ],
    [
      'enable=false and priority',
      ['type=raw,a,enable=false', 'type=raw,b,priority=1', 'type=raw,c'],
      push('refs/heads/dev'),
      ['c', 'b']
    ],
    [
      'prefix and suffix with expressions',
      ['type=sha,prefix={{branch}}-,suffix=-x'],
      push('refs/heads/dev'),
      ['dev-860c190-x']
    ]
  ])('%s', (_name, rules, c, expected) => {
    expect(tags(rules, c)).toEqual(expected)
  })

  it('says why a version rule gave nothing (a warning, as metadata-action logs one)', () => {
    const r = computeMetadata(
      { tags: ['type=semver,pattern={{version}}'] },
      push('refs/tags/release1')
    )
    expect(r.warnings).toEqual([expect.stringMatching(/release1 is not a valid semver/)])
  })
})

describe('flavor', () => {
  it.each<[string, string[], string[], string[]]>([
    ['latest=false', ['type=ref,event=tag'], ['latest=false'], ['v1.0.0']],
    ['latest=true', ['type=sha'], ['latest=true'], ['sha-860c190', 'latest']],
    [
      'prefix/suffix, a rule prefix= overrides',
      ['type=ref,event=tag', 'type=sha'],
      ['prefix=p-', 'suffix=-s'],
      ['p-v1.0.0-s', 'sha-860c190-s', 'latest']
    ],
    [
      'onlatest puts them on latest too',
      ['type=ref,event=tag'],
      ['prefix=p-,onlatest=true'],
      ['p-v1.0.0', 'p-latest']
    ]
  ])('%s', (_name, rules, flavor, expected) => {
    expect(tags(rules, push('refs/tags/v1.0.0'), flavor)).toEqual(expected)
  })
})

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
