/**
 * What a Helm values edit can be checked against: the chart beside (or above) the
 * values file, when the config repository holds one. Its templates must use every key
 * the deploy wrote (`.Values.<key>`, `index .Values "a" "b"`, a parent key passed
 * whole, or the key of a vendored subchart), else the new value renders nowhere. With
 * `helm` on PATH, `helm template` renders the chart before and after. Pure but for
 * the FileSource reads.
 */
import { writeFileSync } from 'node:fs'
import { join, posix } from 'node:path'
import type { EditPlan } from './edit.js'
import type { ImageUpdate } from './updates.js'
import {
  describeDifference,
  diffResources,
  imagesOf,
  judge,
  parseRender
} from './render-compare.js'
import { exec, lastLines } from '../../core/exec.js'
import type { FileSource } from './kustomize/resolve.js'
import type { Logger } from '../../core/logger.js'
import { editDistance } from '../../core/did-you-mean.js'

/** The chart directory (repository-relative) nearest above `valuesFile`, or undefined. */
export function findChart(files: FileSource, valuesFile: string): string | undefined {
  let dir = posix.dirname(valuesFile)
  for (;;) {
    if (files.read(dir === '.' ? 'Chart.yaml' : `${dir}/Chart.yaml`) !== undefined) return dir
    if (dir === '.') return undefined
    dir = posix.dirname(dir)
  }
}

/** Sparse-checkout paths that may hold the chart of `valuesFile` (every ancestor). */
export function chartCandidates(valuesFile: string): string[] {
  const out: string[] = []
  let dir = posix.dirname(valuesFile)
  for (;;) {
    const at = (f: string): string => (dir === '.' ? f : `${dir}/${f}`)
    out.push(at('Chart.yaml'), at('templates'), at('charts'))
    if (dir === '.') return out
    dir = posix.dirname(dir)
  }
}

/** Every file under `dir` (recursively), through a lister. */
export type Lister = (dir: string) => string[]

