/** scripts/bench.ts: parsing plan rows, the hand-drawn chart, the report, and a whole run. */
import { spawnSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import {
  niceStep,
  parseMs,
  planChart,
  pointsFromRows,
  resultsMarkdown
} from '../../../scripts/bench.js'
import type { BenchRow } from '../../../scripts/bench/types.js'

const ROOT = join(import.meta.dirname, '..', '..', '..')
const temps: string[] = []
afterAll(() => {
  for (const t of temps) rmSync(t, { recursive: true, force: true })
})

const row = (scenario: string, figure: string, baseline: string, met = true): BenchRow => ({
  scenario,
  figure,
  baseline,
  ratio: 1.2,
  target: '<= 1.5x',
  met
})

describe('bench aggregator pieces', () => {
  it.each([
    ['1.92 s', 1920],
    ['850ms', 850],
    ['git diff 1.41 s', 1410],
    ['1,250 ms, 180 MB', 1250],
    ['2 min', 120_000],
    ['no time here', undefined]
  ])('parseMs(%j) = %j', (text, ms) => {
    expect(parseMs(text)).toBe(ms)
  })

  it('pointsFromRows reads plan rows only, sorted by files', () => {
    const points = pointsFromRows([
      row('plan: 40,000 changed files', '1.92 s', 'git diff 1.41 s'),
      row('plan: 1000 files', '120 ms', 'git 90 ms'),
      row('build avoidance: 20 services', '3 s', 'rebuild 90 s'),
      row('plan: 5,000 changed files', 'error: boom', ''),
      row('plan: no numbers', 'fast', 'slow')
    ])
    expect(points).toEqual([
      { files: 1000, planMs: 120, gitMs: 90 },
      { files: 40_000, planMs: 1920, gitMs: 1410 }
    ])
  })

  it.each([
    [10, 2],
    [40_000, 10_000],
    [2.5, 0.5],
    [0, 1],
    [7, 2]
  ])('niceStep(%j) = %j', (max, step) => {
    expect(niceStep(max)).toBeCloseTo(step)
  })

  it('planChart draws axes, ticks, labels, two lines and a legend', () => {
    const svg = planChart([
      { files: 1000, planMs: 120, gitMs: 90 },
      { files: 10_000, planMs: 600, gitMs: 450 },
      { files: 40_000, planMs: 2100, gitMs: 1500 }
    ])
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true)
    expect(svg.trim().endsWith('</svg>')).toBe(true)
    expect(svg.match(/<polyline /g)).toHaveLength(2)
    expect(svg.match(/<circle /g)).toHaveLength(6)
    expect(svg).toContain('>changed files</text>')
    expect(svg).toContain('>time (s)</text>')
    expect(svg).toContain('>40,000</text>')
    expect(svg).toContain('>plan</text>')
    expect(svg).toContain('>git diff</text>')
    // every opened element is closed or self-closing
    const opened = (svg.match(/<(svg|text)\b/g) ?? []).length
    const closed = (svg.match(/<\/(svg|text)>/g) ?? []).length
    expect(opened).toBe(closed)
    // coordinates stay inside the canvas
    for (const [, n] of svg.matchAll(/(?:x|y|cx|cy)="(-?[\d.]+)"/g)) {
      expect(Number(n)).toBeGreaterThanOrEqual(0)
      expect(Number(n)).toBeLessThanOrEqual(720)
    }
    expect(planChart([], 'no plan rows')).toContain('no plan measurements (no plan rows)')
  })

  it('resultsMarkdown has the machine, the table and the count of met targets', () => {
    const md = resultsMarkdown(
      [
        row('plan: 1 | 2', '1 s', 'git 1 s'),
        { ...row('x', 'error: y', ''), ratio: null, met: false }
      ],
      { nproc: '2', memory: '8.0 GiB', node: 'v24.0.0' },
      new Date('2026-01-02T03:04:05Z'),
      true
    )
    expect(md).toContain('Run 2026-01-02T03:04:05.000Z by `npm run bench`. 1 of 2 targets met.')
    expect(md).toContain('Machine: nproc 2, memory 8.0 GiB, node v24.0.0.')
    expect(md).toContain('| Scenario | Figure | Baseline | Ratio | Target | Met |')
    expect(md).toContain('| plan: 1 \\| 2 | 1 s | git 1 s | 1.20× | <= 1.5x | yes |')
    expect(md).toContain('| x | error: y | — | — | <= 1.5x | **no** |')
    expect(md).toContain('![plan time against changed files](plan-time.svg)')
  })

  it('shows a ratio of a few percent with three decimals, so that it can be read against a 5% target', () => {
    const md = resultsMarkdown(
      [
        {
          ...row('promote', '0.97 s', 'rebuild 14.56 s'),
          ratio: 0.0667,
          target: '< 5%',
          met: false
        },
        { ...row('floor', '0.68 s', 'rebuild 14.56 s'), ratio: 0.0467, target: 'reported' },
        { ...row('bytes', '0 MB', 'rebuild 34 MB'), ratio: 0, target: 'none' }
      ],
      { nproc: '2' },
      new Date('2026-01-02T03:04:05Z'),
      false
    )
    expect(md).toContain('| promote | 0.97 s | rebuild 14.56 s | 0.067× | < 5% | **no** |')
    expect(md).toContain('| floor | 0.68 s | rebuild 14.56 s | 0.047× | reported | yes |')
    expect(md).toContain('| bytes | 0 MB | rebuild 34 MB | 0.00× | none | yes |')
  })
})

