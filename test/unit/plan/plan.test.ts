import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { globSet, inDir } from '../../../src/core/glob.js'
import { chooseBase, isZeroSha, type BaseContext, type BaseChoice } from '../../../src/plan/base.js'
import {
  ChangedFilesJson,
  NameStatusParser,
  parseNameStatus,
  touchedPaths,
  type Change
} from '../../../src/plan/diff.js'
import {
  ServiceSelector,
  matchRule,
  reasonText,
  selectAll,
  selectServices
} from '../../../src/plan/select.js'
import { buildMatrix, mermaidGraph, planSummary } from '../../../src/plan/summary.js'
import { parseServices } from '../../../src/model/services/parse.js'
import { getInputs } from '../../../src/actions/plan/inputs.js'
import { InputReader, mapInputs } from '../../../src/core/inputs.js'

const Z = '0'.repeat(40)
const A = 'a'.repeat(40)
const B = 'b'.repeat(40)
const C = 'c'.repeat(40)
const repo = { default_branch: 'main' }

describe('chooseBase: the base table', () => {
  const base = (o: Partial<BaseContext>): BaseContext => ({
    eventName: 'push',
    event: {},
    ref: 'refs/heads/main',
    sha: B,
    tags: 'all',
    baseFromLastSuccess: false,
    ...o
  })
  const rows: [string, Partial<BaseContext>, Partial<BaseChoice>, string?][] = [
    [
      'push to a branch',
      { event: { ref: 'refs/heads/main', before: A, after: B, repository: repo } },
      { kind: 'before', before: A, branch: 'main', defaultBranch: 'main' }
    ],
    [
      'push creating a branch',
      {
        ref: 'refs/heads/f',
        event: { ref: 'refs/heads/f', before: Z, after: B, repository: repo }
      },
      { kind: 'merge-base', branch: 'main' }
    ],
    [
      'first push of the default branch',
      { event: { ref: 'refs/heads/main', before: Z, after: B, repository: repo } },
      { kind: 'all' }
    ],
    [
      'push creating a branch, default unknown',
      { ref: 'refs/heads/f', event: { ref: 'refs/heads/f', before: Z, after: B } },
      { kind: 'merge-base', branch: '' }
    ],
    [
      'branch deletion',
      { event: { ref: 'refs/heads/f', before: A, after: Z, deleted: true } },
      { kind: 'none' }
    ],
    [
      'tag push (tags: all)',
      { ref: 'refs/tags/v1', event: { ref: 'refs/tags/v1', before: Z, after: B } },
      { kind: 'all' }
    ],
    [
      'tag push (tags: changed)',
      { ref: 'refs/tags/v1', tags: 'changed', event: { ref: 'refs/tags/v1', before: Z, after: B } },
      { kind: 'previous-tag', tag: 'v1' }
    ],
    [
      'pull_request',
      {
        eventName: 'pull_request',
        sha: C,
        event: { pull_request: { head: { sha: A }, base: { ref: 'main', sha: B } } }
      },
      { kind: 'merge-base', branch: 'main' },
      A
    ],
    [
      'pull_request_target',
      {
        eventName: 'pull_request_target',
        event: { pull_request: { head: { sha: A }, base: { ref: 'release/1', sha: B } } }
      },
      { kind: 'merge-base', branch: 'release/1' },
      A
    ],
    ['pull_request without base', { eventName: 'pull_request', event: {} }, { kind: 'all' }],
    [
      'merge_group',
      { eventName: 'merge_group', event: { merge_group: { base_sha: A, head_sha: C } } },
      { kind: 'commit', sha: A },
      C
    ],
    ['workflow_dispatch', { eventName: 'workflow_dispatch' }, { kind: 'all' }],
    ['schedule', { eventName: 'schedule' }, { kind: 'all' }],
    ['workflow_run', { eventName: 'workflow_run' }, { kind: 'all' }],
    [
      'schedule, last success opt-in',
      { eventName: 'schedule', baseFromLastSuccess: true },
      { kind: 'last-success', branch: 'main' }
    ],
    [
      'repository_dispatch, last success',
      { eventName: 'repository_dispatch', baseFromLastSuccess: true, ref: 'refs/tags/x' },
      { kind: 'last-success', branch: undefined }
    ],
    [
      'input base on push',
      { inputBase: 'v1.2.0', event: { ref: 'refs/heads/main', before: A, after: B } },
      { kind: 'ref', ref: 'v1.2.0' }
    ],
    [
      'input base on pull_request',
      {
        eventName: 'pull_request',
        inputBase: A,
        event: { pull_request: { head: { sha: C }, base: { ref: 'main' } } }
      },
      { kind: 'ref', ref: A },
      C
    ],
    [
      'input base on a tag push',
      { inputBase: A, ref: 'refs/tags/v1', event: { ref: 'refs/tags/v1', before: Z, after: B } },
      { kind: 'ref', ref: A }
    ]
  ]
  it.each(rows)('%s', (_name, ctx, want, head = B) => {
    const d = chooseBase(base(ctx))
    expect(d.base).toMatchObject(want)
    expect(d.head).toBe(head)
    expect(d.base.why.length).toBeGreaterThan(5)
  })

  it('isZeroSha', () => {
    expect(isZeroSha(Z)).toBe(true)
    expect(isZeroSha('0'.repeat(64))).toBe(true)
    expect(isZeroSha(undefined)).toBe(true)
    expect(isZeroSha(A)).toBe(false)
  })
})

