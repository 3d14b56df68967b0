/**
 * The sources of an application, table-driven: which source input `source` names
 * (repoURL spellings, owner/name, a source name), the default (the only git source
 * without a chart) and its configuration errors, revision comparison (short and
 * uppercase SHAs), the sync request's revision fields, and what Argo CD's refusals
 * of a sync or a terminate mean.
 */
import { describe, expect, it } from 'vitest'
import { ArgoApiError } from '../../../src/argocd/client.js'
import type { Application, AppSource } from '../../../src/argocd/application.js'
import {
  isNothingToTerminate,
  isOperationInProgress,
  syncRefusal
} from '../../../src/argocd/refusals.js'
import {
  chooseSource,
  expectedRevisions,
  liveRevisionsLine,
  normalizeRepo,
  revisionFields,
  sameRevision,
  sourceMatches
} from '../../../src/argocd/sources.js'

const CHART: AppSource = {
  repoURL: 'https://charts.example.com',
  chart: 'shop',
  targetRevision: '1.2.3'
}
const VALUES: AppSource = {
  repoURL: 'https://github.com/acme/shop-config.git',
  targetRevision: 'main',
  ref: 'values'
}
const OVERLAYS: AppSource = {
  repoURL: 'https://github.com/acme/shop-config.git',
  targetRevision: 'main',
  path: 'overlays/prod',
  name: 'overlays'
}
const multi = (...sources: AppSource[]): Application => ({
  metadata: { name: 'shop-web' },
  spec: { sources }
})
const single = (source: AppSource): Application => ({
  metadata: { name: 'cart' },
  spec: { source }
})

describe('normalizeRepo and sourceMatches', () => {
  it.each([
    ['https://github.com/acme/shop-config.git', 'github.com/acme/shop-config'],
    ['https://GitHub.com/acme/shop-config/', 'github.com/acme/shop-config'],
    ['git@github.com:acme/shop-config.git', 'github.com/acme/shop-config'],
    ['ssh://git@github.com/acme/shop-config', 'github.com/acme/shop-config'],
    ['https://user@gitlab.example.com/a/b.git', 'gitlab.example.com/a/b'],
    ['acme/shop-config', 'acme/shop-config']
  ])('%s → %s', (url, want) => {
    expect(normalizeRepo(url)).toBe(want)
  })

  it.each([
    [VALUES, 'https://github.com/acme/shop-config.git', true],
    [VALUES, 'https://github.com/acme/shop-config', true],
    [VALUES, 'git@github.com:acme/shop-config.git', true],
    [VALUES, 'acme/shop-config', true],
    [VALUES, 'ACME/Shop-Config', true],
    [VALUES, 'acme/shop', false],
    [VALUES, 'other/shop-config', false],
    [VALUES, 'values', false],
    [OVERLAYS, 'overlays', true],
    [CHART, 'https://charts.example.com', true]
  ] as const)('%j matches %s: %s', (source, input, want) => {
    expect(sourceMatches(source, input)).toBe(want)
  })
})

