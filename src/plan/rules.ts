/**
 * A service's selection rules, compiled once (its directory, its Dockerfile, its
 * `paths` and `ignore` globs), and what one file or one directory gets from them. Pure.
 */
import { compileGlob, type Glob } from '../core/glob.js'
import type { Service } from '../model/services/config.js'
import type { Reason } from './select.js'

/** A file or global rule that selected a service. */
export type Hit = Reason & { kind: 'file' | 'global' }

/** A service's selection rules, compiled once: rule texts are built here, not per file. */
export interface Compiled {
  service: Service
  /** `<path>/`, or undefined for the repository root (every file). */
  prefix: string | undefined
  pathRule: string
  dockerRule: string
  /** The Dockerfile's directory with a trailing `/`: files there are never memoised. */
  dockerDir: string
  paths: { glob: Glob; rule: string }[]
  /** The `paths` globs whose verdict depends on the file name, not only its directory. */
  filePaths: { glob: Glob; rule: string }[]
  ignore: Glob[]
  fileIgnore: Glob[]
  hits: Map<string, Hit>
}

/** Compile a service's rules. */
export function compile(s: Service): Compiled {
  const root = s.path === '.' || s.path === ''
  const paths = s.paths.map(p => ({ glob: compileGlob(p), rule: `paths ${p}` }))
  const ignore = s.ignore.map(compileGlob)
  const slash = s.dockerfile.lastIndexOf('/')
  return {
    service: s,
    prefix: root ? undefined : `${s.path}/`,
    pathRule: `path ${root ? '(repository root)' : `${s.path}/`}`,
    dockerRule: `dockerfile ${s.dockerfile}`,
    dockerDir: slash < 0 ? '' : s.dockerfile.slice(0, slash + 1),
    paths,
    filePaths: paths.filter(p => p.glob.dirPrefix === undefined),
    ignore,
    fileIgnore: ignore.filter(g => g.dirPrefix === undefined),
    hits: new Map()
  }
}

/** The rule `file` matches for a compiled service, or undefined (ignore wins). */
export function ruleOf(c: Compiled, file: string): string | undefined {
  for (const g of c.ignore) if (g.match(file)) return undefined
  if (c.prefix === undefined || file.startsWith(c.prefix) || file === c.service.path) {
    return c.pathRule
  }
  if (file === c.service.dockerfile) return c.dockerRule
  for (const p of c.paths) if (p.glob.match(file)) return p.rule
  return undefined
}

/**
 * What a directory alone decides for a service (`dir` ends with `/`): ignored, a
 * rule, or nothing yet (file-name globs still to test).
 */
export function dirVerdict(c: Compiled, dir: string): { ignored: boolean; rule?: string } {
  for (const g of c.ignore)
    if (g.dirPrefix !== undefined && dir.startsWith(g.dirPrefix)) return { ignored: true }
  if (c.prefix === undefined || dir.startsWith(c.prefix))
    return { ignored: false, rule: c.pathRule }
  for (const p of c.paths) {
    if (p.glob.dirPrefix !== undefined && dir.startsWith(p.glob.dirPrefix))
      return { ignored: false, rule: p.rule }
  }
  return { ignored: false }
}

/** Count `n` files for a rule that selected the service. */
export function hit(
  c: Compiled,
  kind: 'file' | 'global',
  file: string,
  rule: string,
  n: number
): void {
  const r = c.hits.get(rule)
  if (r) r.files += n
  else c.hits.set(rule, { kind, file, rule, files: n })
}
