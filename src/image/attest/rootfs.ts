/**
 * Paths inside an image's root filesystem, resolved as the image itself would see them:
 * a symlink's absolute target (`/var/lib/rpm -> /usr/lib/sysimage/rpm`) starts again at
 * the image's root, and `..` never climbs above it. Resolving with the host's realpath
 * instead would read the build machine's own package database for such a link.
 *
 * The package scan reads a root filesystem through a `RootView`: one directory (a
 * mounted container, an unpacked export, a vfs layer) here, or the stacked layers of an
 * overlay store (layered-view.ts).
 */
import { lstatSync, readdirSync, readlinkSync } from 'node:fs'
import { join } from 'node:path'

/** The most symlinks followed for one path (Linux's limit is 40). */
export const MAX_LINKS = 40

/** A read-only root filesystem as the package scan sees it. */
export interface RootView {
  /**
   * The host path holding `rel` (relative to the image's root), every symlink resolved
   * within the image; undefined when the image has no such path or a link loops.
   */
  resolve(rel: string): string | undefined
  /**
   * The names in the image's directory `rel`; undefined when there is none. Throws (an
   * errno error) when it exists but cannot be listed.
   */
  list(rel: string): string[] | undefined
}

/** The parts of a relative path, without empty and `.` parts. Pure. */
export function pathParts(rel: string): string[] {
  return rel.split('/').filter(p => p !== '' && p !== '.')
}

/**
 * Resolve `rel` one part at a time: `kind(parts)` says what the image holds at a
 * symlink-free path (`link` with its target, `other` for anything else, undefined when
 * absent). Absolute link targets restart at the root, `..` stops at it. Returns the
 * resolved parts, or undefined when absent or a link loops.
 */
export function resolveParts(
  rel: string,
  kind: (parts: string[]) => { link: string } | 'other' | undefined
): string[] | undefined {
  let pending = pathParts(rel)
  const done: string[] = []
  let links = 0
  while (pending.length > 0) {
    const part = pending.shift()!
    if (part === '..') {
      done.pop()
      continue
    }
    const found = kind([...done, part])
    if (found === undefined) return undefined
    if (found === 'other') {
      done.push(part)
      continue
    }
    if (++links > MAX_LINKS) return undefined
    if (found.link.startsWith('/')) done.length = 0
    pending = [...pathParts(found.link), ...pending]
  }
  return done
}

/**
 * The host path of `rel` inside `root`, every symlink resolved within `root`; undefined
 * when it does not exist or a link loops.
 */
export function resolveInRoot(root: string, rel: string): string | undefined {
  const parts = resolveParts(rel, path => {
    const host = join(root, ...path)
    try {
      return lstatSync(host).isSymbolicLink() ? { link: readlinkSync(host) } : 'other'
    } catch {
      return undefined
    }
  })
  return parts && join(root, ...parts)
}

/** A root filesystem that is one directory on this host. */
export function directoryView(root: string): RootView {
  return {
    resolve: rel => resolveInRoot(root, rel),
    list: rel => {
      const dir = resolveInRoot(root, rel)
      return dir === undefined ? undefined : readdirSync(dir)
    }
  }
}
