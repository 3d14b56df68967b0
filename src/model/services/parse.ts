/**
 * Parsing the services file (docs/architecture.md, "The services file"):
 * `.github/conveyor.yml` read with `yaml`'s document API, so every error names the
 * file, line, column and key. Pure: text in, a `ServicesConfig` out.
 */
import { posix } from 'node:path'
import {
  isMap,
  isScalar,
  LineCounter,
  parseDocument,
  type Node as YamlNode,
  type Pair,
  type YAMLMap
} from 'yaml'
import { ConfigurationError, FileConfigurationError, type FileLocation } from '../../core/errors.js'
import {
  checkDependencies,
  DEFAULT_PLATFORMS,
  defaultImage,
  NAME_RE,
  show,
  under,
  type Service,
  type ServiceDeploy,
  type ServicesConfig
} from './config.js'
import { describe, keyNode, keyOf, Located, Parser, shorten } from './reader.js'

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
const IMAGE_RE = /^[a-z0-9]+([._-]+[a-z0-9]+)*(:[0-9]+)?(\/[a-z0-9]+([._-]+[a-z0-9]+)*)*$/
const BUILD_ARG_RE = /^[A-Za-z_][A-Za-z0-9_]*$/

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
