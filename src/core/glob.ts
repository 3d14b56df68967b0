/**
 * Glob matching with GitHub's `paths` semantics (picomatch, `dot: true`: `**` crosses
 * dot directories such as `.github`), plus the directory-prefix test services use.
 */
import picomatch from 'picomatch'

/** A compiled list of globs: `test(file)` is true when any pattern matches. */
export interface GlobSet {
  patterns: readonly string[]
  test(file: string): boolean
  /** The first pattern that matches `file`, or undefined. */
  which(file: string): string | undefined
}

/** Whether a pattern holds glob syntax (otherwise it names one file or directory). */
export function isGlob(pattern: string): boolean {
  return picomatch.scan(pattern).isGlob
}

/** One compiled pattern. */
export interface Glob {
  pattern: string
  /** Whether `file` matches. */
  match(file: string): boolean
  /**
   * For `<literal dir>/**` patterns, whose verdict depends only on a file's directory:
   * the directory prefix (with a trailing `/`) every matching file starts with.
   */
  dirPrefix?: string
}

/**
 * Compile one pattern. A pattern without glob syntax matches that file and, like a
 * directory, everything below it; a trailing `/` means the same. A glob's literal
 * directory prefix is checked with `startsWith` before its regular expression runs,
 * so most files cost one string comparison.
 */
export function compileGlob(pattern: string): Glob {
  const clean = pattern.replace(/^\.\//, '')
  if (!isGlob(clean)) {
    const dir = clean.replace(/\/+$/, '')
    const prefix = `${dir}/`
    return { pattern, match: f => f === dir || f.startsWith(prefix) }
  }
  const scan = picomatch.scan(clean)
  const base = scan.base
  const prefix = `${base}/`
  if (!scan.negated && base !== '' && base !== '.' && clean === `${base}/**`) {
    return { pattern, match: f => f.startsWith(prefix) || f === base, dirPrefix: prefix }
  }
  const m = picomatch(clean, { dot: true })
  if (scan.negated || base === '' || base === '.') return { pattern, match: f => m(f) }
  return { pattern, match: f => f.startsWith(prefix) && m(f) }
}

/** Compile patterns: `test(file)` is true when any matches. */
export function globSet(patterns: readonly string[]): GlobSet {
  const globs = patterns.map(compileGlob)
  return {
    patterns,
    test: file => {
      for (const g of globs) if (g.match(file)) return true
      return false
    },
    which: file => {
      for (const g of globs) if (g.match(file)) return g.pattern
      return undefined
    }
  }
}

/** Whether `file` lies in directory `dir` (repo-relative posix; `.` is the root). */
export function inDir(file: string, dir: string): boolean {
  return dir === '.' || dir === '' || file === dir || file.startsWith(`${dir}/`)
}
