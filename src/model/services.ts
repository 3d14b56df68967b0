/**
 * The services file (DESIGN §2): `.github/conveyor.yml`, parsed with `yaml`'s document
 * API so every error names the file, line, column and key; or, without a file, every
 * directory holding a Dockerfile. Parsing and discovery are pure; reading the file
 * and listing the workspace sit at the edges.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { basename, isAbsolute, join, posix } from 'node:path'
import {
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  type Node as YamlNode,
  type Pair,
  type YAMLMap
} from 'yaml'
import { confinedPath } from '../core/confine.js'
import {
  ConfigurationError,
  FileConfigurationError,
  quote,
  type FileLocation
} from '../core/errors.js'
import { git } from '../core/git.js'
import { parseImageRef } from './image-ref.js'

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
const SKIP_DIRS = new Set(['node_modules', '.git', 'vendor'])

const TOP_KEYS = ['global', 'defaults', 'services']
const DEFAULT_KEYS = ['registry', 'platforms']
const SERVICE_KEYS = [
  'path',
  'context',
  'dockerfile',
  'image',
  'paths',
  'ignore',
  'depends-on',
  'build-args',
  'platforms',
  'target',
  'deploy'
]
const DEPLOY_KEYS = ['kustomize', 'helm-values', 'key', 'manifests']

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/
const PLATFORM_RE = /^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/
const IMAGE_RE = /^[a-z0-9]+([._-]+[a-z0-9]+)*(:[0-9]+)?(\/[a-z0-9]+([._-]+[a-z0-9]+)*)*$/
const BUILD_ARG_RE = /^[A-Za-z_][A-Za-z0-9_]*$/

/**
 * The most of a value from the file an error shows. Errors quote what they found, and
 * what they found is whatever the file holds: never more than a short prefix of it.
 */
const SHOWN = 60

/** A value from the file, quoted and cut to a short prefix. */
function show(value: string): string {
  return quote(value, SHOWN)
}