describe('chooseSource', () => {
  it.each([
    ['single source, no input', single(VALUES), undefined, 'abc1234', { index: 0 }],
    ['single source, matching input', single(VALUES), 'acme/shop-config', 'abc1234', { index: 0 }],
    [
      'chart + values: the only git source',
      multi(CHART, VALUES),
      undefined,
      'abc1234',
      { index: 1 }
    ],
    [
      'chart + values: named by repoURL',
      multi(CHART, VALUES),
      'acme/shop-config',
      'x',
      { index: 1 }
    ],
    [
      'chart + values: the chart named',
      multi(CHART, VALUES),
      'https://charts.example.com',
      '1.2.4',
      { index: 0 }
    ],
    ['two git sources, by name', multi(CHART, VALUES, OVERLAYS), 'overlays', 'x', { index: 2 }],
    [
      'two git sources, no revision: every source',
      multi(VALUES, OVERLAYS),
      undefined,
      undefined,
      { index: undefined }
    ],
    [
      'charts only, no revision: every source',
      multi(CHART),
      undefined,
      undefined,
      { index: undefined }
    ]
  ] as const)('%s', (_label, app, input, revision, want) => {
    expect(chooseSource(app, input, revision)).toEqual(want)
  })

  it('sets aside, with a warning, a source that names nothing when no revision is given', () => {
    // The reusable workflow passes its config repository as "source" for every app.
    expect(chooseSource(single(VALUES), 'acme/elsewhere', undefined)).toEqual({
      index: 0,
      warning: expect.stringMatching(
        /^input "source": got "acme\/elsewhere", which matches no source of application "cart" .*; without "revision" it places nothing/
      )
    })
    expect(chooseSource(multi(CHART, VALUES, OVERLAYS), 'acme/shop-config', undefined)).toEqual({
      index: undefined,
      warning: expect.stringMatching(/matches 2 sources/)
    })
  })

  it.each([
    [
      'an input matching no source lists them',
      multi(CHART, VALUES),
      'acme/other',
      'x',
      /input "source": got "acme\/other", which matches no source of application "shop-web" \(1\. https:\/\/charts\.example\.com \(chart shop, targetRevision 1\.2\.3\); 2\. https:\/\/github\.com\/acme\/shop-config\.git \(ref values, targetRevision main\)\)/
    ],
    [
      'an input matching two sources (same repository)',
      multi(CHART, VALUES, OVERLAYS),
      'acme/shop-config',
      'x',
      /matches 2 sources of application "shop-web" \(2\. .*; 3\. .*name "overlays".*\); give those sources a name/
    ],
    [
      'two git sources without a chart and a revision',
      multi(VALUES, OVERLAYS),
      undefined,
      'abc1234',
      /application "shop-web" has 2 git sources without a chart \(1\. .*; 2\. .*\): set input "source" to the repoURL or name of the source that "revision" \(abc1234\) belongs to/
    ],
    [
      'no git source and a revision',
      multi(CHART),
      undefined,
      '1.2.4',
      /has no git source without a chart/
    ],
    [
      'a single-source app whose source is not the input, with a revision',
      single(VALUES),
      'acme/elsewhere',
      'abc1234',
      /matches no source of application "cart"/
    ]
  ] as const)('%s', (_label, app, input, revision, message) => {
    const choice = chooseSource(app, input, revision)
    expect('error' in choice && choice.error).toMatch(message)
  })
})