const VALUES_REF = /\.Values((?:\.[A-Za-z_][A-Za-z0-9_-]*)+)/g
const INDEX_REF = /index\s+\$?\.Values((?:\s+"[^"]+")+)/g

/** The `.Values` paths template text refers to (dotted, without `.Values.`). */
export function valuesPaths(text: string): string[] {
  const out = new Set<string>()
  for (const m of text.matchAll(VALUES_REF)) out.add(m[1]!.slice(1))
  for (const m of text.matchAll(INDEX_REF)) {
    out.add([...m[1]!.matchAll(/"([^"]+)"/g)].map(x => x[1]).join('.'))
  }
  return [...out]
}

/** Whether templates that refer to `used` paths use the dotted `key`. */
export function keyUsed(key: string, used: readonly string[]): boolean {
  // The key itself or a field of it, or a parent passed whole (with, toYaml, include).
  return used.some(u => u === key || u.startsWith(`${key}.`) || key.startsWith(`${u}.`))
}

/** The `.Values` paths a chart's templates use, with a vendored subchart's under its name. */
export function chartValuesPaths(files: FileSource, list: Lister, chart: string): string[] {
  const at = (p: string): string => (chart === '.' ? p : `${chart}/${p}`)
  const used = new Set<string>()
  for (const f of list(at('templates'))) {
    for (const p of valuesPaths(files.read(f) ?? '')) used.add(p)
  }
  for (const sub of list(at('charts'))) {
    const m = new RegExp(
      `^${at('charts').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/([^/]+)/templates/`
    ).exec(sub)
    if (!m) continue
    for (const p of valuesPaths(files.read(sub) ?? '')) {
      used.add(`${m[1]}.${p}`)
      if (p.startsWith('global.')) used.add(p)
    }
  }
  return [...used].sort()
}

/** The message for keys a chart's templates never use; '' when all are used. */
export function unusedKeysMessage(
  label: string,
  chart: string,
  keys: readonly string[],
  used: readonly string[]
): string {
  const unused = keys.filter(k => !keyUsed(k, used))
  if (unused.length === 0) return ''
  const key = unused[0]!
  const close = [...used].sort((a, b) => editDistance(key, a) - editDistance(key, b))
  const hint = close[0] !== undefined && editDistance(key, close[0]) <= Math.max(2, key.length / 3)
  const shown = close.slice(0, 12).map(u => `.Values.${u}`)
  return `target ${label}: the chart in ${chart} never uses ${unused.map(k => `.Values.${k}`).join(', ')} in its templates, so the deployed value would render nowhere.${hint ? ` Did you mean "${close[0]}"?` : ''} Its templates use: ${shown.length > 0 ? shown.join(', ') : 'no .Values at all'}${close.length > 12 ? ` and ${close.length - 12} more` : ''}.`
}

/**
 * Whether a rendered image `value` shows what a Helm target `key` was given from
 * `update`: the tag, the repository, the digest, or the whole reference.
 */
export function helmShows(key: string, update: ImageUpdate, value: string): boolean {
  const last = key.split('.').pop()!.toLowerCase()
  const p = update.parsed
  if (last.endsWith('tag')) return p.tag !== undefined && value.includes(`:${p.tag}`)
  if (last.endsWith('repository')) return value.startsWith(p.name)
  if (last.endsWith('digest')) return p.digest !== undefined && value.includes(`@${p.digest}`)
  return (
    value.startsWith(p.name) &&
    (p.tag === undefined || value.includes(`:${p.tag}`)) &&
    (p.digest === undefined || value.includes(`@${p.digest}`))
  )
}

/** What checkHelm needs from the render check. */
export interface HelmCheckOptions {
  files: FileSource
  list: Lister
  /** A target path (relative to the targets' directory) as a repository path. */
  rel: (path: string) => string
  within: string
  mode: 'auto' | 'required'
  /** `helm` on PATH, when there. */
  helm: string | undefined
  log: Logger
  env?: NodeJS.ProcessEnv
}

async function helmTemplate(
  o: HelmCheckOptions,
  chart: string,
  values: string
): Promise<{ ok: true; resources: unknown[] } | { ok: false; why: string }> {
  const r = await exec(
    o.helm!,
    ['template', 'conveyor-verify', join(o.within, chart), '--values', values],
    {
      cwd: o.within,
      env: o.env,
      allowFailure: true,
      timeoutMs: 120_000,
      maxOutputBytes: 64 * 1024 * 1024
    }
  ).catch((error: Error) => ({
    code: -1,
    stderr: error.message,
    stdout: '',
    timedOut: false,
    truncated: false
  }))
  if (r.code !== 0 || r.timedOut || r.truncated) {
    return { ok: false, why: lastLines(r.stderr, 2).replace(/\s+/g, ' ') || 'it failed' }
  }
  return { ok: true, resources: parseRender(r.stdout) }
}

/**
 * Check every Helm target the plan edited: the chart's templates use the keys
 * written, and with helm on PATH, `helm template` before and after differ only in
 * images that show the deployed value. Returns the problems found.
 */
export async function checkHelm(
  plan: EditPlan,
  updates: readonly ImageUpdate[],
  o: HelmCheckOptions
): Promise<string[]> {
  const out: string[] = []
  for (const [where, keys] of plan.helmKeys) {
    const file = where.slice(0, where.lastIndexOf(':'))
    const key = where.slice(where.lastIndexOf(':') + 1)
    const label = `helm:${file}:${key}`
    const chart = findChart(o.files, o.rel(file))
    if (chart === undefined) {
      o.log.info(
        `verify-render: ${label}: no Chart.yaml beside or above ${file}; only the key was checked`
      )
      continue
    }
    const message = unusedKeysMessage(label, chart, keys, chartValuesPaths(o.files, o.list, chart))
    if (message) {
      out.push(message)
      continue
    }
    o.log.info(
      `verify-render: ${label}: the chart in ${chart} uses ${keys.map(k => `.Values.${k}`).join(', ')}`
    )
    const before = plan.originals.get(file)
    if (!o.helm) {
      if (o.mode === 'required') out.push(`${label}: helm is not on PATH (verify-render: required)`)
      continue
    }
    if (before === undefined) continue
    const saved = join(o.within, '.git', 'conveyor-verify-values.yaml')
    writeFileSync(saved, before)
    const a = await helmTemplate(o, chart, saved)
    if (!a.ok) {
      if (o.mode === 'required')
        out.push(`${label}: helm template fails on the chart as it is on the branch: ${a.why}`)
      else
        o.log.warning(
          `${label}: helm template fails on the chart as it is on the branch (${a.why}); only the templates' use of the key was checked`
        )
      continue
    }
    const b = await helmTemplate(o, chart, join(o.within, o.rel(file)))
    if (!b.ok) {
      out.push(`${label}: after the edit, helm template fails: ${b.why}`)
      continue
    }
    const placed = updates.filter(u =>
      (plan.placed.get(u.service) ?? []).some(
        t => t.kind === 'helm' && t.file === file && t.key === key
      )
    )
    const verdict = judge(
      diffResources(a.resources, b.resources),
      imagesOf(b.resources),
      placed,
      (u, v) => helmShows(key, u, v)
    )
    for (const u of verdict.missing)
      out.push(
        `${u.service}: after the edit, helm template of ${chart} renders no image with ${u.ref}'s ${key.split('.').pop()}`
      )
    if (verdict.unexpected.length > 0) {
      out.push(
        `${label}: the edit changes more than images in what helm template renders: ${verdict.unexpected.slice(0, 5).map(describeDifference).join('; ')}`
      )
    }
  }
  return out
}
