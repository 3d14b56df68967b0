/**
 * Which Argo CD applications an `argocd-sync` run means: exact names, glob
 * patterns (picomatch, `*` within a name), and a label selector. Pure.
 */
import picomatch from 'picomatch'
import { isGlob } from '../core/glob.js'
import type { Application } from './application.js'

/** A parsed label selector requirement. */
export interface Requirement {
  key: string
  op: '=' | '!=' | 'in' | 'notin' | 'exists' | '!exists'
  values: string[]
}

/**
 * Parse a Kubernetes label selector (`a=b,c!=d,e in (x,y),!f,g`). Returns undefined
 * when it does not parse.
 */
export function parseSelector(selector: string): Requirement[] | undefined {
  const out: Requirement[] = []
  const parts: string[] = []
  let depth = 0
  let current = ''
  for (const ch of selector) {
    if (ch === '(') depth++
    if (ch === ')') depth--
    if (ch === ',' && depth === 0) {
      parts.push(current)
      current = ''
    } else current += ch
  }
  parts.push(current)
  const key = '[A-Za-z0-9]([A-Za-z0-9._/-]*[A-Za-z0-9])?'
  for (const raw of parts) {
    const p = raw.trim()
    if (p === '') return undefined
    let m: RegExpExecArray | null
    if ((m = new RegExp(`^(${key})\\s*(==|=|!=)\\s*([A-Za-z0-9._-]*)$`).exec(p))) {
      out.push({ key: m[1]!, op: m[3] === '!=' ? '!=' : '=', values: [m[4]!] })
    } else if ((m = new RegExp(`^(${key})\\s+(in|notin)\\s*\\(([^)]*)\\)$`).exec(p))) {
      const values = m[4]!.split(',').map(v => v.trim())
      out.push({ key: m[1]!, op: m[3] as 'in' | 'notin', values })
    } else if ((m = new RegExp(`^!\\s*(${key})$`).exec(p))) {
      out.push({ key: m[1]!, op: '!exists', values: [] })
    } else if ((m = new RegExp(`^(${key})$`).exec(p))) {
      out.push({ key: m[1]!, op: 'exists', values: [] })
    } else return undefined
  }
  return out
}

/** Whether labels satisfy every requirement. */
export function matchesSelector(
  labels: Record<string, string> | undefined,
  requirements: Requirement[]
): boolean {
  const l = labels ?? {}
  return requirements.every(r => {
    const has = Object.prototype.hasOwnProperty.call(l, r.key)
    const v = l[r.key]
    switch (r.op) {
      case '=':
        return has && v === r.values[0]
      case '!=':
        return !has || v !== r.values[0]
      case 'in':
        return has && r.values.includes(v!)
      case 'notin':
        return !has || !r.values.includes(v!)
      case 'exists':
        return has
      case '!exists':
        return !has
    }
  })
}

/**
 * The names to sync from a listed set of applications: those matching any pattern
 * (all when no pattern is given). Sorted, unique. Also returns the patterns that
 * matched nothing, so the caller can say so.
 */
export function selectApplications(
  apps: readonly Application[],
  patterns: readonly string[]
): { names: string[]; unmatched: string[] } {
  const names = apps.map(a => a.metadata.name)
  if (patterns.length === 0) return { names: [...new Set(names)].sort(), unmatched: [] }
  const chosen = new Set<string>()
  const unmatched: string[] = []
  for (const pattern of patterns) {
    const test = isGlob(pattern) ? picomatch(pattern, { dot: true }) : (n: string) => n === pattern
    const hits = names.filter(n => test(n))
    if (hits.length === 0) unmatched.push(pattern)
    for (const h of hits) chosen.add(h)
  }
  return { names: [...chosen].sort(), unmatched }
}
