/**
 * Reference data from public repositories that tests judge our output by (the official
 * SPDX 2.3 JSON schema, a real Alpine apk database) but that this repository does not
 * commit: it reaches the machines through the workplace's shared reference folder. Looked
 * up in $CONVEYOR_REFERENCE_DIR, then `../shared/reference/supply-chain` beside the
 * checkout (where CI lays shared/). A test that needs a file it cannot find is skipped
 * with the path it looked for, so the gap shows in the run.
 */
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'

const ROOT = resolve(import.meta.dirname, '..', '..')

/** Directories searched, in order. */
export function referenceDirs(): string[] {
  return [
    process.env.CONVEYOR_REFERENCE_DIR,
    join(ROOT, '..', 'shared', 'reference', 'supply-chain')
  ].filter((d): d is string => Boolean(d))
}

/** The path of a reference file (`spdx/spdx-schema-2.3.json`), or undefined. */
export function referenceFile(rel: string): string | undefined {
  for (const dir of referenceDirs()) {
    const path = join(dir, rel)
    if (existsSync(path)) return path
  }
  return undefined
}
