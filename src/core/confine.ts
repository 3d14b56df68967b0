/**
 * Paths a user (or a pull request) controls, confined to a root directory (the
 * workspace, or plan's working directory). Symlinks are resolved with `realpath`
 * first, so a checked-in link such as `.github/conveyor.yml -> /proc/self/environ`
 * cannot make an action read, and print, a file outside the checkout.
 */
import { existsSync, lstatSync, realpathSync } from 'node:fs'
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path'
import { ConfigurationError, quote } from './errors.js'

/** Whether `path` is `root` or below it (both absolute and already resolved). */
export function isWithin(root: string, path: string): boolean {
  const rel = relative(root, path)
  return rel === '' || (!isAbsolute(rel) && rel !== '..' && !rel.startsWith(`..${sep}`))
}

/**
 * The real path of `path` (absolute, or relative to `root`): every symlink resolved.
 * For a path that does not exist, its deepest existing ancestor is resolved and the
 * rest appended, so a link in a parent directory still counts.
 */
export function realPath(root: string, path: string): string {
  let head = isAbsolute(path) ? path : resolve(root, path)
  const rest: string[] = []
  while (!existsSync(head)) {
    const parent = dirname(head)
    if (parent === head) break
    rest.unshift(head.slice(parent.length).replace(/^[/\\]+/, ''))
    head = parent
  }
  const real = existsSync(head) ? realpathSync(head) : head
  return rest.length > 0 ? join(real, ...rest) : real
}

/**
 * `path` resolved through its symlinks, when it stays inside `root`; else a
 * ConfigurationError naming the input. `rootName` says what the root is in the message
 * (`the workspace`, `the working directory`); `hint` is appended.
 */
export function confinedPath(
  root: string,
  path: string,
  options: { input: string; rootName?: string; hint?: string }
): string {
  const realRoot = realPath(root, root)
  const real = realPath(root, path)
  if (!isWithin(realRoot, real)) {
    // Lexically inside: only a symlink leads out.
    const link = isWithin(resolve(root), resolve(root, path)) ? ' (through a symlink)' : ''
    throw new ConfigurationError(
      `${options.input} ${quote(path)} is outside ${options.rootName ?? 'the workspace'} ${realRoot}${link}${options.hint ? `; ${options.hint}` : ''}`
    )
  }
  return real
}

/**
 * The first entry on the way from `root` to `root/rel` (`rel` itself included) that is
 * a symbolic link, as a path relative to `root` with `/` separators; undefined when
 * there is none (an entry that does not exist ends the walk). For code that writes
 * files and must never follow a link, even one that leads back inside `root`.
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
