/**
 * Plan benchmark: repositories with 1,000, 10,000 and 40,000 changed files (one
 * commit each, made with `git fast-import`), and an empty change for the start-up.
 * For each: the committed plan bundle's wall time and peak memory (Node 24 under
 * /usr/bin/time) next to the raw `git diff --name-status -z -M` it needs, and, when
 * the mirror is here, dorny/paths-filter's committed bundle run the same way.
 * Times are the best of 9 runs (noise on a shared machine only adds), with CPU time
 * (user + system) next to them; each size's runs alternate with runs on the empty
 * change, so its ratio compares with the start-up of the same moments. Workspaces are depth-2 clones (the base is present, so
 * both tools only diff);
 * one more row runs the plan from a depth-1 clone, fetches included.
 * Target at 40,000 files: plan <= 1.5 x git diff + start-up, and faster than paths-filter.
 */
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Bench, BenchRow } from './types.js'
import { checkoutLike, cleanup, fastCommit, makeRepo } from '../../test/support/gitrepo.js'
import { ROOT, node24 } from '../../test/support/harness.js'

const SIZES = [1_000, 10_000, 40_000]
const RUNS = 9
/**
 * A git directory of dorny/paths-filter (its committed bundle is read from HEAD):
 * CONVEYOR_PATHS_FILTER_GIT_DIR, else a mirror beside this repository.
 */
const DORNY_MIRROR =
  process.env.CONVEYOR_PATHS_FILTER_GIT_DIR ??
  join(ROOT, '..', '.mirror', 'dorny+paths-filter', 'repo')

/** One point of the chart the reliability helper draws (bench/plan-time.svg). */
export interface PlanPoint {
  files: number
  planMs: number
  gitMs: number
  dornyMs?: number
  planPeakMb?: number
}

let points: PlanPoint[] = []

/** The chart data of the last bench run. */
export function series(): PlanPoint[] {
  return points
}

const CONFIG = `global: ['protos/**']
defaults: { registry: ghcr.io/acme }
services:
  frontend: { path: services/frontend }
  cart: { path: services/cart, paths: ['libs/money/**'] }
  checkout: { path: services/checkout, paths: ['libs/money/**'] }
  payments: { path: services/payments }
`
const FILTERS = `frontend: ['services/frontend/**']
cart: ['services/cart/**', 'libs/money/**']
checkout: ['services/checkout/**', 'libs/money/**']
payments: ['services/payments/**']
`

interface Measured {
  ms: number
  peakKb: number
  /** User + system CPU time, ms (the machine may be shared: wall time alone misleads). */
  cpuMs: number
  code: number
  stdout: string
}

/** Run a command under /usr/bin/time; wall time measured here, peak RSS from time. */
function timed(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<Measured> {
  const out = join(cwd, '..', `time-${process.hrtime.bigint()}.txt`)
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint()
    const child = spawn('/usr/bin/time', ['-f', '%M %U %S', '-o', out, cmd, ...args], {
      cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let stdout = ''
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()))
    child.stderr.resume()
    child.on('error', reject)
    child.on('close', code => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6
      const last = existsSync(out) ? readFileSync(out, 'utf8').trim().split('\n').pop()! : '0 0 0'
      const [kb, user, sys] = last.split(' ').map(Number)
      rmSync(out, { force: true })
      resolve({ ms, peakKb: kb ?? 0, cpuMs: ((user ?? 0) + (sys ?? 0)) * 1000, code: code ?? -1, stdout })
    })
  })
}

/** The best of several runs: on a shared machine, noise only ever adds time. */
function best(values: number[]): number {
  return Math.min(...values)
}