/** `text` cut to `max` characters. */
function shorten(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}… (${text.length} characters)` : text
}

/** A key path for an error: as written when short and printable, else quoted and cut. */
function showKey(key: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what is refused
  return key.length <= 2 * SHOWN && !/[\u0000-\u001f\u007f]/.test(key) ? key : show(key)
}

/** Edit distance with adjacent transpositions (optimal string alignment); small strings. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0))
  )
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        v = Math.min(v, d[i - 2]![j - 2]! + 1)
      }
      d[i]![j] = v
    }
  }
  return d[a.length]![b.length]!
}

/** The closest candidate to `word`, when it is close enough to be a likely typo. */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  // A typo of a short name is short: no quadratic work on a huge word.
  if (word.length > 2 * SHOWN) return undefined
  const norm = (s: string): string => s.toLowerCase().replace(/[-_]/g, '')
  let best: string | undefined
  let bestD = Infinity
  for (const c of candidates) {
    const d = norm(word) === norm(c) ? 0 : editDistance(word.toLowerCase(), c.toLowerCase())
    if (d < bestD) {
      bestD = d
      best = c
    }
  }
  const limit = Math.max(1, Math.floor(word.length / 3))
  return best !== undefined && bestD <= limit && bestD < word.length ? best : undefined
}

/** Normalise a repo-relative path: posix, no `./`, no trailing slash, `.` for the root. */
export function normalizeRelPath(value: string): string | undefined {
  if (value.includes('\\') || isAbsolute(value) || value.includes('\0')) return undefined
  const n = posix.normalize(value).replace(/\/+$/, '')
  if (n === '..' || n.startsWith('../')) return undefined
  return n === '' ? '.' : n
}

/** A file path inside a directory (`.` is the root). */
function under(dir: string, file: string): string {
  return dir === '.' ? file : `${dir}/${file}`
}

/** The default image: `<registry>/<name>`, or the name alone. */
export function defaultImage(name: string, registry?: string): string {
  const n = name.toLowerCase()
  return registry ? `${registry}/${n}` : n
}

class Located {
  constructor(
    private readonly file: string,
    private readonly lines: LineCounter
  ) {}

  at(node: YamlNode | null | undefined, key: string, message: string): ConfigurationError {
    const where = node?.range ? this.pos(node.range[0]) : ''
    return new FileConfigurationError(
      `${this.file}${where}: ${key ? `${showKey(key)}: ` : ''}${message}`.replace(/: $/, ''),
      node?.range ? this.location(node.range[0]) : { file: this.file, line: 1, col: 1 }
    )
  }

  pos(offset: number): string {
    const p = this.lines.linePos(offset)
    return `:${p.line}:${p.col}`
  }

  /** The annotation location of a source offset. */
  location(offset: number): FileLocation {
    const p = this.lines.linePos(offset)
    return { file: this.file, line: p.line, col: p.col }
  }
}

function keyOf(pair: Pair): string {
  return isScalar(pair.key) ? String(pair.key.value) : String(pair.key)
}

function keyNode(pair: Pair): YamlNode | undefined {
  return (pair.key as YamlNode | null) ?? undefined
}

function describe(node: unknown): string {
  if (node === null || node === undefined) return 'nothing'
  if (isMap(node)) return 'a mapping'
  if (isSeq(node)) return 'a list'
  if (isScalar(node)) {
    const v = node.value
    if (v === null) return 'nothing (null)'
    return `${typeof v} ${typeof v === 'string' ? show(v) : shorten(String(v), SHOWN)}`
  }
  return 'an unexpected value'
}

/** Parser state for one file. */
class Parser {
  constructor(readonly loc: Located) {}

  map(node: YamlNode | null | undefined, key: string, allowed: readonly string[]): Pair[] {
    if (!isMap(node)) {
      throw this.loc.at(node, key, `expected a mapping, got ${describe(node)}`)
    }
    const pairs = (node as YAMLMap).items
    for (const pair of pairs) {
      const k = keyOf(pair)
      if (!allowed.includes(k)) {
        const hint = didYouMean(k, allowed)
        const path = key ? `${key}.${k}` : k
        throw this.loc.at(
          keyNode(pair) ?? node,
          path,
          `unknown key ${show(k)}${hint ? ` (did you mean "${hint}"?)` : ''}; expected one of ${allowed.join(', ')}`
        )
      }
    }
    return pairs
  }

  string(
    node: YamlNode | null | undefined,
    key: string,
    pattern?: RegExp,
    expected?: string
  ): string {
    if (!isScalar(node) || node.value === null || typeof node.value === 'object') {
      throw this.loc.at(node, key, `expected ${expected ?? 'a string'}, got ${describe(node)}`)
    }
    const value = String(node.value)
    if (value.trim() === '')
      throw this.loc.at(node, key, `expected ${expected ?? 'a string'}, got an empty string`)
    if (pattern && !pattern.test(value)) {
      throw this.loc.at(node, key, `got ${show(value)}, expected ${expected ?? pattern.source}`)
    }
    return value
  }

  relPath(node: YamlNode | null | undefined, key: string): string {
    const value = this.string(node, key, undefined, 'a repository-relative path')
    const n = normalizeRelPath(value)
    if (n === undefined) {
      throw this.loc.at(
        node,
        key,
        `got ${show(value)}, expected a path relative to the repository root, inside it, with "/" separators`
      )
    }
    return n
  }

  list(
    node: YamlNode | null | undefined,
    key: string,
    item: (n: YamlNode | null | undefined, k: string) => string
  ): string[] {
    if (isScalar(node) && typeof node.value === 'string') return [item(node, key)]
    if (!isSeq(node)) throw this.loc.at(node, key, `expected a list, got ${describe(node)}`)
    return node.items.map((n, i) => item(n as YamlNode, `${key}[${i}]`))
  }

  glob = (n: YamlNode | null | undefined, k: string): string => {
    const value = this.string(n, k, undefined, 'a glob pattern')
    if (value.startsWith('/') || value.includes('\\')) {
      throw this.loc.at(
        n,
        k,
        `got ${show(value)}, expected a glob relative to the repository root with "/" separators`
      )
    }
    return value
  }

  platform = (n: YamlNode | null | undefined, k: string): string =>
    this.string(n, k, PLATFORM_RE, 'a platform such as "linux/amd64" or "linux/arm/v7"')
}

interface Parsed {
  global: string[]
  defaults: { registry?: string; platforms: string[] }
  servicesNode?: YAMLMap
  loc: Located
}

function parseFile(text: string, file: string): Parsed {
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true })
  const loc = new Located(file, lines)
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!
    const where = loc.pos(e.pos[0])
    throw new FileConfigurationError(
      `${file}${where}: not valid YAML: ${shorten(e.message.split('\n')[0] ?? '', 160)}`,
      loc.location(e.pos[0])
    )
  }
  const p = new Parser(loc)
  const root = doc.contents as YamlNode | null
  const out: Parsed = { global: [], defaults: { platforms: [...DEFAULT_PLATFORMS] }, loc }
  if (root === null || (isScalar(root) && root.value === null)) return out
  for (const pair of p.map(root, '', TOP_KEYS)) {
    const k = keyOf(pair)
    const v = pair.value as YamlNode | null
    if (k === 'global') out.global = p.list(v, 'global', p.glob)
    else if (k === 'defaults') {
      for (const dp of p.map(v, 'defaults', DEFAULT_KEYS)) {
        const dk = keyOf(dp)
        const dv = dp.value as YamlNode | null
        if (dk === 'registry') {
          const r = p.string(
            dv,
            'defaults.registry',
            undefined,
            'a registry and optional namespace such as "ghcr.io/acme"'
          )
          const clean = r.replace(/\/+$/, '')
          if (!IMAGE_RE.test(clean)) {
            throw loc.at(
              dv,
              'defaults.registry',
              `got ${show(r)}, expected a registry and optional namespace such as "ghcr.io/acme" (lower case, no tag)`
            )
          }
          out.defaults.registry = clean
        } else {
          const list = p.list(dv, 'defaults.platforms', p.platform)
          if (list.length === 0)
            throw loc.at(dv, 'defaults.platforms', 'expected at least one platform')
          out.defaults.platforms = list
        }
      }
    } else {
      if (v === null || (isScalar(v) && v.value === null)) {
        throw loc.at(
          v ?? keyNode(pair),
          'services',
          'expected a mapping of service names to settings, got nothing (leave the key out to discover services by their Dockerfiles)'
        )
      }
      if (!isMap(v))
        throw loc.at(
          v,
          'services',
          `expected a mapping of service names to settings, got ${describe(v)}`
        )
      out.servicesNode = v
    }
  }
  return out
}

function parseService(
  p: Parser,
  pair: Pair,
  defaults: Parsed['defaults']
): { service: Service; deps: (YamlNode | undefined)[] } {
  const name = keyOf(pair)
  const key = `services.${name}`
  if (!NAME_RE.test(name)) {
    throw p.loc.at(
      keyNode(pair),
      key,
      `service name ${show(name)} is not valid: expected letters, digits, ".", "_" or "-", starting with a letter or digit`
    )
  }
  const v = pair.value as YamlNode | null
  const pairs =
    v === null || (isScalar(v) && v.value === null) ? undefined : p.map(v, key, SERVICE_KEYS)
  const get = (k: string): YamlNode | null | undefined => {
    const found = pairs?.find(x => keyOf(x) === k)
    return found ? ((found.value as YamlNode | null) ?? null) : undefined
  }
  const has = (k: string): boolean => pairs?.some(x => keyOf(x) === k) ?? false
  let path: string
  let dockerfile: string | undefined
  if (has('dockerfile')) dockerfile = p.relPath(get('dockerfile'), `${key}.dockerfile`)
  if (has('path')) path = p.relPath(get('path'), `${key}.path`)
  else if (dockerfile !== undefined) path = posix.dirname(dockerfile)
  else {
    throw p.loc.at(
      keyNode(pair),
      key,
      `missing "path" (the service's directory, e.g. "services/${name}")`
    )
  }
  const context = has('context') ? p.relPath(get('context'), `${key}.context`) : path
  dockerfile ??= under(path, 'Dockerfile')
  let image: string
  const imageSource = has('image') ? 'image' : defaults.registry ? 'defaults.registry' : 'name'
  if (has('image')) {
    image = p.string(
      get('image'),
      `${key}.image`,
      IMAGE_RE,
      'a full image name without tag or digest, lower case, such as "ghcr.io/acme/cart"'
    )
  } else image = defaultImage(name, defaults.registry)
  const deps: (YamlNode | undefined)[] = []
  const dependsOn = has('depends-on')
    ? p.list(get('depends-on'), `${key}.depends-on`, (n, k) => {
        deps.push(n ?? undefined)
        return p.string(n, k, NAME_RE, 'a service name')
      })
    : []
  const buildArgs: Record<string, string> = {}
  if (has('build-args')) {
    const node = get('build-args')
    if (!isMap(node))
      throw p.loc.at(
        node,
        `${key}.build-args`,
        `expected a mapping of NAME: value, got ${describe(node)}`
      )
    for (const bp of node.items) {
      const bk = keyOf(bp)
      if (!BUILD_ARG_RE.test(bk))
        throw p.loc.at(
          keyNode(bp),
          `${key}.build-args.${bk}`,
          `expected a build argument name (letters, digits, "_")`
        )
      const bv = bp.value as YamlNode | null
      if (!isScalar(bv) || bv.value === null || typeof bv.value === 'object') {
        throw p.loc.at(
          bv ?? keyNode(bp),
          `${key}.build-args.${bk}`,
          `expected a string, number or boolean, got ${describe(bv)}`
        )
      }
      buildArgs[bk] = String(bv.value)
    }
  }
  const platforms = has('platforms')
    ? p.list(get('platforms'), `${key}.platforms`, p.platform)
    : [...defaults.platforms]
  if (platforms.length === 0)
    throw p.loc.at(get('platforms'), `${key}.platforms`, 'expected at least one platform')
  const service: Service = {
    name,
    path,
    context,
    dockerfile,
    image,
    imageSource,
    paths: has('paths') ? p.list(get('paths'), `${key}.paths`, p.glob) : [],
    ignore: has('ignore') ? p.list(get('ignore'), `${key}.ignore`, p.glob) : [],
    dependsOn,
    buildArgs,
    platforms
  }
  if (has('target'))
    service.target = p.string(
      get('target'),
      `${key}.target`,
      /^[A-Za-z0-9._-]+$/,
      'a build stage name'
    )
  if (has('deploy')) {
    const deploy: ServiceDeploy = {}
    for (const dp of p.map(get('deploy'), `${key}.deploy`, DEPLOY_KEYS)) {
      const dk = keyOf(dp)
      const dv = dp.value as YamlNode | null
      const k = `${key}.deploy.${dk}`
      if (dk === 'kustomize') deploy.kustomize = p.relPath(dv, k)
      else if (dk === 'helm-values') deploy.helmValues = p.relPath(dv, k)
      else if (dk === 'manifests') deploy.manifests = p.relPath(dv, k)
      else deploy.key = p.string(dv, k, undefined, 'a dotted key such as "cart.image"')
    }
    if (deploy.key !== undefined && deploy.helmValues === undefined) {
      throw p.loc.at(
        get('deploy'),
        `${key}.deploy.key`,
        'is only used with "helm-values" (the key in the values file to set)'
      )
    }
    service.deploy = deploy
  }
  return { service, deps }
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
        const hint = didYouMean(d, [...byName.keys()])
        throw new ConfigurationError(
          `${where(s.name, i)}services.${s.name}.depends-on: unknown service ${show(d)}${hint ? ` (did you mean "${hint}"?)` : ''}; known services: ${[...byName.keys()].join(', ')}`
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
 * Parse a services file's text. `file` is the repo-relative path used in errors.
 * Without a `services` key, `discovered` (from the Dockerfiles) is used with the
 * file's defaults.
 */
export function parseServices(
  text: string,
  file: string,
  discover: (defaults: ServicesConfig['defaults']) => Service[] = () => []
): ServicesConfig {
  const parsed = parseFile(text, file)
  const p = new Parser(parsed.loc)
  let services: Service[]
  const where = new Map<string, { name?: YamlNode; deps: (YamlNode | undefined)[] }>()
  const node = parsed.servicesNode
  if (node) {
    services = []
    for (const pair of node.items) {
      const { service, deps } = parseService(p, pair, parsed.defaults)
      services.push(service)
      where.set(service.name, { name: keyNode(pair), deps })
    }
    if (services.length === 0)
      throw parsed.loc.at(node, 'services', 'expected at least one service')
  } else services = discover(parsed.defaults)
  // The prefix is worked out as the error is thrown: the last one asked for is its place.
  let place: FileLocation = { file, line: 1, col: 1 }
  try {
    checkDependencies(services, (name, dep) => {
      const w = where.get(name)
      const node = dep !== undefined ? (w?.deps[dep] ?? w?.name) : w?.name
      place = node?.range ? parsed.loc.location(node.range[0]) : { file, line: 1, col: 1 }
      return node?.range ? `${file}${parsed.loc.pos(node.range[0])}: ` : `${file}: `
    })
  } catch (error) {
    if (error instanceof ConfigurationError) throw new FileConfigurationError(error.message, place)
    throw error
  }
  return { file, global: parsed.global, defaults: parsed.defaults, services }
}

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
  const hint = didYouMean(name, names)
  const from = config.file
    ? `services file ${config.file}`
    : 'the Dockerfiles found (no services file)'
  throw new ConfigurationError(
    `unknown service ${show(name)}${hint ? ` (did you mean "${hint}"?)` : ''}; ${from} defines: ${names.length > 0 ? names.join(', ') : 'none'}`
  )
}
