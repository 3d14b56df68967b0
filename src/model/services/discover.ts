/**
 * Services without a services file: every directory holding a Dockerfile is one,
 * named after the directory (or its parent, when the name is generic). Choosing the
 * names is pure; listing the workspace's Dockerfiles (git, else a walk) is the edge.
 */
import { existsSync, readdirSync } from 'node:fs'
import { join, posix } from 'node:path'
import { ConfigurationError } from '../../core/errors.js'
import { git } from '../../core/git.js'
import {
  DEFAULT_CONFIG,
  DEFAULT_PLATFORMS,
  defaultImage,
  GENERIC_DIRS,
  NAME_RE,
  show,
  SKIP_DIRS,
  type Service,
  type ServicesConfig
} from './config.js'

/**
 * Services from a list of repo-relative files: every `Dockerfile` makes one, named
 * after its directory, or after the parent when the directory's name is generic.
 * Pure. `rootName` names a Dockerfile at the repository root.
 */
export function discoverServices(
  files: readonly string[],
  defaults: ServicesConfig['defaults'] = { platforms: [...DEFAULT_PLATFORMS] },
  rootName = 'app'
): Service[] {
  const found = new Map<string, Service>()
  const dockerfiles = files
    .filter(f => posix.basename(f) === 'Dockerfile')
    .filter(f => !f.split('/').some(seg => SKIP_DIRS.has(seg)))
    .sort()
  for (const dockerfile of dockerfiles) {
    const context = posix.dirname(dockerfile)
    let path = context
    if (context !== '.' && GENERIC_DIRS.has(posix.basename(context))) path = posix.dirname(context)
    const name = path === '.' ? rootName : posix.basename(path)
    const clash = found.get(name)
    if (clash) {
      throw new ConfigurationError(
        `two Dockerfiles would make a service named ${show(name)}: ${clash.dockerfile} and ${dockerfile}; add a services file (${DEFAULT_CONFIG}) that names them`
      )
    }
    if (!NAME_RE.test(name)) {
      throw new ConfigurationError(
        `${dockerfile}: the directory name ${show(name)} is not a valid service name; add a services file (${DEFAULT_CONFIG}) that names it`
      )
    }
    found.set(name, {
      name,
      path,
      context,
      dockerfile,
      image: defaultImage(name, defaults.registry),
      imageSource: defaults.registry ? 'defaults.registry' : 'name',
      paths: [],
      ignore: [],
      dependsOn: [],
      buildArgs: {},
      platforms: [...defaults.platforms]
    })
  }
  return [...found.values()]
}

function walkFiles(root: string, dir: string, out: string[]): void {
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    if (SKIP_DIRS.has(entry.name)) continue
    const rel = dir === '' ? entry.name : `${dir}/${entry.name}`
    if (entry.isDirectory()) walkFiles(root, rel, out)
    else if (entry.isFile()) out.push(rel)
  }
}

/** The Dockerfiles of a workspace: git's tracked and unignored files in a repository, else a walk. */
export async function listDockerfiles(workspace: string): Promise<string[]> {
  const r = await git(
    ['ls-files', '-z', '--cached', '--others', '--exclude-standard', '--', ':(glob)**/Dockerfile'],
    { cwd: workspace, allowFailure: true }
  )
  if (r.code === 0) {
    return [
      ...new Set(r.stdout.split('\0').filter(f => f !== '' && existsSync(join(workspace, f))))
    ]
  }
  const out: string[] = []
  walkFiles(workspace, '', out)
  return out.filter(f => posix.basename(f) === 'Dockerfile')
}
