/**
 * `npm run bench`: runs every scripts/bench/<name>.ts (each exports `bench: Bench`) one
 * after another and writes bench/results.md (scenario, figure, baseline, ratio, target,
 * met; with the date and the machine) and bench/plan-time.svg (plan time against the
 * number of changed files, next to the raw git time).
 *
 * A module that throws (or exports no `bench`) becomes a row "error: <message>" with
 * met = false; the report is written regardless. Exit code 1 when any target is missed.
 *
 * Environment (for trying the aggregator out): CONVEYOR_BENCH_DIR (modules, default
 * scripts/bench), CONVEYOR_BENCH_OUT (output directory, default bench/),
 * CONVEYOR_BENCH_TIMEOUT_MS (per module, default 10 minutes).
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { Bench, BenchRow } from './bench/types.js'

/** One point of the plan chart. */
export interface PlanPoint {
  /** Number of changed files. */
  files: number
  /** Time the plan took, ms. */
  planMs: number
  /** Time the raw `git diff` took, ms. */
  gitMs: number
}

const ROOT = resolve(import.meta.dirname, '..')
const DIR = resolve(process.env.CONVEYOR_BENCH_DIR ?? join(ROOT, 'scripts', 'bench'))
const OUT = resolve(process.env.CONVEYOR_BENCH_OUT ?? join(ROOT, 'bench'))
const TIMEOUT_MS = Number(process.env.CONVEYOR_BENCH_TIMEOUT_MS ?? 10 * 60_000)

function log(line: string): void {
  console.log(line)
}

function errorRow(name: string, message: string): BenchRow {
  return {
    scenario: name,
    figure: `error: ${message.split('\n')[0]}`,
    baseline: '',
    ratio: null,
    target: '',
    met: false
  }
}

