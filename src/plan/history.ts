/**
 * What a commit's tree holds, asked of git without a checkout: the services as they
 * were at the base (to tell which were deleted), and whether a file exists at the head.
 */
import { posix } from 'node:path'
import { errorMessage } from '../core/errors.js'
import { git } from '../core/git.js'
import type { Logger } from '../core/logger.js'
import type { Service, ServicesConfig } from '../model/services/config.js'
import { discoverServices } from '../model/services/discover.js'
import { parseServices } from '../model/services/parse.js'
import type { PlanRepo } from './repo.js'

/**
 * The services as they were at `sha` (to tell which were deleted), read from the
 * services file at `servicesFile` in that tree, or discovered from its Dockerfiles
 * (with the head's `config` defaults) when it has none; undefined when unreadable.
 */
export async function servicesAt(
  repo: PlanRepo,
  sha: string,
  servicesFile: string,
  config: ServicesConfig,
  log: Logger
): Promise<Service[] | undefined> {
  const listDockerfiles = async (): Promise<string[]> => {
    const r = await git(['ls-tree', '-r', '-z', '--name-only', sha], {
      cwd: repo.cwd,
      maxOutputBytes: 1 << 30
    })
    return r.stdout.split('\0').filter(f => posix.basename(f) === 'Dockerfile')
  }
  try {
    // What the tree holds at that path: only a regular file is read. A symlink
    // (mode 120000) is never followed, and its target text is not parsed either.
    const entry = await git(['ls-tree', '-z', sha, '--', `./${servicesFile}`], {
      cwd: repo.cwd,
      allowFailure: true
    })
    const tab = entry.stdout.indexOf('\t')
    const [mode, type, oid] = entry.stdout.slice(0, Math.max(0, tab)).split(' ')
    if (entry.code === 0 && tab > 0 && !(type === 'blob' && /^1006[0-7]{2}$/.test(mode ?? ''))) {
      log.info(
        `the services file at the base ${sha.slice(0, 12)} is not a regular file (mode ${mode}, ${type}); not read, deletions are judged by the head alone`
      )
      return undefined
    }
    const shown =
      entry.code === 0 && tab > 0
        ? await git(['cat-file', 'blob', oid!], { cwd: repo.cwd, allowFailure: true })
        : { code: 1, stdout: '' }
    if (shown.code === 0) {
      let needed = false
      const first = parseServices(shown.stdout, servicesFile, () => {
        needed = true
        return []
      })
      if (!needed) return first.services
      const files = await listDockerfiles()
      return parseServices(shown.stdout, servicesFile, d => discoverServices(files, d)).services
    }
    return discoverServices(await listDockerfiles(), config.defaults)
  } catch (error) {
    log.info(
      `the services at the base ${sha.slice(0, 12)} could not be read (${errorMessage(error)}); deletions are judged by the head alone`
    )
    return undefined
  }
}

/** Whether `path` (relative to `cwd`) is a file in commit `sha`'s tree (no blob is fetched). */
export async function inTree(cwd: string, sha: string, path: string): Promise<boolean> {
  const r = await git(['ls-tree', '--name-only', sha, '--', `./${path}`], {
    cwd,
    allowFailure: true
  })
  return r.code === 0 && r.stdout.trim() !== ''
}
