/**
 * Which services a set of changed files selects, and why. Pure: a services config
 * and a list of changes in, the selection with its reasons out.
 */
import { globSet, inDir, type GlobSet } from './glob.js'
import { touchedPaths, type Change } from './plan-diff.js'
import type { Service, ServicesConfig } from './services.js'

/** Why a service was selected. */
export type Reason =
  | { kind: 'all'; why: string }
  | { kind: 'global'; file: string; rule: string; files: number }
  | { kind: 'file'; file: string; rule: string; files: number }
  | { kind: 'dependency'; on: string; via: string[] }

/** The selection. */
export interface Selection {
  /** Selected service names, in services-file order. */
  selected: string[]
  reasons: Map<string, Reason[]>
  /** How many changed paths were looked at. */
  files: number
}

interface Compiled {
  service: Service
  paths: GlobSet
  ignore: GlobSet
}

function compile(s: Service): Compiled {
  return { service: s, paths: globSet(s.paths), ignore: globSet(s.ignore) }
}

/** The rule of a service that `file` matches, or undefined (ignore wins). */
export function matchRule(c: Compiled | Service, file: string): string | undefined {
  const comp = 'service' in c ? c : compile(c)
  const s = comp.service
  if (comp.ignore.test(file)) return undefined
  if (inDir(file, s.path)) return `path ${s.path === '.' ? '(repository root)' : `${s.path}/`}`
  if (file === s.dockerfile) return `dockerfile ${s.dockerfile}`
  const g = comp.paths.which(file)
  if (g !== undefined) return `paths ${g}`
  return undefined
}

/** Every service selected: for a plan with no base. */
export function selectAll(config: ServicesConfig, why: string): Selection {
  const reasons = new Map<string, Reason[]>()
  for (const s of config.services) reasons.set(s.name, [{ kind: 'all', why }])
  return { selected: config.services.map(s => s.name), reasons, files: 0 }
}

/**
 * Select services by the changed files: `global` globs select all, a service's own
 * directory, Dockerfile and `paths` select it unless `ignore` matches; then
 * `depends-on`, transitively.
 */
export function selectServices(config: ServicesConfig, changes: readonly Change[]): Selection {
  const compiled = config.services.map(compile)
  const global = globSet(config.global)
  const reasons = new Map<string, Reason[]>()
  const byRule = new Map<string, Map<string, Reason & { kind: 'file' | 'global' }>>()
  const add = (name: string, kind: 'file' | 'global', file: string, rule: string): void => {
    let rules = byRule.get(name)
    if (!rules) byRule.set(name, (rules = new Map()))
    const key = `${kind}\0${rule}`
    const r = rules.get(key)
    if (r) r.files++
    else rules.set(key, { kind, file, rule, files: 1 })
  }
  let files = 0
  for (const change of changes) {
    for (const file of touchedPaths(change)) {
      files++
      const g = global.which(file)
      if (g !== undefined) {
        for (const c of compiled) add(c.service.name, 'global', file, `global ${g}`)
        continue
      }
      for (const c of compiled) {
        const rule = matchRule(c, file)
        if (rule !== undefined) add(c.service.name, 'file', file, rule)
      }
    }
  }
  for (const [name, rules] of byRule) reasons.set(name, [...rules.values()])
  // depends-on, transitively: a service is selected when anything it depends on is.
  const dependents = new Map<string, string[]>()
  for (const s of config.services) {
    for (const d of s.dependsOn) dependents.set(d, [...(dependents.get(d) ?? []), s.name])
  }
  const queue = [...reasons.keys()].map(n => ({ name: n, via: [] as string[] }))
  while (queue.length > 0) {
    const { name, via } = queue.shift()!
    for (const dep of dependents.get(name) ?? []) {
      if (reasons.has(dep)) continue
      const chain = [...via, name]
      reasons.set(dep, [{ kind: 'dependency', on: name, via: chain }])
      queue.push({ name: dep, via: chain })
    }
  }
  const selected = config.services.map(s => s.name).filter(n => reasons.has(n))
  return { selected, reasons, files }
}

/** One short line for a reason (matrix entries and logs). */
export function reasonText(r: Reason, max = 120): string {
  let text: string
  switch (r.kind) {
    case 'all':
      text = r.why
      break
    case 'dependency':
      text = `depends on ${r.on}${r.via.length > 1 ? ` (chain ${r.via.join(' -> ')})` : ''}`
      break
    default:
      text = `${r.rule}: ${JSON.stringify(r.file)}${r.files > 1 ? ` (+${r.files - 1} more)` : ''}`
  }
  return text.length > max ? `${text.slice(0, max - 1)}…` : text
}
