/**
 * Keeping paths inside a root directory (the workspace, a config repository clone):
 * resolve a user-given path with its symlinks and tell whether it stays inside, and
 * find a symlink on the way to a path, for the places that edit files and must never
 * follow one.
 */
import { existsSync, lstatSync, realpathSync } from 'node:fs'
import { isAbsolute, join, relative, resolve, sep } from 'node:path'

/** Whether `path` (absolute) is `root` or below it, lexically. */
export function isWithin(root: string, path: string): boolean {
  const rel = relative(root, path)
  return rel === '' || (!isAbsolute(rel) && rel !== '..' && !rel.startsWith(`..${sep}`))
}

/**
 * `path` (relative to `root`, or absolute) resolved with every symlink on the way,
 * or undefined when it leads outside `root` (itself resolved). The deepest existing
 * ancestor is resolved when the path does not exist yet.
 */
export function resolveWithin(root: string, path: string): string | undefined {
  const realRoot = realpathSync(resolve(root))
  let existing = resolve(realRoot, path)
  const rest: string[] = []
  while (!existsSync(existing)) {
    const parent = resolve(existing, '..')
    if (parent === existing) break
    rest.unshift(existing.slice(parent.length).replace(/^[/\\]+/, ''))
    existing = parent
  }
  const real = join(existsSync(existing) ? realpathSync(existing) : existing, ...rest)
  return isWithin(realRoot, real) ? real : undefined
}

/**
 * The first entry on the way from `root` to `root/rel` (`rel` itself included) that is
 * a symbolic link, as a path relative to `root` with `/` separators; undefined when
 * there is none (entries that do not exist end the walk).
 */
export function symlinkOnPath(root: string, rel: string): string | undefined {
  const parts = rel.split(/[/\\]+/).filter(p => p !== '' && p !== '.')
  let current = root
  for (let i = 0; i < parts.length; i++) {
    current = join(current, parts[i]!)
    const st = lstatSync(current, { throwIfNoEntry: false })
    if (!st) return undefined
    if (st.isSymbolicLink()) return parts.slice(0, i + 1).join('/')
  }
  return undefined
}
