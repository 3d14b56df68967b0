/** One row of bench/results.md. */
export interface BenchRow {
  /** What was measured, e.g. "plan: 40,000 changed files". */
  scenario: string
  /** The measured figure, human readable, e.g. "1.92 s, 180 MB". */
  figure: string
  /** The baseline it is compared with, e.g. "git diff 1.41 s". */
  baseline: string
  /** figure / baseline (or null when not a ratio). */
  ratio: number | null
  /** The target, e.g. "<= 1.5x". */
  target: string
  met: boolean
}

/** A benchmark module: scripts/bench/<name>.ts exports `bench`. */
export type Bench = (log: (line: string) => void) => Promise<BenchRow[]>