/** The whole changed-files list of `changes` as one text. */
export function changedFilesJson(changes: readonly Change[]): string {
  let text = ''
  const json = new ChangedFilesJson(t => (text += t))
  for (const c of changes) json.add(c.status, c.path, c.from)
  json.end()
  return text
}

describe('the changed-files JSON list', () => {
  /** The list as the obvious code would write it. */
  const reference = (changes: Change[]): string =>
    changes.length === 0
      ? '[]\n'
      : `[\n${changes
          .map(c =>
            JSON.stringify(
              c.from !== undefined
                ? { status: c.status, path: c.path, from: c.from }
                : { status: c.status, path: c.path }
            )
          )
          .join(',\n')}\n]\n`

  it.each<[string, Change[]]>([
    ['empty', []],
    ['one', [{ status: 'A', path: 'a' }]],
    [
      'mixed statuses, renames, names JSON must escape',
      [
        { status: 'A', path: 'a b' },
        { status: 'A', path: 'quote "x"' },
        { status: 'A', path: 'back\\slash' },
        { status: 'M', path: 'new\nline' },
        { status: 'M', path: 'tab\there' },
        { status: 'R', path: 'to "q"', from: 'from\u2028' },
        { status: 'M', path: 'ünï/名' },
        { status: 'D', path: '-x' },
        { status: 'C', path: 't', from: 's' },
        { status: 'D', path: 'y' }
      ]
    ],
    [
      'a run longer than a batch',
      Array.from({ length: 9000 }, (_, i) => ({ status: i < 8500 ? 'A' : 'M', path: `d/${i}` }))
    ]
  ])('%s: the same text as JSON.stringify per record, and valid JSON', (_n, changes) => {
    const text = changedFilesJson(changes)
    expect(text).toBe(reference(changes))
    expect(JSON.parse(text)).toHaveLength(changes.length)
  })

  it('hands out whole records only', () => {
    const pieces: string[] = []
    const json = new ChangedFilesJson(t => pieces.push(t))
    for (let i = 0; i < 5000; i++) json.add('A', `f${i}`)
    json.add('R', 'b', 'a')
    json.end()
    expect(pieces.length).toBeGreaterThan(2)
    for (const p of pieces.slice(0, -1)) expect(p).toMatch(/^(\[|,)\n\{.*\}$/s)
  })
})

describe('parseNameStatus', () => {
  it.each<[string, string, Change[]]>([
    ['empty', '', []],
    [
      'add, modify, delete',
      'A\0a b\0M\0"q"\0D\0-x\0',
      [
        { status: 'A', path: 'a b' },
        { status: 'M', path: '"q"' },
        { status: 'D', path: '-x' }
      ]
    ],
    [
      'rename and copy',
      'R100\0old\nname\0new name\0C075\0s\0t\0',
      [
        { status: 'R', path: 'new name', from: 'old\nname', score: 100 },
        { status: 'C', path: 't', from: 's', score: 75 }
      ]
    ],
    ['type change, unicode', 'T\0ünï/名\0', [{ status: 'T', path: 'ünï/名' }]]
  ])('%s', (_n, out, want) => {
    expect(parseNameStatus(out)).toEqual(want)
  })

  it('refuses truncated output', () => {
    expect(() => parseNameStatus('R100\0only-one\0')).toThrow(/truncated/)
    expect(() => parseNameStatus('M')).toThrow(/truncated/)
    expect(() => parseNameStatus('A\0a\0M\0')).toThrow(/truncated/)
    expect(parseNameStatus('A\0a\0M\0b')).toEqual([
      { status: 'A', path: 'a' },
      { status: 'M', path: 'b' }
    ])
  })

  it('gives the same changes however the output is cut into chunks, inside a character too', () => {
    const out = 'A\0a b\0R087\0ünï/名\0x/名\0M\0"q"\0C100\0s\0t\0D\0-x\0T\0€\0'
    const bytes = Buffer.from(out, 'utf8')
    const want = parseNameStatus(out)
    expect(want).toHaveLength(6)
    for (let cut = 0; cut <= bytes.length; cut++) {
      for (const step of [1, 3, 7]) {
        const got: Change[] = []
        const parser = new NameStatusParser((status, path, from, score) =>
          got.push(
            from === undefined
              ? { status, path }
              : { status, path, from, ...(score !== undefined ? { score } : {}) }
          )
        )
        parser.push(bytes.subarray(0, cut))
        for (let i = cut; i < bytes.length; i += step) parser.push(bytes.subarray(i, i + step))
        parser.end()
        expect(got, `cut at ${cut}, then ${step}-byte chunks`).toEqual(want)
        expect(parser.count).toBe(6)
      }
    }
  })

  it('hands runs of simple records over whole: the same changes, count and JSON as record by record (random outputs, random cuts)', () => {
    let seed = 7
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      // The high bits: an LCG's low bits repeat with a short period.
      return Math.floor((seed / 2 ** 31) * n)
    }
    const names = [
      'a/x.txt',
      'a/b/y.go',
      'b',
      'A',
      'D',
      'M',
      'q"uote',
      'back\\slash',
      'new\nline',
      'tab\tx',
      'sep\u2028x',
      'ünï/名',
      '名',
      '-dash',
      'd/e/f/g.md'
    ]
    let oneStatus = 0
    for (let round = 0; round < 200; round++) {
      const records: string[] = []
      for (let i = 0, n = 1 + rnd(40); i < n; i++) {
        // Now and then a long stretch of one status, as a directory of new files gives.
        if (rnd(30) === 0) {
          const status = 'ADMT'[rnd(4)]!
          for (let k = 0; k < 300; k++) records.push(`${status}\0many/file ${i} ${k}.txt\0`)
        }
        const path = rnd(3) === 0 ? names[rnd(names.length)]! : `dir${rnd(3)}/f${i}.txt`
        const kind = rnd(12)
        if (kind === 0) records.push(`R${rnd(101)}\0old${i}\0${path}\0`)
        else if (kind === 1) records.push(`C075\0${path}\0copy${i}\0`)
        else if (kind === 2) records.push(`${'UX'[rnd(2)]}\0${path}\0`)
        else records.push(`${'ADMT'[rnd(4)]}\0${path}\0`)
      }
      const out = records.join('')
      const want = parseNameStatus(out)
      const bytes = Buffer.from(out, 'utf8')
      // In small chunks, or (as git's pipe mostly gives) large ones.
      const whole = rnd(3) === 0
      const got: Change[] = []
      let runs = 0
      let json = ''
      const list = new ChangedFilesJson(t => (json += t))
      const parser = new NameStatusParser(
        (status, path, from, score) => {
          got.push(
            from === undefined
              ? { status, path }
              : { status, path, from, ...(score !== undefined ? { score } : {}) }
          )
          list.add(status, path, from)
        },
        (run, status) => {
          runs++
          const fields = run.split('\0')
          expect(fields.pop()).toBe('')
          for (let k = 0; k < fields.length; k += 2) {
            expect(fields[k]).toMatch(status ?? /^[ADMT]$/)
            expect(fields[k + 1]!.length).toBeGreaterThan(1)
            got.push({ status: fields[k]!, path: fields[k + 1]! })
          }
          if (status !== undefined) oneStatus++
          const n = list.addRun(run, status)
          expect(n).toBe(fields.length / 2)
          return n
        }
      )
      for (let i = 0; i < bytes.length;) {
        const step = whole ? bytes.length : 1 + rnd(rnd(2) ? 8 : 200)
        parser.push(bytes.subarray(i, i + step))
        i += step
      }
      parser.end()
      list.end()
      expect(got, JSON.stringify(out)).toEqual(want)
      expect(parser.count).toBe(want.length)
      expect(json).toBe(changedFilesJson(want))
      if (round === 0) expect(runs).toBeGreaterThan(0)
    }
    expect(oneStatus).toBeGreaterThan(10)
  })

  it('touchedPaths gives both sides of a rename', () => {
    expect(touchedPaths({ status: 'R', path: 'b', from: 'a' })).toEqual(['a', 'b'])
    expect(touchedPaths({ status: 'M', path: 'b' })).toEqual(['b'])
  })
})

