/**
 * "Did you mean ...?" for a mistyped name: the edit distance of two short strings and
 * the closest candidate when it is close enough to be a likely typo. Pure.
 */

/** Past this length a word is no typo of a short name: no quadratic work on a huge word. */
const LONGEST = 120

/** Edit distance with adjacent transpositions (optimal string alignment); small strings. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0))
  )
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        v = Math.min(v, d[i - 2]![j - 2]! + 1)
      }
      d[i]![j] = v
    }
  }
  return d[a.length]![b.length]!
}

/** The closest candidate to `word`, when it is close enough to be a likely typo. */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  if (word.length > LONGEST) return undefined
  const norm = (s: string): string => s.toLowerCase().replace(/[-_]/g, '')
  let best: string | undefined
  let bestD = Infinity
  for (const c of candidates) {
    const d = norm(word) === norm(c) ? 0 : editDistance(word.toLowerCase(), c.toLowerCase())
    if (d < bestD) {
      bestD = d
      best = c
    }
  }
  const limit = Math.max(1, Math.floor(word.length / 3))
  return best !== undefined && bestD <= limit && bestD < word.length ? best : undefined
}

/** ` (did you mean "<name>"?)` for the closest candidate, or '' when none is close. */
export function didYouMeanHint(word: string, candidates: readonly string[]): string {
  const hint = didYouMean(word, candidates)
  return hint ? ` (did you mean "${hint}"?)` : ''
}