describe('npm run bench (the aggregator end to end)', () => {
  it('runs every module, turns failures into rows, prefers plan.ts series, writes both files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'conveyor-bench-'))
    temps.push(dir)
    const mods = join(dir, 'bench')
    mkdirSync(mods)
    cpSync(join(ROOT, 'scripts', 'bench', 'types.ts'), join(mods, 'types.ts'))
    writeFileSync(
      join(mods, 'plan.ts'),
      `import type { Bench } from './types.js'
export const series = [
  { files: 100, planMs: 20, gitMs: 15 },
  { files: 4000, planMs: 300, gitMs: 250 }
]
export const bench: Bench = async log => {
  log('measuring')
  return [{ scenario: 'plan: 4,000 changed files', figure: '0.30 s', baseline: 'git diff 0.25 s', ratio: 1.2, target: '<= 1.5x', met: true }]
}
`
    )
    writeFileSync(
      join(mods, 'broken.ts'),
      "export const bench = async () => { throw new Error('registry did not start') }\n"
    )
    writeFileSync(join(mods, 'empty.ts'), 'export const nothing = 1\n')
    const out = join(dir, 'out')
    const r = spawnSync(
      process.execPath,
      [join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(ROOT, 'scripts', 'bench.ts')],
      {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, CONVEYOR_BENCH_DIR: mods, CONVEYOR_BENCH_OUT: out }
      }
    )
    expect(r.stdout).toContain('bench: 3 module(s)')
    expect(r.stdout).toContain('  [plan] measuring')
    expect(r.stdout).toContain('bench: broken failed: registry did not start')
    expect(r.status).toBe(1) // two rows missed their target
    const md = readFileSync(join(out, 'results.md'), 'utf8')
    expect(md).toContain('| broken | error: registry did not start | — | — | — | **no** |')
    expect(md).toContain('| empty | error: empty.ts exports no bench function |')
    expect(md).toContain(
      '| plan: 4,000 changed files | 0.30 s | git diff 0.25 s | 1.20× | <= 1.5x | yes |'
    )
    expect(md).toContain('1 of 3 targets met')
    expect(md).toMatch(/Machine: nproc \d+, memory [\d.]+ GiB, node v\d+/)
    const svg = readFileSync(join(out, 'plan-time.svg'), 'utf8')
    expect(svg.match(/<circle /g)).toHaveLength(4) // two series points from `series`, not the one row
    expect(svg).toContain('from scripts/bench/plan.ts series')
  }, 60_000)
})