describe('globs', () => {
  it.each<[string[], string, boolean]>([
    [['protos/**'], 'protos/a/b.proto', true],
    [['protos/**'], 'protosx/a', false],
    [['**/*.md'], '.github/README.md', true],
    [['**/*.md'], 'a/.hidden/x.md', true],
    [['libs/money'], 'libs/money/x.go', true],
    [['libs/money/'], 'libs/money/x.go', true],
    [['libs/money'], 'libs/moneybags/x', false],
    [['./libs/*.go'], 'libs/a.go', true],
    [['*.go'], 'a/b.go', false],
    [['a b/**'], 'a b/c', true]
  ])('%j matches %j: %s', (patterns, file, want) => {
    expect(globSet(patterns).test(file)).toBe(want)
  })

  it('inDir', () => {
    expect(inDir('a/b', 'a')).toBe(true)
    expect(inDir('ab/c', 'a')).toBe(false)
    expect(inDir('x', '.')).toBe(true)
  })
})

const config = parseServices(
  [
    "global: ['protos/**', '.github/conveyor.yml']",
    'services:',
    '  frontend: { path: web, depends-on: [checkout] }',
    "  cart: { path: services/cart, paths: ['libs/money/**'], ignore: ['**/*.md', 'services/cart/docs/**'] }",
    "  checkout: { path: services/checkout, dockerfile: docker/checkout.Dockerfile, paths: ['libs/money/**'], depends-on: [payments] }",
    '  payments: { path: services/payments }',
    '  admin: { path: admin, depends-on: [frontend] }'
  ].join('\n'),
  '.github/conveyor.yml'
)
const change = (path: string, status = 'M', from?: string): Change =>
  from ? { status, path, from } : { status, path }