describe('revisions', () => {
  it.each([
    ['a'.repeat(40), 'a'.repeat(40), true],
    ['abcdef1', `abcdef1${'0'.repeat(33)}`, true],
    ['ABCDEF1', `abcdef1${'0'.repeat(33)}`, true],
    [`ABCDEF1${'0'.repeat(33)}`, `abcdef1${'0'.repeat(33)}`, true],
    [`abcdef1${'0'.repeat(33)}`, 'abcdef1', true],
    ['abcdef', `abcdef1${'0'.repeat(33)}`, false],
    ['abcdef2', `abcdef1${'0'.repeat(33)}`, false],
    ['1.2.3', '1.2.3', true],
    ['1.2.3', '1.2.30', false],
    ['main', 'MAIN', false],
    ['abc1234', undefined, false],
    ['', '', false]
  ] as const)('sameRevision(%s, %s) is %s', (a, b, want) => {
    expect(sameRevision(a, b)).toBe(want)
  })

  it('sends revision for a single source, revisions + 1-based numeric positions for several', () => {
    expect(revisionFields(single(VALUES), 0, 'abc1234')).toEqual({ revision: 'abc1234' })
    expect(revisionFields(multi(CHART, VALUES), 1, 'abc1234')).toEqual({
      revisions: ['abc1234'],
      sourcePositions: [2]
    })
    expect(revisionFields(multi(CHART, VALUES), 1, undefined)).toEqual({})
    expect(revisionFields(single(VALUES), 0, undefined)).toEqual({})
  })

  it('expects our source from the operation the sync set, or every source', () => {
    const app: Application = {
      ...multi(CHART, VALUES),
      operation: { sync: { revisions: ['1.2.3', 'c'.repeat(40)] } }
    }
    expect(expectedRevisions(app, 1)).toEqual([
      {
        index: 1,
        revision: 'c'.repeat(40),
        label: 'source 2 "values" (https://github.com/acme/shop-config.git)'
      }
    ])
    expect(expectedRevisions(app, undefined).map(e => e.revision)).toEqual([
      '1.2.3',
      'c'.repeat(40)
    ])
    const one: Application = {
      ...single(VALUES),
      operation: { sync: { revision: 'd'.repeat(40) } }
    }
    expect(expectedRevisions(one, 0)).toEqual([{ index: 0, revision: 'd'.repeat(40), label: '' }])
    expect(expectedRevisions(single(VALUES), 0, 'abc1234')[0]!.revision).toBe('abc1234')
  })

  it('logs the live revision of each source', () => {
    const app: Application = {
      ...multi(CHART, VALUES),
      status: { sync: { revisions: ['1.2.3', 'e'.repeat(40)] } }
    }
    expect(liveRevisionsLine(app, 1)).toBe(
      `live revisions: source 1 (https://charts.example.com, chart shop) 1.2.3; source 2 "values" (https://github.com/acme/shop-config.git) ${'e'.repeat(40)} (ours)`
    )
    expect(liveRevisionsLine({ ...single(VALUES), status: { sync: { revision: 'f' } } })).toBe(
      'live revision f'
    )
  })
})

describe("Argo CD's refusals", () => {
  const e = (code: number, message: string): ArgoApiError =>
    new ArgoApiError(`sync "x": HTTP 400 (code ${code}): ${message}`, 400, code, message)

  it('retries only "another operation is already in progress"', () => {
    expect(isOperationInProgress(e(9, 'another operation is already in progress'))).toBe(true)
    expect(
      isOperationInProgress(
        e(
          9,
          'error setting app operation: rpc error: code = FailedPrecondition desc = another operation is already in progress'
        )
      )
    ).toBe(true)
    expect(isOperationInProgress(e(9, 'application is deleting'))).toBe(false)
    expect(syncRefusal(e(9, 'another operation is already in progress'))).toBeUndefined()
  })

  it.each([
    [
      'Cannot sync to abc: auto-sync currently set to main',
      /^Argo CD refused the sync: Cannot sync to abc: auto-sync currently set to main\. With automated sync on.*leave input "revision" empty.*or turn off automated sync/
    ],
    [
      "error resolving repo revision: rpc error: code = Unknown desc = unable to resolve 'nope' to a commit SHA: revision not found",
      /^Argo CD refused the sync: error resolving repo revision: .*'nope'.*\. Check input "revision"/
    ],
    ['application is deleting', /^Argo CD refused the sync: application is deleting$/]
  ])('fails at once on FailedPrecondition "%s"', (message, want) => {
    expect(syncRefusal(e(9, message))).toMatch(want)
  })

  it('leaves other codes to the caller', () => {
    expect(syncRefusal(e(3, 'json: cannot unmarshal string'))).toBeUndefined()
    expect(syncRefusal(new Error('x'))).toBeUndefined()
  })

  it('reads InvalidArgument "No operation is in progress" as nothing to terminate', () => {
    expect(
      isNothingToTerminate(e(3, 'Unable to terminate operation. No operation is in progress'))
    ).toBe(true)
    expect(isNothingToTerminate(e(3, 'something else'))).toBe(false)
    expect(isNothingToTerminate(e(7, 'permission denied'))).toBe(false)
  })
})
