import { describe, expect, it } from 'vitest'
import { ConfigurationError } from '../../../src/core/errors.js'
import {
  computeTags,
  contextTag,
  expandExpressions,
  parseTagRules,
  sanitizeTag,
  type TagContext
} from '../../../src/image/tags.js'

const SHA = '8f3c2a1b9d0e4f5a6b7c8d9e0f1a2b3c4d5e6f70'
const push = (ref: string, extra: Partial<TagContext> = {}): TagContext => ({
  eventName: 'push',
  ref,
  sha: SHA,
  defaultBranch: 'main',
  ...extra
})

describe('computeTags with the default rules', () => {
  const cases: [string, TagContext, string[]][] = [
    ['push to the default branch', push('refs/heads/main'), ['main', 'latest', 'sha-8f3c2a1']],
    ['push to another branch', push('refs/heads/dev'), ['dev', 'sha-8f3c2a1']],
    [
      'branch with slashes is sanitised',
      push('refs/heads/feature/Add stuff'),
      ['feature-Add-stuff', 'sha-8f3c2a1']
    ],
    ['release tag', push('refs/tags/v1.2.3'), ['1.2.3', '1.2', 'v1.2.3', 'sha-8f3c2a1']],
    [
      'pre-release tag: only the full version',
      push('refs/tags/v2.0.0-rc.1'),
      ['2.0.0-rc.1', 'v2.0.0-rc.1', 'sha-8f3c2a1']
    ],
    ['non-semver tag', push('refs/tags/nightly-build'), ['nightly-build', 'sha-8f3c2a1']],
    [
      'pull request',
      { eventName: 'pull_request', ref: 'refs/pull/42/merge', sha: SHA, prNumber: 42 },
      ['pr-42', 'sha-8f3c2a1']
    ],
    [
      'schedule on the default branch',
      push('refs/heads/main', { eventName: 'schedule' }),
      ['nightly', 'main', 'latest', 'sha-8f3c2a1']
    ]
  ]
  it.each(cases)('%s', (_name, ctx, expected) => {
    expect(computeTags([], ctx).map(t => t.tag)).toEqual(expected)
  })
})

describe('computeTags with explicit rules', () => {
  const cases: [string, string[], TagContext, string[]][] = [
    ['raw value', ['type=raw,value=v1'], push('refs/heads/dev'), ['v1']],
    ['a bare line is raw', ['stable'], push('refs/heads/dev'), ['stable']],
    ['long sha', ['type=sha,format=long'], push('refs/heads/dev'), [`sha-${SHA}`]],
    ['sha with prefix', ['type=sha,prefix=git-'], push('refs/heads/dev'), ['git-8f3c2a1']],
    [
      'semver major on 0.x is skipped',
      ['type=semver,pattern={{major}}', 'type=semver,pattern={{major}}.{{minor}}'],
      push('refs/tags/v0.4.1'),
      ['0.4']
    ],
    [
      'semver from a value',
      ['type=semver,pattern={{major}},value=3.1.0'],
      push('refs/heads/main'),
      ['3']
    ],
    [
      'semver on a branch push: nothing',
      ['type=semver,pattern={{version}}'],
      push('refs/heads/main'),
      []
    ],
    [
      'enable={{is_default_branch}} off the default branch',
      ['type=raw,value=latest,enable={{is_default_branch}}', 'type=raw,value=x'],
      push('refs/heads/dev'),
      ['x']
    ],
    ['enable=false', ['type=raw,value=a,enable=false'], push('refs/heads/dev'), []],
    [
      'prefix and suffix',
      ['type=ref,event=branch,prefix=b-,suffix=-x'],
      push('refs/heads/dev'),
      ['b-dev-x']
    ],
    ['edge on the default branch', ['type=edge'], push('refs/heads/main'), ['edge']],
    ['edge elsewhere', ['type=edge'], push('refs/heads/dev'), []],
    ['edge on a named branch', ['type=edge,branch=dev'], push('refs/heads/dev'), ['edge']],
    [
      'duplicates collapse',
      ['type=raw,value=a', 'type=raw,value=a'],
      push('refs/heads/dev'),
      ['a']
    ],
    [
      'priority orders',
      ['type=raw,value=low,priority=1', 'type=raw,value=high,priority=2000'],
      push('refs/heads/dev'),
      ['high', 'low']
    ],
    [
      'expressions in raw',
      ['type=raw,value={{branch}}-{{sha}}'],
      push('refs/heads/dev'),
      ['dev-8f3c2a1']
    ],
    ['comments and blanks', ['# c', '', 'type=raw,value=ok'], push('refs/heads/dev'), ['ok']],
    ['pr rule on a push: nothing', ['type=ref,event=pr'], push('refs/heads/dev'), []],
    [
      'branch rule on a pull request: nothing',
      ['type=ref,event=branch'],
      { eventName: 'pull_request', ref: 'refs/pull/3/merge', sha: SHA },
      []
    ],
    [
      'date expression',
      ["type=raw,value=build-{{date 'YYYYMMDD'}}"],
      push('refs/heads/dev', { now: new Date('2026-03-04T05:06:07Z') }),
      ['build-20260304']
    ],
    ['leading dot is stripped', ['type=raw,value=.hidden'], push('refs/heads/dev'), ['hidden']]
  ]
  it.each(cases)('%s', (_name, rules, ctx, expected) => {
    expect(computeTags(rules, ctx).map(t => t.tag)).toEqual(expected)
  })
})

