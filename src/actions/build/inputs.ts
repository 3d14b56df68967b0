/**
 * The build action's inputs, read and validated in one place before any side effect.
 */
import { existsSync, statSync } from 'node:fs'
import { isAbsolute, relative, resolve, sep } from 'node:path'
import { parseBuildSecret, type BackendName, type BuildSecret } from '../../image/backends.js'
import { isWithin } from '../../core/confine.js'
import { ConfigurationError, invalidInput } from '../../core/errors.js'
import { isValidDigest, parseImageRef } from '../../model/image-ref.js'
import { caCertificate, InputReader } from '../../core/inputs.js'
import { secrets } from '../../core/secrets.js'
import { refuseSecrets } from '../../image/refuse-secrets.js'
import { parseFlavor, parseTagRules } from '../../image/metadata/rules.js'
import { getAttestInputs, type AttestInputs } from './attest-inputs.js'

/** Everything the action was asked to do. */
export interface Inputs {
  service?: string
  config: string
  context?: string
  dockerfile?: string
  image?: string
  target?: string
  registry?: string
  username?: string
  password?: string
  /** PEM of the registry's private CA (input `registry-ca-cert`). */
  ca?: string
  insecure: boolean
  /** Tag rule lines (metadata-action syntax) as written; [] means the defaults. */
  tags: string[]
  /** Flavor lines (`latest=`, `prefix=`, `suffix=`, `onlatest=`) as written. */
  flavor: string[]
  /** Work out and report the tags, labels and version; build and push nothing. */
  dryRun: boolean
  labels: Map<string, string>
  buildArgs: Map<string, string>
  secrets: BuildSecret[]
  platforms: string[]
  /** `registry` (per-service cache ref), `none`, or an explicit cache reference. */
  cache: string
  push: boolean
  backend: BackendName | 'auto'
  reuse: boolean
  mode: 'build' | 'merge'
  digests: string[]
  resultsDir?: string
  network?: string
  timeoutMs: number
  /** Provenance, SBOM and how they are signed. */
  attest: AttestInputs
}

const PLATFORM = /^[a-z0-9]+\/[a-z0-9_]+(?:\/[a-z0-9]+)?$/
const HOST = /^[A-Za-z0-9.-]+(?::\d+)?$|^\[[0-9a-fA-F:]+\](?::\d+)?$/

/**
 * The services file path, confined to the workspace: it is read and parse errors quote
 * it, so a path such as ../../etc/passwd must never get that far.
 */
function workspacePath(config: string, env: NodeJS.ProcessEnv): string {
  const workspace = resolve(env.GITHUB_WORKSPACE ?? process.cwd())
  const full = resolve(workspace, config)
  const rel = relative(workspace, full)
  if (rel === '' || !isWithin(workspace, full)) {
    throw invalidInput('config', config, 'a file path inside the workspace')
  }
  return rel.split(sep).join('/')
}

/**
 * A rule input's lines as written, so that an error's line number is the user's; [] when
 * it holds no rule (only blank lines and `#` comments).
 */
function ruleLines(reader: InputReader, name: string): string[] {
  const lines = reader.raw(name, { trim: false }).split(/\r?\n/)
  while (lines.length > 0 && lines[lines.length - 1]!.trim() === '') lines.pop()
  return lines.some(l => l.trim() !== '' && !l.trim().startsWith('#')) ? lines : []
}

