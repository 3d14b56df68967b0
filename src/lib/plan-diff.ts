/**
 * The changed files between two commits, from `git diff --name-status -z -M`: NUL
 * separated, so names with spaces, quotes, newlines, non-ASCII or a leading `-` come
 * through byte for byte.
 */

/** One changed file. */
export interface Change {
  /** A, M, D, R, C, T, U or X. */
  status: string
  /** The path at the head (for a deletion: the deleted path). */
  path: string
  /** The path at the base, for renames and copies. */
  from?: string
  /** Rename/copy similarity in percent. */
  score?: number
}

/** Parse `git diff --name-status -z` output. Pure. */
export function parseNameStatus(out: string): Change[] {
  // Every field ends with NUL: drop the last one, so a missing field is undefined.
  const parts = (out.endsWith('\0') ? out.slice(0, -1) : out).split('\0')
  const changes: Change[] = []
  let i = 0
  while (i < parts.length) {
    const head = parts[i]!
    if (head === '') {
      i++
      continue
    }
    const status = head[0]!
    if (status === 'R' || status === 'C') {
      const from = parts[i + 1]
      const to = parts[i + 2]
      if (from === undefined || to === undefined)
        throw new Error(`truncated git diff output at ${JSON.stringify(head)}`)
      const score = Number(head.slice(1))
      changes.push({
        status,
        path: to,
        from,
        ...(Number.isFinite(score) && head.length > 1 ? { score } : {})
      })
      i += 3
    } else {
      const path = parts[i + 1]
      if (path === undefined)
        throw new Error(`truncated git diff output at ${JSON.stringify(head)}`)
      changes.push({ status, path })
      i += 2
    }
  }
  return changes
}

/** Every path a change touches: both sides of a rename. */
export function touchedPaths(change: Change): string[] {
  return change.from !== undefined && change.from !== change.path
    ? [change.from, change.path]
    : [change.path]
}

/** The git arguments of the diff a plan needs. */
export function diffArgs(base: string, head: string): string[] {
  return [
    '-c',
    'core.quotePath=false',
    'diff',
    '--name-status',
    '-z',
    '-M',
    '--no-ext-diff',
    '--no-textconv',
    '--ignore-submodules=none',
    base,
    head,
    '--'
  ]
}