describe('bad rules are ConfigurationErrors naming the line', () => {
  const cases: [string, string[], RegExp][] = [
    ['unknown type', ['type=bogus'], /line 1: got "type=bogus", expected a type among/],
    ['ref without event', ['type=ref'], /event=branch, event=tag or event=pr/],
    ['raw without value', ['type=raw'], /type=raw with a value=/],
    ['semver without pattern', ['type=semver'], /pattern=/],
    ['unknown attribute', ['type=sha,colour=red'], /attributes of type=sha/],
    ['bad sha format', ['type=sha,format=medium'], /format=short or format=long/],
    ['bad priority', ['type=raw,value=a,priority=high'], /priority= as a whole number/],
    ['second line', ['type=raw,value=a', 'type=what'], /line 2/],
    [
      'a bare line that is no tag (a YAML list item)',
      ['- type: raw'],
      /line 1: got "- type: raw", expected type=<kind>/
    ],
    ['an unknown expression', ['type=raw,value={{ evil }}'], /known expressions only/],
    [
      'a semver placeholder outside semver',
      ['type=raw,value={{version}}'],
      /known expressions only/
    ]
  ]
  it.each(cases)('%s', (_name, rules, message) => {
    expect(() => parseTagRules(rules)).toThrow(ConfigurationError)
    expect(() => parseTagRules(rules)).toThrow(message)
  })

  it('an impossible tag is an error', () => {
    expect(() => computeTags(['type=raw,value=---'], push('refs/heads/x'))).toThrow(
      /cannot be a tag/
    )
  })

  it('a bad enable expression is an error', () => {
    expect(() => computeTags(['type=raw,value=a,enable=maybe'], push('refs/heads/x'))).toThrow(
      /enable=true, false/
    )
  })
})

describe('helpers', () => {
  it('sanitizes like metadata-action and caps at 128', () => {
    expect(sanitizeTag('feat/x+y')).toBe('feat-x-y')
    expect(sanitizeTag('a'.repeat(200))).toHaveLength(128)
    expect(sanitizeTag('-.x')).toBe('x')
  })
  it('expands expressions', () => {
    expect(
      expandExpressions('{{tag}}|{{base_ref}}', push('refs/tags/v1', { baseRef: 'main' }))
    ).toBe('v1|main')
  })
  it('makes the context tag from a hash', () => {
    expect(contextTag(`sha256:${'ab'.repeat(32)}`)).toBe(`ctx-${'ab'.repeat(32)}`)
  })
})
