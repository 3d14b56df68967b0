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

/**
 * Compile patterns. A pattern without glob syntax matches that file and, like a
 * directory, everything below it; a trailing `/` means the same.
 */
export function globSet(patterns: readonly string[]): GlobSet {
  const matchers = patterns.map(p => {
    const clean = p.replace(/^\.\//, '')
    if (!isGlob(clean)) {
      const dir = clean.replace(/\/+$/, '')
      return (f: string): boolean => f === dir || f.startsWith(`${dir}/`)
    }
    const m = picomatch(clean, { dot: true })
    return (f: string): boolean => m(f)
  })
  return {
    patterns,
    test: file => matchers.some(m => m(file)),
    which: file => {
      for (let i = 0; i < matchers.length; i++) if (matchers[i]!(file)) return patterns[i]
      return undefined
    }
  }
}

/** Whether `file` lies in directory `dir` (repo-relative posix; `.` is the root). */
export function inDir(file: string, dir: string): boolean {
  return dir === '.' || dir === '' || file === dir || file.startsWith(`${dir}/`)
}
