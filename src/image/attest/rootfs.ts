/**
 * Paths inside an image's root filesystem, resolved as the image itself would see them:
 * a symlink's absolute target (`/var/lib/rpm -> /usr/lib/sysimage/rpm`) starts again at
 * the image's root, and `..` never climbs above it. Resolving with the host's realpath
 * instead would read the build machine's own package database for such a link.
 */
import { lstatSync, readlinkSync } from 'node:fs'
import { join } from 'node:path'

/** The most symlinks followed for one path (Linux's limit is 40). */
const MAX_LINKS = 40

/**
 * The host path of `rel` inside `root`, every symlink resolved within `root`; undefined
 * when it does not exist or a link loops.
 */
export function resolveInRoot(root: string, rel: string): string | undefined {
  let pending = rel.split('/').filter(p => p !== '' && p !== '.')
  const done: string[] = []
  let links = 0
  while (pending.length > 0) {
    const part = pending.shift()!
    if (part === '..') {
      done.pop()
      continue
    }
    const host = join(root, ...done, part)
    let isLink: boolean
    try {
      isLink = lstatSync(host).isSymbolicLink()
    } catch {
      return undefined
    }
    if (!isLink) {
      done.push(part)
      continue
    }
    if (++links > MAX_LINKS) return undefined
    const target = readlinkSync(host)
    const parts = target.split('/').filter(p => p !== '' && p !== '.')
    if (target.startsWith('/')) done.length = 0
    pending = [...parts, ...pending]
  }
  return join(root, ...done)
}
