/**
 * The services file's data (docs/architecture.md, "The services file"): what a service
 * is, the defaults, and the pure rules that read a parsed file: `depends-on` checked,
 * the image a build pushes, a service found by name. Parsing is in parse.ts, discovery
 * by Dockerfiles in discover.ts, reading the workspace in load.ts.
 */
import { isAbsolute, posix } from 'node:path'
import { didYouMeanHint } from '../../core/did-you-mean.js'
import { ConfigurationError, quote } from '../../core/errors.js'
import { parseImageRef } from '../image-ref.js'

/** Where a service's new image reference goes in the config repository. */
export interface ServiceDeploy {
  kustomize?: string
  helmValues?: string
  key?: string
  manifests?: string
}

/** One buildable service. */
export interface Service {
  name: string
  /** Repo-relative posix directory, no trailing slash (`.` for the root). Its files select the service. */
  path: string
  context: string
  /** Repo-relative. */
  dockerfile: string
  /** Full image name without tag. */
  image: string
  /**
   * Where `image` came from: the service's own `image:` key, `<defaults.registry>/<name>`,
   * or the bare name. An input (build's `registry`) overrides the defaults, not `image:`.
   */
  imageSource?: 'image' | 'defaults.registry' | 'name'
  paths: string[]
  ignore: string[]
  dependsOn: string[]
  buildArgs: Record<string, string>
  platforms: string[]
  target?: string
  deploy?: ServiceDeploy
}

/** The whole services file, defaults applied. */
export interface ServicesConfig {
  /** Repo-relative path; undefined when the services were auto-discovered. */
  file?: string
  global: string[]
  defaults: { registry?: string; platforms: string[] }
  services: Service[]
}

/** The default services file path. */
export const DEFAULT_CONFIG = '.github/conveyor.yml'
/** Platforms when neither the service nor the defaults name any. */
export const DEFAULT_PLATFORMS = ['linux/amd64']
/** Directory names that name no service: the parent names it instead. */
export const GENERIC_DIRS = new Set(['src', 'app', 'docker', 'build'])
/** Directories never searched for Dockerfiles. */
export const SKIP_DIRS = new Set(['node_modules', '.git', 'vendor'])

/** A valid service name. */
export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/

/**
 * The most of a value from the file an error shows. Errors quote what they found, and
 * what they found is whatever the file holds: never more than a short prefix of it.
 */
export const SHOWN = 60

/** A value from the file, quoted and cut to a short prefix. */
export function show(value: string): string {
  return quote(value, SHOWN)
}

/** Normalise a repo-relative path: posix, no `./`, no trailing slash, `.` for the root. */
export function normalizeRelPath(value: string): string | undefined {
  if (value.includes('\\') || isAbsolute(value) || value.includes('\0')) return undefined
  const n = posix.normalize(value).replace(/\/+$/, '')
  if (n === '..' || n.startsWith('../')) return undefined
  return n === '' ? '.' : n
}

/** A file path inside a directory (`.` is the root). */
export function under(dir: string, file: string): string {
  return dir === '.' ? file : `${dir}/${file}`
}

/** The default image: `<registry>/<name>`, or the name alone. */
export function defaultImage(name: string, registry?: string): string {
  const n = name.toLowerCase()
  return registry ? `${registry}/${n}` : n
}
/**
 * Check `depends-on`: every name is a service and there is no cycle. Pure; `where`
 * turns a service name (and the index of its dependency) into an error prefix.
 */
export function checkDependencies(
  services: readonly Service[],
  where: (service: string, dep?: number) => string = () => ''
): void {
  const byName = new Map(services.map(s => [s.name, s]))
  for (const s of services) {
    s.dependsOn.forEach((d, i) => {
      if (!byName.has(d)) {
        throw new ConfigurationError(
          `${where(s.name, i)}services.${s.name}.depends-on: unknown service ${show(d)}${didYouMeanHint(d, [...byName.keys()])}; known services: ${[...byName.keys()].join(', ')}`
        )
      }
      if (d === s.name) {
        throw new ConfigurationError(
          `${where(s.name, i)}services.${s.name}.depends-on: a service cannot depend on itself (cycle ${s.name} -> ${s.name})`
        )
      }
    })
  }
  const state = new Map<string, 1 | 2>()
  const stack: string[] = []
  const visit = (name: string): void => {
    state.set(name, 1)
    stack.push(name)
    const s = byName.get(name)!
    for (let i = 0; i < s.dependsOn.length; i++) {
      const d = s.dependsOn[i]!
      const st = state.get(d)
      if (st === 1) {
        const cycle = [...stack.slice(stack.indexOf(d)), d]
        throw new ConfigurationError(
          `${where(name, i)}services.${name}.depends-on: dependency cycle ${cycle.join(' -> ')}`
        )
      }
      if (st === undefined) visit(d)
    }
    stack.pop()
    state.set(name, 2)
  }
  for (const s of services) if (!state.has(s.name)) visit(s.name)
}
/**
 * The image a build of `service` pushes, and where the name came from (for the log):
 * input `image` first, then the service's own `image:`, then `<registry>/<name>` with
 * the registry from input `registry` over the file's `defaults.registry`. Input
 * `registry` also prefixes an image name that has no registry. Pure.
 */
export function serviceImage(
  service: Service,
  config: Pick<ServicesConfig, 'file' | 'defaults'>,
  inputs: { image?: string; registry?: string }
): { image: string; from: string } {
  const file = config.file ?? 'the services file'
  const prefixed = (image: string): string =>
    inputs.registry && !hasRegistry(image) ? `${inputs.registry}/${image}` : image
  const withInput = (image: string): string =>
    inputs.registry && !hasRegistry(image) ? ', prefixed with input "registry"' : ''
  if (inputs.image) {
    return { image: prefixed(inputs.image), from: `input "image"${withInput(inputs.image)}` }
  }
  if (service.imageSource === 'image') {
    return {
      image: prefixed(service.image),
      from: `image: of service ${service.name} in ${file}${withInput(service.image)}`
    }
  }
  const fileRegistry = config.defaults.registry
  if (inputs.registry) {
    const over =
      fileRegistry && fileRegistry !== inputs.registry
        ? ` (over defaults.registry ${fileRegistry} of ${file})`
        : ''
    return {
      image: defaultImage(service.name, inputs.registry),
      from: `input "registry"${over}`
    }
  }
  if (fileRegistry) {
    return {
      image: defaultImage(service.name, fileRegistry),
      from: `defaults.registry of ${file}`
    }
  }
  return {
    image: service.image,
    from: 'the service name alone (no input "registry", no defaults.registry: Docker Hub)'
  }
}

/** Whether an image name starts with a registry host (as the image reference parser reads it). */
function hasRegistry(image: string): boolean {
  try {
    return parseImageRef(image).registry !== undefined
  } catch {
    return false
  }
}

/** The named service, or a ConfigurationError listing the known names. */
export function findService(config: ServicesConfig, name: string): Service {
  const s = config.services.find(x => x.name === name)
  if (s) return s
  const names = config.services.map(x => x.name)
  const from = config.file
    ? `services file ${config.file}`
    : 'the Dockerfiles found (no services file)'
  throw new ConfigurationError(
    `unknown service ${show(name)}${didYouMeanHint(name, names)}; ${from} defines: ${names.length > 0 ? names.join(', ') : 'none'}`
  )
}