describe('selectServices', () => {
  const rows: [string, Change[], string[]][] = [
    ['nothing', [], []],
    ['unrelated file', [change('README.md')], []],
    ['own path', [change('services/cart/main.go')], ['cart']],
    ['ignored file', [change('services/cart/README.md'), change('services/cart/docs/x.txt')], []],
    [
      'dockerfile outside path',
      [change('docker/checkout.Dockerfile')],
      ['frontend', 'checkout', 'admin']
    ],
    ['paths glob', [change('libs/money/a.go')], ['frontend', 'cart', 'checkout', 'admin']],
    [
      'transitive depends-on',
      [change('services/payments/p.go')],
      ['frontend', 'checkout', 'payments', 'admin']
    ],
    ['global', [change('protos/x.proto')], ['frontend', 'cart', 'checkout', 'payments', 'admin']],
    [
      'the services file is global here',
      [change('.github/conveyor.yml')],
      ['frontend', 'cart', 'checkout', 'payments', 'admin']
    ],
    [
      'rename across services',
      [change('services/payments/x', 'R', 'services/cart/x')],
      ['frontend', 'cart', 'checkout', 'payments', 'admin']
    ],
    ['deletion selects', [change('web/index.html', 'D')], ['frontend', 'admin']],
    ['prefix is not a dir', [change('services/cartography/x')], []]
  ]
  it.each(rows)('%s', (_n, changes, want) => {
    expect(selectServices(config, changes).selected).toEqual(want)
  })

  it('records the file, rule and count; dependencies with their chain', () => {
    const s = selectServices(config, [
      change('services/payments/a.go'),
      change('services/payments/b.go'),
      change('libs/money/m.go')
    ])
    expect(s.reasons.get('payments')).toEqual([
      { kind: 'file', file: 'services/payments/a.go', rule: 'path services/payments/', files: 2 }
    ])
    expect(s.reasons.get('cart')).toEqual([
      { kind: 'file', file: 'libs/money/m.go', rule: 'paths libs/money/**', files: 1 }
    ])
    // checkout is selected by its own paths rule, not as a dependency.
    expect(s.reasons.get('checkout')!.map(r => r.kind)).toEqual(['file'])
    expect(s.reasons.get('admin')).toEqual([
      { kind: 'dependency', on: 'frontend', via: ['checkout', 'frontend'] }
    ])
    expect(reasonText(s.reasons.get('payments')![0]!)).toBe(
      'path services/payments/: "services/payments/a.go" (+1 more)'
    )
    expect(reasonText(s.reasons.get('admin')![0]!)).toBe(
      'depends on frontend (chain checkout -> frontend)'
    )
    expect(s.files).toBe(3)
  })

  it('the per-directory shortcut agrees with matching every file on its own (random trees)', () => {
    let seed = 42
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return seed % n
    }
    const dirs = ['a', 'a/b', 'a/b/c', 'libs/x', 'libs', 'docs', 'a/docs', '.github', 'z']
    const names = ['f.go', 'README.md', 'Dockerfile', 'x.proto', '.env', 'b']
    for (let round = 0; round < 300; round++) {
      const pick = <T>(xs: T[]): T => xs[rnd(xs.length)]!
      const globs = [
        '**/*.md',
        'libs/**',
        'libs/x/**',
        '*.proto',
        '**/x.proto',
        'a/b',
        'docs/**',
        '.github/**',
        'a/**/f.go'
      ]
      const text = [
        `global: [${rnd(3) === 0 ? `'${pick(globs)}'` : ''}]`,
        'services:',
        ...['s1', 's2', 's3'].map(
          n =>
            `  ${n}: { path: ${pick(dirs)}, dockerfile: ${pick(dirs)}/Dockerfile, paths: ['${pick(globs)}'], ignore: [${rnd(2) ? `'${pick(globs)}'` : ''}] }`
        )
      ].join('\n')
      const cfg = parseServices(text, 'f.yml')
      const files = [
        ...new Set(Array.from({ length: 30 }, () => `${pick(dirs)}/${pick(names)}`))
      ].sort()
      const changes = files.map(f => change(f))
      const fast = selectServices(cfg, changes)
      const global = globSet(cfg.global)
      const naive = cfg.services
        .filter(sv => files.some(f => global.test(f) || matchRule(sv, f) !== undefined))
        .map(sv => sv.name)
      expect(fast.selected, text).toEqual(naive)
      for (const sv of cfg.services) {
        const count = files.filter(f => global.test(f) || matchRule(sv, f) !== undefined).length
        const got = (fast.reasons.get(sv.name) ?? []).reduce(
          (n, r) => n + ('files' in r ? r.files : 0),
          0
        )
        expect(got, `${sv.name} in\n${text}`).toBe(count)
      }
    }
  })

  it('whole runs give the same selection, reasons, first files and counts as path by path (random trees, any order)', () => {
    let seed = 99
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      // The high bits: an LCG's low bits repeat with a short period.
      return Math.floor((seed / 2 ** 31) * n)
    }
    const pick = <T>(xs: T[]): T => xs[rnd(xs.length)]!
    // Few directories, nested: runs often span a directory and its subdirectories.
    const dirs = ['a', 'a/b', 'a/b/c', 'libs/x', 'libs', 'z', 'z/y']
    const names = ['f.go', 'README.md', 'Dockerfile', 'x.proto', '.env', 'bb', 'b']
    // Mostly `<dir>/**` globs (which runs can count at once), some globs on file names.
    const dirGlobs = ['libs/**', 'libs/x/**', 'z/y/**', 'z/**', 'a/b/**', 'a/**', 'a/b/c/**']
    const fileGlobs = ['**/*.md', '*.proto', '**/x.proto', 'a/b', 'a/**/f.go']
    const glob = (): string => (rnd(4) === 0 ? pick(fileGlobs) : pick(dirGlobs))
    const some = (): string => (rnd(2) ? `'${glob()}'` : '')
    for (let round = 0; round < 2000; round++) {
      const text = [
        `global: [${rnd(3) === 0 ? `'${glob()}'` : ''}]`,
        'services:',
        ...['s1', 's2', 's3'].map(
          n =>
            `  ${n}: { path: ${pick(dirs)}, ${rnd(3) === 0 ? `dockerfile: ${pick(dirs)}/Dockerfile, ` : ''}paths: [${some()}], ignore: [${some()}] }`
        )
      ].join('\n')
      const cfg = parseServices(text, 'f.yml')
      // Clusters of files in a few directories (runs under one prefix), in git's order
      // or not.
      const cluster: string[] = []
      for (let c = 0, n = 1 + rnd(6); c < n; c++) {
        const dir = pick(dirs)
        for (let f = 0, m = 1 + rnd(60); f < m; f++)
          cluster.push(`${dir}/${pick(names)}${rnd(2) ? '' : rnd(40)}`)
      }
      const files = [...new Set(cluster)]
      if (rnd(3) > 0) files.sort()
      const byPath = new ServiceSelector(cfg)
      for (const f of files) byPath.add(f)
      const byRun = new ServiceSelector(cfg)
      for (let i = 0; i < files.length;) {
        const n = 1 + rnd(rnd(2) ? 4 : 120)
        const part = files.slice(i, i + n)
        if (rnd(4) === 0) for (const f of part) byRun.add(f)
        else
          byRun.addRun(part.map(f => `${pick(['A', 'D', 'M', 'T'])}\0${f}\0`).join(''), part.length)
        i += n
      }
      const want = byPath.finish()
      const got = byRun.finish()
      expect(got.selected, text).toEqual(want.selected)
      expect([...got.reasons], `${text}\n${files.join('\n')}`).toEqual([...want.reasons])
      expect(got.files).toBe(files.length)
    }
  })

  it('selectAll', () => {
    const s = selectAll(config, 'tag push')
    expect(s.selected).toHaveLength(5)
    expect(reasonText(s.reasons.get('cart')![0]!)).toBe('tag push')
  })

  it('reasonText keeps entries short', () => {
    const long = `services/cart/${'x'.repeat(300)}`
    expect(
      reasonText({ kind: 'file', file: long, rule: 'path services/cart/', files: 1 }).length
    ).toBe(120)
  })
})