/** Read and validate every input. */
export function getInputs(reader = new InputReader(), env = process.env): Inputs {
  const password = reader.optional('registry-password', { secret: true })
  let username =
    reader.line('registry-username', {
      pattern: /^[^\s:]+$/,
      expected: 'a user name without spaces or colons'
    }) || undefined
  if (password && !username) username = env.GITHUB_ACTOR || undefined
  if (password) secrets.add(password, { user: username, label: 'input "registry-password"' })
  const attest = getAttestInputs(reader)
  const mode = reader.choice('mode', ['build', 'merge'] as const, 'build')
  const service = reader.optional('service')
  if (service !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(service)) {
    throw invalidInput('service', service, 'a service name (letters, digits, . _ -)')
  }
  const image = reader.optional('image')
  if (image !== undefined) {
    try {
      const ref = parseImageRef(image)
      if (ref.tag || ref.digest) {
        throw new Error(
          'give the image name without a tag or digest; tags come from the "tags" input'
        )
      }
    } catch (error) {
      // The parser's message quotes the whole value: keep only its reason, shortened.
      const reason = (error as Error).message
        .replace(/^image reference "(?:[^"\\]|\\.)*": /s, '')
        .slice(0, 200)
      throw invalidInput('image', image, `an image name such as ghcr.io/acme/cart (${reason})`)
    }
  }
  const registry = reader
    .optional('registry')
    ?.replace(/^https?:\/\//, '')
    .replace(/\/+$/, '')
  if (registry !== undefined && !HOST.test(registry.split('/')[0]!)) {
    throw invalidInput(
      'registry',
      registry,
      'a registry host such as ghcr.io or 127.0.0.1:5000, optionally with a namespace (ghcr.io/acme)'
    )
  }
  const ca = caCertificate(reader, 'registry-ca-cert', env.GITHUB_WORKSPACE || process.cwd())
  const tags = ruleLines(reader, 'tags')
  const flavor = ruleLines(reader, 'flavor')
  const dryRun = reader.boolean('dry-run', false)
  const platforms = reader.list('platforms', { commas: true })
  for (const p of platforms) {
    if (!PLATFORM.test(p))
      throw invalidInput('platforms', p, 'platforms such as linux/amd64, linux/arm64/v8')
  }
  const buildSecrets = reader.list('secrets').map(parseBuildSecret)
  for (const s of buildSecrets) {
    if (s.env !== undefined) {
      if (env[s.env] === undefined) {
        throw new ConfigurationError(
          `input "secrets": id=${s.id} reads the environment variable ${s.env}, which is not set`
        )
      }
      secrets.add(env[s.env], { label: `input "secrets" id=${s.id}` })
    }
    if (s.src !== undefined) {
      const path = isAbsolute(s.src) ? s.src : resolve(env.GITHUB_WORKSPACE ?? process.cwd(), s.src)
      if (!existsSync(path) || !statSync(path).isFile()) {
        throw new ConfigurationError(
          `input "secrets": id=${s.id} reads the file ${s.src}, which does not exist`
        )
      }
      s.src = path
    }
  }
  const digests = reader.list('digests', { commas: true })
  for (const d of digests)
    if (!isValidDigest(d)) throw invalidInput('digests', d, 'digests such as sha256:<64 hex>')
  if (mode === 'merge') {
    if (digests.length === 0)
      throw new ConfigurationError(
        'input "digests" is required with mode: merge (one per-platform digest per line)'
      )
    if (image === undefined && service === undefined) {
      throw new ConfigurationError('mode: merge needs input "image" or "service"')
    }
  }
  const cache = reader.line('cache', { default: 'registry' })
  if (cache !== 'registry' && cache !== 'none') {
    try {
      parseImageRef(cache)
    } catch (error) {
      throw invalidInput(
        'cache',
        cache,
        `"registry", "none" or an image reference for the cache (${(error as Error).message})`
      )
    }
  }
  const network = reader.optional('network')
  if (network !== undefined && !/^[a-z0-9_.:/-]+$/i.test(network)) {
    throw invalidInput('network', network, 'a network mode such as host, none or default')
  }
  const inputs: Inputs = {
    service,
    config: workspacePath(reader.line('config', { default: '.github/conveyor.yml' }), env),
    context: reader.optional('context'),
    dockerfile: reader.optional('dockerfile'),
    image,
    target: reader.optional('target'),
    registry,
    username,
    password,
    ca,
    insecure: reader.boolean('registry-insecure', false),
    tags,
    flavor,
    dryRun,
    labels: reader.keyValues('labels'),
    buildArgs: reader.keyValues('build-args', { keyPattern: /^[A-Za-z_][A-Za-z0-9_]*$/ }),
    secrets: buildSecrets,
    platforms,
    cache,
    push: reader.boolean('push', true),
    backend: reader.choice('backend', ['auto', 'buildx', 'docker', 'buildah'] as const, 'auto'),
    reuse: reader.boolean('reuse', true),
    mode,
    digests,
    resultsDir: reader.optional('results-dir'),
    network,
    timeoutMs: reader.duration('timeout', '60m', { min: 10_000 }),
    attest
  }
  // Every secret is registered by now (the password, the env values of `secrets`).
  refuseSecrets('build-args', inputs.buildArgs)
  refuseSecrets('labels', inputs.labels)
  refuseSecrets(
    'tags',
    tags.map(line => ['', line] as const)
  )
  refuseSecrets(
    'flavor',
    flavor.map(line => ['', line] as const)
  )
  // Syntax is checked before anything runs (after the secret check: errors quote the line);
  // values depend on the run's context.
  parseTagRules(tags)
  parseFlavor(flavor)
  if (dryRun && service === undefined && image === undefined) {
    throw new ConfigurationError(
      'dry-run: true needs input "service" or "image" (the image the tags are for; no context is read)'
    )
  }
  if (
    !dryRun &&
    mode === 'build' &&
    service === undefined &&
    (inputs.context === undefined || image === undefined)
  ) {
    throw new ConfigurationError(
      'input "service" is required, or else both "context" and "image" (with "dockerfile" defaulting to <context>/Dockerfile)'
    )
  }
  return inputs
}
