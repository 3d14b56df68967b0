/**
 * Loading the services of a workspace: the services file when there is one (confined
 * to the checkout), else the Dockerfiles found. The reading is here; parsing and
 * discovery are pure (parse.ts, discover.ts).
 */
import { existsSync, readFileSync, statSync } from 'node:fs'
import { basename, isAbsolute, posix } from 'node:path'
import { confinedPath } from '../../core/confine.js'
import { ConfigurationError, quote } from '../../core/errors.js'
import {
  DEFAULT_CONFIG,
  DEFAULT_PLATFORMS,
  normalizeRelPath,
  type ServicesConfig
} from './config.js'
import { discoverServices, listDockerfiles } from './discover.js'
import { parseServices } from './parse.js'

/**
 * Load the services: the file when it exists (or `requireFile`), else every
 * Dockerfile in the workspace. The file must be a regular file inside the workspace
 * once symlinks are resolved (`rootName` names that directory in the error), so a
 * checked-in link to `/proc/self/environ` or `/etc/passwd` is refused, not read.
 */
export async function loadServices(options: {
  workspace: string
  config?: string
  requireFile?: boolean
  rootName?: string
}): Promise<ServicesConfig> {
  const config = options.config?.trim() || DEFAULT_CONFIG
  const rel = isAbsolute(config)
    ? posix.relative(options.workspace, config) || config
    : (normalizeRelPath(config) ?? config)
  const full = confinedPath(options.workspace, config, {
    input: 'config',
    rootName: options.rootName,
    hint: 'the services file must be a file of the checkout'
  })
  const rootName = basename(options.workspace).toLowerCase() || 'app'
  let dockerfiles: string[] | undefined
  const discover = async (): Promise<string[]> =>
    (dockerfiles ??= await listDockerfiles(options.workspace))
  if (existsSync(full)) {
    if (!statSync(full).isFile()) {
      throw new ConfigurationError(`services file ${quote(rel)} is not a regular file`)
    }
    const text = readFileSync(full, 'utf8')
    // Discovery only runs when the file has no `services` key.
    let needed = false
    const first = parseServices(text, rel, () => {
      needed = true
      return []
    })
    if (!needed) return first
    const files = await discover()
    return parseServices(text, rel, defaults => discoverServices(files, defaults, rootName))
  }
  if (options.requireFile) {
    throw new ConfigurationError(
      `services file ${quote(rel)} does not exist in ${options.workspace}`
    )
  }
  const defaults = { platforms: [...DEFAULT_PLATFORMS] }
  const services = discoverServices(await discover(), defaults, rootName)
  return { global: [], defaults, services }
}