describe('buildMatrix', () => {
  it('the empty matrix is valid', () => {
    expect(buildMatrix(config, selectServices(config, []), 256)).toEqual({ include: [] })
  })

  it('256 legs stay far below the output cap', () => {
    const names = Array.from({ length: 256 }, (_, i) => `service-with-a-long-name-${i}`)
    const big = parseServices(
      `defaults: { registry: registry.example.com/some/long/namespace }\nservices:\n${names
        .map(n => `  ${n}: { path: services/${n}, platforms: [linux/amd64, linux/arm64] }`)
        .join('\n')}\n`,
      'f.yml'
    )
    const sel = selectServices(
      big,
      names.map(n => change(`services/${n}/${'deep/'.repeat(10)}file.go`))
    )
    const json = JSON.stringify(buildMatrix(big, sel, 256))
    expect(Buffer.byteLength(json)).toBeLessThan(256 * 1024)
  })

  it('past max-jobs: an error that says how to split', () => {
    const sel = selectAll(config, 'all')
    expect(() => buildMatrix(config, sel, 4)).toThrow(
      /5 services are selected but input "max-jobs" allows 4 matrix jobs \(raise it up to 256, GitHub's limit per matrix, or split\): split the services across several services files .* 2 files of at most 4 services/
    )
  })

  it('entries carry what a build leg needs', () => {
    const m = buildMatrix(
      config,
      selectServices(config, [change('docker/checkout.Dockerfile')]),
      256
    )
    expect(m.include[1]).toEqual({
      service: 'checkout',
      path: 'services/checkout',
      context: 'services/checkout',
      dockerfile: 'docker/checkout.Dockerfile',
      image: 'checkout',
      platforms: 'linux/amd64',
      'cache-scope': 'checkout',
      reasons: ['dockerfile docker/checkout.Dockerfile: "docker/checkout.Dockerfile"']
    })
  })
})

describe('summary', () => {
  it('a Mermaid graph with dependency edges and the selected services highlighted', () => {
    const g = mermaidGraph(config, new Set(['cart']))
    expect(g.split('\n')).toEqual(
      expect.arrayContaining([
        'flowchart LR',
        '  s_frontend["frontend"]',
        '  s_frontend --> s_checkout',
        '  s_admin --> s_frontend',
        '  class s_cart selected',
        '  class s_frontend,s_checkout,s_payments,s_admin skipped'
      ])
    )
  })

  it('a table with file and rule, the base, and file names that cannot break the table', () => {
    const sel = selectServices(config, [
      change('services/cart/a|b\nc.go'),
      change('services/payments/p')
    ])
    const md = planSummary({
      config,
      selection: sel,
      deleted: ['old'],
      base: A,
      head: B,
      why: 'push to main: the commit before the push',
      changedFiles: 2
    }).toString()
    expect(md).toContain('### plan: 5 of 5 services selected')
    expect(md).toContain(
      `Compared \`${A.slice(0, 12)}\`…\`${B.slice(0, 12)}\`: push to main: the commit before the push. 2 changed file(s).`
    )
    expect(md).toContain('| **cart** | `services/cart/a\\|b c.go` | path services/cart/ |')
    expect(md).toContain(
      '| **admin** |   | depends-on frontend (chain payments → checkout → frontend) |'
    )
    expect(md).toContain('Deleted services (not built): `old`')
    expect(md).toContain('```mermaid')
  })
})

describe('plan inputs', () => {
  const read = (values: Record<string, string>) =>
    getInputs(new InputReader(mapInputs(values)), '/tmp')
  it('defaults', () => {
    expect(read({})).toEqual({
      config: '.github/conveyor.yml',
      requireConfig: false,
      base: undefined,
      workingDirectory: '/tmp',
      workspace: '/tmp',
      tags: 'all',
      maxJobs: 256,
      baseFromLastSuccess: false,
      token: undefined
    })
  })
  it.each<[Record<string, string>, RegExp]>([
    [{ tags: 'some' }, /input "tags": got "some", expected one of "all", "changed"/],
    [{ 'max-jobs': '0' }, /input "max-jobs": got "0"/],
    [{ 'max-jobs': '257' }, /input "max-jobs": got "257"/],
    [
      { base: '--upload-pack=x' },
      /input "base": got "--upload-pack=x", expected a revision git can resolve \(a commit sha, a branch or tag, or an expression such as HEAD~3\).* not starting with "-"/
    ],
    [{ base: 'main\nHEAD' }, /input "base"/],
    [
      { 'working-directory': '../../etc' },
      /input "working-directory": "..\/..\/etc" is outside the workspace \/tmp/
    ],
    [
      { 'working-directory': '/etc' },
      /input "working-directory": "\/etc" is outside the workspace/
    ],
    [{ config: '../x.yml' }, /input "config": got "..\/x.yml"/],
    [
      { 'working-directory': 'does/not/exist' },
      /input "working-directory": got "does\/not\/exist", expected an existing directory/
    ],
    [{ 'base-from-last-success': 'true' }, /needs input "token"/],
    [{ 'base-from-last-success': 'yes' }, /input "base-from-last-success": got "yes"/]
  ])('%j', (values, re) => {
    expect(() => read(values)).toThrow(re)
  })
  it.each(['HEAD~3', 'main^', 'v1.2.3', 'HEAD^{commit}', 'origin/main~2', 'a'.repeat(40)])(
    'base %j is any revision git may resolve',
    base => {
      expect(read({ base }).base).toBe(base)
    }
  )
  it('a non-default config must exist; huge values are cut in the message', () => {
    expect(() => read({ config: 'ci/services.yml' })).toThrow(
      /^input "config": got "ci\/services.yml", expected the path of an existing services file, relative to the working directory \/tmp$/
    )
    const dir = mkdtempSync(join(tmpdir(), 'conveyor-plan-inputs-'))
    try {
      mkdirSync(join(dir, 'ci'))
      writeFileSync(join(dir, 'ci', 'services.yml'), 'services: {}\n')
      const got = read({ config: './ci/services.yml', 'working-directory': dir })
      expect(got).toMatchObject({
        config: 'ci/services.yml',
        requireConfig: true,
        workingDirectory: dir
      })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
  it.each([
    ['config', 'x/'.repeat(600) + 'a.yml'],
    ['base', 'a'.repeat(300)],
    ['base', 'main\u0007']
  ])('%s: a huge or control-character value is refused, shown short', (name, value) => {
    let message = ''
    try {
      read({ [name]: value })
    } catch (e) {
      message = (e as Error).message
    }
    expect(message).toMatch(new RegExp(`^input "${name}": got `))
    expect(message.length).toBeLessThan(400)
  })
})