function isRow(value: unknown): value is BenchRow {
  const r = value as BenchRow
  return (
    typeof r === 'object' &&
    r !== null &&
    typeof r.scenario === 'string' &&
    typeof r.figure === 'string' &&
    typeof r.met === 'boolean'
  )
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${Math.round(ms / 1000)}s`)), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** Parse the first duration in a text ("1.92 s", "850ms", "git diff 1.41 s") to ms. */
export function parseMs(text: string): number | undefined {
  const m = /(\d[\d,]*(?:\.\d+)?)\s*(ms|s|min)\b/.exec(text)
  if (!m) return undefined
  const n = Number(m[1]!.replace(/,/g, ''))
  return m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000
}

/** Chart points from `plan:` rows: files from the scenario, plan time, git time. */
export function pointsFromRows(rows: BenchRow[]): PlanPoint[] {
  const points: PlanPoint[] = []
  for (const row of rows) {
    if (!row.scenario.startsWith('plan:') || row.figure.startsWith('error:')) continue
    const files = /(\d[\d,]*)\s*(?:changed\s+)?files?/.exec(row.scenario)
    const planMs = parseMs(row.figure)
    const gitMs = parseMs(row.baseline)
    if (!files || planMs === undefined || gitMs === undefined) continue
    points.push({ files: Number(files[1]!.replace(/,/g, '')), planMs, gitMs })
  }
  return points.sort((a, b) => a.files - b.files)
}

function validPoints(value: unknown): PlanPoint[] | undefined {
  if (!Array.isArray(value)) return undefined
  const ok = value.filter(
    (p: PlanPoint) =>
      typeof p === 'object' &&
      p !== null &&
      Number.isFinite(p.files) &&
      Number.isFinite(p.planMs) &&
      Number.isFinite(p.gitMs)
  ) as PlanPoint[]
  return ok.length > 0 ? [...ok].sort((a, b) => a.files - b.files) : undefined
}

/** 1, 2 or 5 times a power of ten, so that about `count` steps cover `max`. */
export function niceStep(max: number, count = 5): number {
  if (!(max > 0)) return 1
  const raw = max / count
  const power = 10 ** Math.floor(Math.log10(raw))
  const f = raw / power
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * power
}

const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

function formatFiles(n: number): string {
  return n.toLocaleString('en-US')
}

/** The plan-time chart as SVG text, drawn by hand. */
export function planChart(points: PlanPoint[], note = ''): string {
  const W = 720
  const H = 420
  const m = { left: 72, right: 24, top: 48, bottom: 64 }
  const pw = W - m.left - m.right
  const ph = H - m.top - m.bottom
  const parts: string[] = []
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="15" font-weight="600" fill="#111">plan time vs. changed files</text>`
  )
  if (points.length === 0) {
    parts.push(
      `<text x="${W / 2}" y="${H / 2}" text-anchor="middle" fill="#666">no plan measurements${note ? ` (${esc(note)})` : ''}</text>`,
      '</svg>'
    )
    return parts.join('\n') + '\n'
  }
  const maxX = Math.max(...points.map(p => p.files))
  const maxMs = Math.max(...points.flatMap(p => [p.planMs, p.gitMs]))
  const inSeconds = maxMs >= 2000
  const unit = inSeconds ? 's' : 'ms'
  const toUnit = (ms: number): number => (inSeconds ? ms / 1000 : ms)
  const xStep = niceStep(maxX)
  const yStep = niceStep(toUnit(maxMs))
  const xMax = Math.max(xStep, Math.ceil(maxX / xStep) * xStep)
  const yMax = Math.max(yStep, Math.ceil(toUnit(maxMs) / yStep) * yStep)
  const x = (files: number): number => m.left + (files / xMax) * pw
  const y = (ms: number): number => m.top + ph - (toUnit(ms) / yMax) * ph
  const r = (n: number): string => n.toFixed(1)
  const decimals = yStep < 1 ? Math.ceil(-Math.log10(yStep)) : 0

  // grid and ticks
  for (let v = 0; v <= xMax + xStep / 2; v += xStep) {
    const px = r(m.left + (v / xMax) * pw)
    parts.push(
      `<line x1="${px}" y1="${m.top}" x2="${px}" y2="${m.top + ph}" stroke="#eee"/>`,
      `<line x1="${px}" y1="${m.top + ph}" x2="${px}" y2="${m.top + ph + 5}" stroke="#333"/>`,
      `<text x="${px}" y="${m.top + ph + 19}" text-anchor="middle" fill="#333">${formatFiles(v)}</text>`
    )
  }
  for (let v = 0; v <= yMax + yStep / 2; v += yStep) {
    const py = r(m.top + ph - (v / yMax) * ph)
    parts.push(
      `<line x1="${m.left}" y1="${py}" x2="${m.left + pw}" y2="${py}" stroke="#eee"/>`,
      `<line x1="${m.left - 5}" y1="${py}" x2="${m.left}" y2="${py}" stroke="#333"/>`,
      `<text x="${m.left - 8}" y="${py}" text-anchor="end" dominant-baseline="middle" fill="#333">${v.toFixed(decimals)}</text>`
    )
  }
  // axes and labels
  parts.push(
    `<line x1="${m.left}" y1="${m.top + ph}" x2="${m.left + pw}" y2="${m.top + ph}" stroke="#333"/>`,
    `<line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${m.top + ph}" stroke="#333"/>`,
    `<text x="${m.left + pw / 2}" y="${H - 18}" text-anchor="middle" fill="#111">changed files</text>`,
    `<text x="18" y="${m.top + ph / 2}" text-anchor="middle" fill="#111" transform="rotate(-90 18 ${m.top + ph / 2})">time (${unit})</text>`
  )
  // the two lines
  const series: [string, string, (p: PlanPoint) => number, string][] = [
    ['plan', '#1f6feb', p => p.planMs, ''],
    ['git diff', '#d1242f', p => p.gitMs, ' stroke-dasharray="6 4"']
  ]
  for (const [, color, value, dash] of series) {
    const pts = points.map(p => `${r(x(p.files))},${r(y(value(p)))}`).join(' ')
    parts.push(`<polyline points="${pts}" fill="none" stroke="${color}" stroke-width="2"${dash}/>`)
    for (const p of points) {
      parts.push(`<circle cx="${r(x(p.files))}" cy="${r(y(value(p)))}" r="3.5" fill="${color}"/>`)
    }
  }
  // legend
  const lx = m.left + 16
  const ly = m.top + 10
  parts.push(
    `<rect x="${lx - 8}" y="${ly - 12}" width="150" height="${series.length * 20 + 8}" fill="#fff" stroke="#ccc"/>`
  )
  series.forEach(([label, color, , dash], i) => {
    const yy = ly + i * 20
    parts.push(
      `<line x1="${lx}" y1="${yy}" x2="${lx + 28}" y2="${yy}" stroke="${color}" stroke-width="2"${dash}/>`,
      `<text x="${lx + 36}" y="${yy}" dominant-baseline="middle" fill="#111">${esc(label)}</text>`
    )
  })
  if (note) {
    parts.push(
      `<text x="${W - m.right}" y="${H - 4}" text-anchor="end" font-size="10" fill="#666">${esc(note)}</text>`
    )
  }
  parts.push('</svg>')
  return parts.join('\n') + '\n'
}

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ')

