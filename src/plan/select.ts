/**
 * Which services a set of changed files selects, and why. Pure: a services config
 * and a list of changes in, the selection with its reasons out.
 */
import { compileGlob, type Glob } from '../core/glob.js'
import { compile, dirVerdict, hit, ruleOf, type Compiled } from './rules.js'
import type { Change } from './diff.js'
import type { Service, ServicesConfig } from '../model/services/config.js'

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

/** The rule of a service that `file` matches, or undefined (ignore wins). */
export function matchRule(service: Service, file: string): string | undefined {
  return ruleOf(compile(service), file)
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
  const selector = new ServiceSelector(config)
  // Both sides of a rename, in git's (sorted) order.
  for (const change of changes) {
    if (change.from !== undefined && change.from !== change.path) selector.add(change.from)
    selector.add(change.path)
  }
  return selector.finish()
}

/**
 * What every file under a directory prefix gets, when that is the same for all of
 * them: a global rule (every service), or per service its rule or none.
 */
type SubtreeVerdict = { global: string } | { global?: undefined; rules: (string | undefined)[] }

/**
 * How a `<dir>/**` glob's directory stands to the files under `prefix`: it covers them
 * all, lies inside (covers some), or is apart (covers none).
 */
function relation(dir: string, prefix: string): 'covers' | 'inside' | 'apart' {
  if (prefix.startsWith(dir)) return 'covers'
  return dir.startsWith(prefix) ? 'inside' : 'apart'
}

/** Every NUL. */
const NUL = /\0/g

/** Runs with fewer records than this are matched path by path, not split further. */
const SMALL_RUN = 16

/**
 * The selection, fed one changed path at a time (while git is still listing them),
 * then `finish()`ed. The same verdicts as `selectServices`.
 *
 * git lists files sorted, so a directory's files come together: what the directory
 * alone decides is worked out once per directory. When no file-name glob can change
 * that verdict, the directory's files are only counted; otherwise each is matched.
 */
export class ServiceSelector {
  private readonly compiled: Compiled[]
  private readonly global: { glob: Glob; rule: string }[]
  private readonly fileGlobal: { glob: Glob; rule: string }[]
  private dirGlobal: string | undefined
  private verdicts: { ignored: boolean; rule?: string }[] = []
  private dockerDirHere: boolean[] = []
  private countable = false
  private lastDir: string | undefined
  /** The first file of the counted run in the current directory, and its length. */
  private runFile = ''
  private run = 0
  private files = 0
  private readonly subtrees = new Map<string, SubtreeVerdict | null>()

  constructor(private readonly config: ServicesConfig) {
    this.compiled = config.services.map(compile)
    this.global = config.global.map(g => ({ glob: compileGlob(g), rule: `global ${g}` }))
    this.fileGlobal = this.global.filter(g => g.glob.dirPrefix === undefined)
  }

  /** One changed path (both sides of a rename are added separately). */
  add(file: string): void {
    this.files++
    const last = this.lastDir
    // Still in the same directory (the common case): no new string.
    if (last === undefined || !file.startsWith(last) || file.indexOf('/', last.length) !== -1) {
      const dir = file.slice(0, file.lastIndexOf('/') + 1)
      this.flush()
      this.lastDir = dir
      this.enter(dir)
    }
    if (!this.countable) this.matchFile(file)
    else if (this.run++ === 0) this.runFile = file
  }

  /**
   * The paths `items[from]`, `items[from + step]`, …: the same as `add` for each, with
   * the common case (one more file of a directory whose files are only counted)
   * decided in this loop.
   */
  addAll(items: readonly string[], from = 0, step = 1): void {
    for (let k = from; k < items.length; k += step) {
      const file = items[k]!
      const last = this.lastDir
      if (
        this.countable &&
        last !== undefined &&
        file.startsWith(last) &&
        file.indexOf('/', last.length) === -1
      ) {
        this.files++
        if (this.run++ === 0) this.runFile = file
      } else this.add(file)
    }
  }

  /**
   * A run of `records` records as `git diff --name-status -z` writes them (status
   * `A`, `D`, `M` or `T`, and a path of at least two characters: `<status>\0<path>\0`
   * each), the same as `add` for each path in order. When all its paths lie under one
   * directory prefix whose verdict is the same for every file below it (counted
   * natively, so git's order does not matter), they are counted at once; otherwise the
   * run is halved, and small runs go path by path.
   */
  addRun(run: string, records: number): void {
    const first = run.slice(2, run.indexOf('\0', 2))
    if (records > 1) {
      const last = run.slice(run.lastIndexOf('\0', run.length - 2) + 1, -1)
      const max = Math.min(first.length, last.length)
      let n = 0
      while (n < max && first.charCodeAt(n) === last.charCodeAt(n)) n++
      const prefix = first.slice(0, first.lastIndexOf('/', n - 1) + 1)
      const verdict = this.subtree(prefix)
      if (verdict && (prefix === '' || run.split(`\0${prefix}`).length - 1 === records)) {
        this.countAll(first, records, verdict)
        return
      }
    } else {
      const verdict = this.subtree(first.slice(0, first.lastIndexOf('/') + 1))
      if (verdict) {
        this.countAll(first, 1, verdict)
        return
      }
    }
    // Halve at a record boundary: the field after a NUL is a status when it is one
    // character long (paths in a run have at least two).
    let cut = records < SMALL_RUN ? -1 : run.indexOf('\0', run.length >> 1)
    while (cut >= 0 && cut < run.length - 1 && run.charCodeAt(cut + 2) !== 0)
      cut = run.indexOf('\0', cut + 1)
    if (cut < 0 || cut >= run.length - 1) {
      this.addAll(run.split('\0'), 1, 2)
      return
    }
    const left = run.slice(0, cut + 1)
    const leftRecords = left.match(NUL)!.length / 2
    this.addRun(left, leftRecords)
    this.addRun(run.slice(cut + 1), records - leftRecords)
  }