/** The runner environment for a bundle run on a push from `before` to `after`. */
function runnerEnv(ws: string, tmp: string, before: string, after: string, inputs: Record<string, string>): NodeJS.ProcessEnv {
  const eventPath = join(tmp, 'event.json')
  writeFileSync(
    eventPath,
    JSON.stringify({ ref: 'refs/heads/main', before, after, repository: { default_branch: 'main', full_name: 'acme/shop' } })
  )
  const files = ['output', 'state', 'env', 'summary'].map(f => join(tmp, f))
  for (const f of files) writeFileSync(f, '')
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LANG: 'C.UTF-8',
    CI: 'true',
    GITHUB_ACTIONS: 'true',
    GITHUB_WORKSPACE: ws,
    GITHUB_EVENT_NAME: 'push',
    GITHUB_EVENT_PATH: eventPath,
    GITHUB_SHA: after,
    GITHUB_REF: 'refs/heads/main',
    GITHUB_REPOSITORY: 'acme/shop',
    GITHUB_ACTION: 'plan',
    RUNNER_TEMP: join(tmp, 'runner-temp'),
    GITHUB_OUTPUT: files[0],
    GITHUB_STATE: files[1],
    GITHUB_ENV: files[2],
    GITHUB_STEP_SUMMARY: files[3]
  }
  mkdirSync(env.RUNNER_TEMP!, { recursive: true })
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.toUpperCase()}`] = v
  return env
}

/** dorny/paths-filter's committed bundle, copied out of the mirror (never committed). */
function dornyBundle(dir: string, log: (line: string) => void): string | undefined {
  if (!existsSync(DORNY_MIRROR)) {
    log(`dorny/paths-filter: no mirror at ${DORNY_MIRROR}; skipping its rows`)
    return undefined
  }
  try {
    const js = execFileSync('git', ['--git-dir', DORNY_MIRROR, 'show', 'HEAD:dist/index.js'], {
      maxBuffer: 1 << 28
    })
    const rev = execFileSync('git', ['--git-dir', DORNY_MIRROR, 'rev-parse', '--short', 'HEAD']).toString().trim()
    const out = join(dir, 'paths-filter')
    mkdirSync(out, { recursive: true })
    writeFileSync(join(out, 'index.js'), js)
    log(`dorny/paths-filter: dist/index.js at ${rev}`)
    return join(out, 'index.js')
  } catch (error) {
    log(`dorny/paths-filter: cannot read its bundle (${(error as Error).message.split('\n')[0]}); skipping`)
    return undefined
  }
}

const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`