/** bench/results.md. */
export function resultsMarkdown(
  rows: BenchRow[],
  machine: Record<string, string>,
  when: Date,
  chart: boolean
): string {
  const met = rows.filter(r => r.met).length
  const lines = [
    '# Benchmark results',
    '',
    `Run ${when.toISOString()} by \`npm run bench\`. ${met} of ${rows.length} targets met.`,
    '',
    `Machine: ${Object.entries(machine)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}.`,
    '',
    '| Scenario | Figure | Baseline | Ratio | Target | Met |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      r =>
        `| ${cell(r.scenario)} | ${cell(r.figure)} | ${cell(r.baseline || '—')} | ${
          r.ratio === null || !Number.isFinite(r.ratio) ? '—' : ratioText(r.ratio)
        } | ${cell(r.target || '—')} | ${r.met ? 'yes' : '**no**'} |`
    )
  ]
  if (chart) lines.push('', '![plan time against changed files](plan-time.svg)')
  return lines.join('\n') + '\n'
}

/** A ratio with enough digits to compare it with a target of a few percent. */
function ratioText(ratio: number): string {
  return `${ratio.toFixed(ratio !== 0 && Math.abs(ratio) < 0.1 ? 3 : 2)}×`
}

function machine(): Record<string, string> {
  const cpus = os.cpus()
  return {
    nproc: String(os.availableParallelism?.() ?? cpus.length),
    memory: `${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    cpu: cpus[0]?.model.trim() ?? 'unknown'
  }
}

async function main(): Promise<number> {
  const modules = readdirSync(DIR)
    .filter(f => f.endsWith('.ts') && f !== 'types.ts' && !f.endsWith('.d.ts'))
    .sort()
  log(`bench: ${modules.length} module(s) in ${DIR}: ${modules.join(', ') || '(none)'}`)
  const rows: BenchRow[] = []
  let series: PlanPoint[] | undefined
  for (const file of modules) {
    const name = file.replace(/\.ts$/, '')
    const started = Date.now()
    log(`bench: ${name} …`)
    try {
      const mod = (await import(pathToFileURL(join(DIR, file)).href)) as {
        bench?: Bench
        series?: unknown
      }
      if (typeof mod.bench !== 'function') throw new Error(`${file} exports no bench function`)
      const result = await withTimeout(
        mod.bench(line => log(`  [${name}] ${line}`)),
        TIMEOUT_MS
      )
      if (!Array.isArray(result)) throw new Error('bench() did not return an array of rows')
      for (const row of result) {
        rows.push(isRow(row) ? row : errorRow(name, `malformed row ${JSON.stringify(row)}`))
      }
      if (name === 'plan') {
        const s =
          typeof mod.series === 'function' ? await (mod.series as () => unknown)() : mod.series
        series = validPoints(s) ?? series
      }
      log(
        `bench: ${name} done in ${((Date.now() - started) / 1000).toFixed(1)}s (${result.length} row(s))`
      )
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      log(`bench: ${name} failed: ${message}`)
      rows.push(errorRow(name, message))
    }
  }
  mkdirSync(OUT, { recursive: true })
  const points = series ?? pointsFromRows(rows)
  const note = series
    ? 'from scripts/bench/plan.ts series'
    : points.length > 0
      ? 'from plan: rows'
      : 'no plan rows'
  writeFileSync(join(OUT, 'plan-time.svg'), planChart(points, note))
  writeFileSync(join(OUT, 'results.md'), resultsMarkdown(rows, machine(), new Date(), true))
  const missed = rows.filter(r => !r.met).length
  log(`bench: wrote ${join(OUT, 'results.md')} and ${join(OUT, 'plan-time.svg')}`)
  log(`bench: ${rows.length - missed} of ${rows.length} targets met`)
  return missed > 0 ? 1 : 0
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  main().then(
    code => {
      process.exitCode = code
    },
    error => {
      console.error(`bench: ${error instanceof Error ? error.stack : String(error)}`)
      process.exitCode = 1
    }
  )
}