  /** The selection of every path added, with `depends-on` applied. */
  finish(): Selection {
    this.flush()
    const { config } = this
    const reasons = new Map<string, Reason[]>()
    for (const c of this.compiled)
      if (c.hits.size > 0) reasons.set(c.service.name, [...c.hits.values()])
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
    return { selected, reasons, files: this.files }
  }

  /** `records` files from `first` on, all under a prefix with this verdict. */
  private countAll(first: string, records: number, verdict: SubtreeVerdict): void {
    this.flush()
    this.lastDir = undefined
    this.files += records
    if (verdict.global !== undefined) {
      for (const c of this.compiled) hit(c, 'global', first, verdict.global, records)
      return
    }
    for (let k = 0; k < this.compiled.length; k++) {
      const rule = verdict.rules[k]
      if (rule !== undefined) hit(this.compiled[k]!, 'file', first, rule, records)
    }
  }

  /**
   * The verdict every file under `prefix` (a directory with its `/`, or '' for the
   * root) gets from the rules `enter` and `matchFile` apply, or null when files there
   * may get different ones. Cached per prefix.
   */
  private subtree(prefix: string): SubtreeVerdict | null {
    let v = this.subtrees.get(prefix)
    if (v === undefined) {
      v = this.judgeSubtree(prefix)
      this.subtrees.set(prefix, v)
    }
    return v
  }

  private judgeSubtree(prefix: string): SubtreeVerdict | null {
    // The first global `<dir>/**` covering a directory wins, before any file glob.
    for (const g of this.global) {
      const dir = g.glob.dirPrefix
      if (dir === undefined) continue
      const r = relation(dir, prefix)
      if (r === 'covers') return { global: g.rule }
      if (r === 'inside') return null
    }
    if (this.fileGlobal.length > 0) return null
    const rules: (string | undefined)[] = []
    for (const c of this.compiled) {
      let ignored = false
      let partly = false
      for (const g of c.ignore) {
        if (g.dirPrefix === undefined) continue
        const r = relation(g.dirPrefix, prefix)
        if (r === 'covers') ignored = true
        else if (r === 'inside') partly = true
      }
      if (ignored) {
        rules.push(undefined)
        continue
      }
      if (partly) return null
      let rule: string | undefined
      if (c.prefix === undefined || prefix.startsWith(c.prefix)) rule = c.pathRule
      else if (c.prefix.startsWith(prefix)) return null
      // The Dockerfile, when under the prefix, has its own rule.
      else if (c.dockerDir.startsWith(prefix)) return null
      else {
        // The first `<dir>/**` of `paths` covering a directory gives its rule.
        for (const p of c.paths) {
          if (p.glob.dirPrefix === undefined) continue
          const r = relation(p.glob.dirPrefix, prefix)
          if (r === 'covers') {
            rule = p.rule
            break
          }
          if (r === 'inside') return null
        }
        if (rule === undefined && c.filePaths.length > 0) return null
      }
      if (rule !== undefined && c.fileIgnore.length > 0) return null
      rules.push(rule)
    }
    return { rules }
  }

  /** Record the counted run of files of the current directory. */
  private flush(): void {
    if (this.run === 0) return
    const n = this.run
    for (let k = 0; k < this.compiled.length; k++) {
      const c = this.compiled[k]!
      const v = this.verdicts[k]!
      if (this.dirGlobal !== undefined) hit(c, 'global', this.runFile, this.dirGlobal, n)
      else if (!v.ignored && v.rule !== undefined) hit(c, 'file', this.runFile, v.rule, n)
    }
    this.run = 0
  }

  private enter(dir: string): void {
    this.dirGlobal = undefined
    for (const g of this.global) {
      if (g.glob.dirPrefix !== undefined && dir.startsWith(g.glob.dirPrefix)) {
        this.dirGlobal = g.rule
        break
      }
    }
    const verdicts = (this.verdicts = this.compiled.map(c => dirVerdict(c, dir)))
    const dockerDirHere = (this.dockerDirHere = this.compiled.map(c => c.dockerDir === dir))
    this.countable =
      this.dirGlobal !== undefined ||
      (this.fileGlobal.length === 0 &&
        this.compiled.every(
          (c, i) =>
            !dockerDirHere[i] &&
            (verdicts[i]!.ignored ||
              (c.fileIgnore.length === 0 &&
                (verdicts[i]!.rule !== undefined || c.filePaths.length === 0)))
        ))
  }

  private matchFile(file: string): void {
    let globalRule = this.dirGlobal
    if (globalRule === undefined) {
      for (const g of this.fileGlobal) {
        if (g.glob.match(file)) {
          globalRule = g.rule
          break
        }
      }
    }
    if (globalRule !== undefined) {
      for (const c of this.compiled) hit(c, 'global', file, globalRule, 1)
      return
    }
    for (let i = 0; i < this.compiled.length; i++) {
      const c = this.compiled[i]!
      const v = this.verdicts[i]!
      if (v.ignored) continue
      let rule: string | undefined
      if (this.dockerDirHere[i]) rule = ruleOf(c, file)
      else {
        let ignored = false
        for (const g of c.fileIgnore) {
          if (g.match(file)) {
            ignored = true
            break
          }
        }
        if (ignored) continue
        rule = v.rule
        if (rule === undefined) {
          for (const p of c.filePaths) {
            if (p.glob.match(file)) {
              rule = p.rule
              break
            }
          }
        }
      }
      if (rule !== undefined) hit(c, 'file', file, rule, 1)
    }
  }
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