/** Run the benchmark. */
export const bench: Bench = async log => {
  points = []
  const rows: BenchRow[] = []
  const node = node24()
  const planJs = join(ROOT, 'dist', 'plan', 'index.js')
  try {
    const files: Record<string, string> = { '.github/conveyor.yml': CONFIG, 'protos/shop.proto': 'syntax = "proto3";\n' }
    for (const svc of ['frontend', 'cart', 'checkout', 'payments']) {
      files[`services/${svc}/Dockerfile`] = 'FROM scratch\nCOPY . /app/\n'
      files[`services/${svc}/app.txt`] = `${svc}\n`
    }
    const repo = makeRepo(files)
    repo.push('main')
    const base = repo.sha()
    const dorny = dornyBundle(join(repo.dir, '..'), log)
    /** A workspace of the empty change, and its head. */
    type Reference = { ws: string; after: string }
    const measure = async (
      n: number,
      reference?: Reference
    ): Promise<{
      plan: Measured[]
      /** The plan on the empty change, run in the same iterations (start-up at that time). */
      startup: Measured[]
      git: number[]
      gitCpu: number[]
      dorny: Measured[]
      after: string
      ws: string
    }> => {
      const paths = Array.from({ length: n }, (_, i) => `services/${['cart', 'checkout', 'payments', 'frontend'][i % 4]}/gen/${i % 97}/file ${i}.txt`)
      const t = Date.now()
      const after = fastCommit(repo.origin, 'main', base, paths, p => `${p}\n`, `${n} files`)
      const ws = checkoutLike(repo, after, 'main', { depth: 2, sparse: ['/.github/', '**/Dockerfile'] })
      log(`${n.toLocaleString('en-US')} files: repository and depth-2 workspace in ${s(Date.now() - t)}`)
      const tmp = join(ws, '..')
      const git: number[] = []
      const gitCpu: number[] = []
      const plan: Measured[] = []
      const startup: Measured[] = []
      const dornyRuns: Measured[] = []
      for (let i = 0; i < RUNS; i++) {
        if (reference) {
          const e = await timed(node, [planJs], reference.ws, runnerEnv(reference.ws, join(reference.ws, '..'), base, reference.after, {}))
          if (e.code !== 0) throw new Error(`plan failed on the empty change:\n${e.stdout.slice(-2000)}`)
          startup.push(e)
        }
        const g = await timed('git', ['diff', '--name-status', '-z', '-M', base, after, '--'], ws, { ...process.env, LC_ALL: 'C' })
        if (g.code !== 0) throw new Error(`git diff failed (${g.code})`)
        git.push(g.ms)
        gitCpu.push(g.cpuMs)
        const p = await timed(node, [planJs], ws, runnerEnv(ws, tmp, base, after, {}))
        const outputs = readFileSync(join(tmp, 'output'), 'utf8')
        if (p.code !== 0 || !outputs.includes('count<<')) throw new Error(`plan failed at ${n} files:\n${p.stdout.slice(-2000)}`)
        plan.push(p)
        if (dorny) {
          const d = await timed(
            node,
            [dorny],
            ws,
            runnerEnv(ws, tmp, base, after, { base, ref: after, filters: FILTERS, 'list-files': 'none', 'initial-fetch-depth': '10' })
          )
          if (d.code !== 0) log(`paths-filter exited ${d.code}: ${d.stdout.split('\n').slice(-3).join(' | ')}`)
          else dornyRuns.push(d)
        }
      }
      return { plan, startup, git, gitCpu, dorny: dornyRuns, after, ws }
    }

    const empty = await measure(0)
    const startup = best(empty.plan.map(p => p.ms))
    const startupCpu = best(empty.plan.map(p => p.cpuMs))
    log(`start-up (empty change): plan ${s(startup)}, peak ${Math.round(Math.max(...empty.plan.map(p => p.peakKb)) / 1024)} MB`)
    rows.push({
      scenario: 'plan start-up (empty change)',
      figure: `${s(startup)}, ${Math.round(Math.max(...empty.plan.map(p => p.peakKb)) / 1024)} MB peak, CPU ${s(startupCpu)}`,
      baseline: `git diff ${s(best(empty.git))}`,
      ratio: null,
      target: 'reference for the rows below',
      met: true
    })
    for (const n of SIZES) {
      // Start-up again, interleaved with these runs: the machine's pace drifts.
      const m = await measure(n, { ws: empty.ws, after: empty.after })
      const startupMs = best(m.startup.map(p => p.ms))
      const startupCpuMs = best(m.startup.map(p => p.cpuMs))
      const planMs = best(m.plan.map(p => p.ms))
      const gitMs = best(m.git)
      const peakMb = Math.round(Math.max(...m.plan.map(p => p.peakKb)) / 1024)
      const dornyMs = m.dorny.length > 0 ? best(m.dorny.map(d => d.ms)) : undefined
      // The target's ratio: what the plan adds over its start-up, against git's time.
      const ratio = (planMs - startupMs) / gitMs
      const planCpu = best(m.plan.map(p => p.cpuMs))
      const gitCpu = best(m.gitCpu)
      const nice = n.toLocaleString('en-US')
      log(`${nice} files: plan ${s(planMs)} (${peakMb} MB), git diff ${s(gitMs)}, paths-filter ${dornyMs ? s(dornyMs) : 'n/a'}`)
      log(`  samples: plan ${m.plan.map(p => Math.round(p.ms)).join(" ")} | start-up ${m.startup.map(p => Math.round(p.ms)).join(" ")} | git ${m.git.map(g => Math.round(g)).join(" ")}`)
      points.push({ files: n, planMs, gitMs, planPeakMb: peakMb, ...(dornyMs ? { dornyMs } : {}) })
      const isTarget = n === 40_000
      rows.push({
        scenario: `plan: ${nice} changed files`,
        figure: `${s(planMs)}, ${peakMb} MB peak, CPU ${s(planCpu)}`,
        baseline: `git diff ${s(gitMs)} (CPU ${s(gitCpu)}) + start-up alongside ${s(startupMs)} (CPU ${s(startupCpuMs)})`,
        ratio: Number(ratio.toFixed(2)),
        target: isTarget ? '<= 1.5x git diff after start-up' : 'reported',
        met: isTarget ? planMs <= 1.5 * gitMs + startupMs : true
      })
      if (dornyMs !== undefined) {
        const peak = Math.round(Math.max(...m.dorny.map(d => d.peakKb)) / 1024)
        rows.push({
          scenario: `paths-filter vs plan, ${nice} changed files`,
          figure: `plan ${s(planMs)}`,
          baseline: `dorny/paths-filter ${s(dornyMs)}, ${peak} MB peak`,
          ratio: Number((planMs / dornyMs).toFixed(2)),
          target: isTarget ? 'plan faster (< 1x)' : 'reported',
          met: isTarget ? planMs < dornyMs : true
        })
      } else if (n === 40_000) {
        rows.push({
          scenario: 'paths-filter vs plan, 40,000 changed files',
          figure: 'skipped',
          baseline: 'dorny/paths-filter bundle not available',
          ratio: null,
          target: 'plan faster (< 1x)',
          met: false
        })
      }
      if (isTarget) {
        // The same change from a depth-1 clone: the plan fetches its base itself.
        const ws1 = checkoutLike(repo, m.after, 'main', { sparse: ['/.github/', '**/Dockerfile'] })
        const p = await timed(node, [planJs], ws1, runnerEnv(ws1, join(ws1, '..'), base, m.after, {}))
        if (p.code !== 0) throw new Error(`plan from a depth-1 clone failed:\n${p.stdout.slice(-2000)}`)
        rows.push({
          scenario: 'plan from a depth-1 clone (fetches included), 40,000 changed files',
          figure: `${s(p.ms)}, ${Math.round(p.peakKb / 1024)} MB peak`,
          baseline: `depth-2 workspace ${s(planMs)}`,
          ratio: Number((p.ms / planMs).toFixed(2)),
          target: 'reported',
          met: true
        })
      }
    }
    return rows
  } finally {
    cleanup()
  }
}
