/**
 * The tag rules of src/image/metadata, table-driven: rule parsing and its errors, the
 * flavor, every rule type.
 */
import { describe, expect, it } from 'vitest'
import { computeMetadata } from '../../../../src/image/metadata/compute.js'
import type { MetadataContext } from '../../../../src/image/metadata/context.js'
import { parseFlavor, parseTagRules } from '../../../../src/image/metadata/rules.js'
import { ConfigurationError } from '../../../../src/core/errors.js'
import { SHA, ctx, pr, push, tags } from '../../../support/metadata.js'

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
