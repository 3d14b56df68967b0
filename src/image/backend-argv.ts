/**
 * The command lines of the image builders, one pure function per command: `docker buildx
 * build`, `docker build`, `docker push`, `buildah bud` and `buildah push`, the `secrets`
 * input's items, and the per-service cache reference. Credentials are never argv: every
 * builder reads them from the 0600 auth file (auth-dir.ts).
 */
import { ConfigurationError } from '../core/errors.js'

/** The backends. */
export type BackendName = 'buildx' | 'docker' | 'buildah'

/** A BuildKit secret: `id=..,env=..` or `id=..,src=..`. */
export interface BuildSecret {
  id: string
  env?: string
  src?: string
}

/** Parse the `secrets` input's items (`id=x,env=Y` / `id=x,src=path`). */
export function parseBuildSecret(item: string): BuildSecret {
  const fields = new Map<string, string>()
  for (const part of item.split(',')) {
    const at = part.indexOf('=')
    if (at <= 0) break
    fields.set(part.slice(0, at).trim(), part.slice(at + 1).trim())
  }
  const id = fields.get('id')
  const env = fields.get('env')
  const src = fields.get('src') ?? fields.get('source')
  const keys = [...fields.keys()].filter(k => !['id', 'env', 'src', 'source', 'type'].includes(k))
  if (!id || !/^[A-Za-z0-9_.-]+$/.test(id) || (!env && !src) || (env && src) || keys.length > 0) {
    throw new ConfigurationError(
      `input "secrets": got ${JSON.stringify(item)}, expected "id=<name>,env=<VARIABLE>" or "id=<name>,src=<file>" (the value itself never goes in this input)`
    )
  }
  if (env && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(env)) {
    throw new ConfigurationError(
      `input "secrets": got env=${JSON.stringify(env)}, expected an environment variable name`
    )
  }
  return { id, env, src }
}

/** Everything a backend needs to build (and push) one image. */
export interface BuildSpec {
  context: string
  dockerfile: string
  /** The full reference the builder tags and pushes, e.g. `reg/app:ctx-<hash>`. */
  ref: string
  buildArgs: readonly [string, string][]
  labels: readonly [string, string][]
  secrets: readonly BuildSecret[]
  platforms: readonly string[]
  target?: string
  /** Registry cache reference (`<image>:buildcache`), or undefined for no cache. */
  cacheRef?: string
  push: boolean
  /** Build network mode, e.g. `host`. */
  network?: string
  /** Directory holding the docker-style `config.json` with the registry auth. */
  authDir?: string
  /** Directory holding `ca.crt` of a private registry CA. */
  certDir?: string
  /** Registry is plain HTTP or unverified TLS. */
  insecure?: boolean
  /** Where the backend writes the image ID / metadata / digest. */
  idFile: string
}

const pairs = (flag: string, items: readonly [string, string][]): string[] =>
  items.flatMap(([k, v]) => [flag, `${k}=${v}`])

const secretFlags = (secrets: readonly BuildSecret[]): string[] =>
  secrets.flatMap(s => ['--secret', s.env ? `id=${s.id},env=${s.env}` : `id=${s.id},src=${s.src}`])

/** `docker buildx build` argv (after `docker`). Pushes itself with `--push`. */
export function buildxArgv(spec: BuildSpec): string[] {
  const argv = ['buildx', 'build', '--file', spec.dockerfile, '--progress', 'plain']
  if (spec.target) argv.push('--target', spec.target)
  if (spec.platforms.length > 0) argv.push('--platform', spec.platforms.join(','))
  if (spec.network) argv.push('--network', spec.network)
  argv.push(...pairs('--build-arg', spec.buildArgs), ...pairs('--label', spec.labels))
  argv.push(...secretFlags(spec.secrets))
  argv.push('--tag', spec.ref)
  if (spec.cacheRef) {
    argv.push('--cache-from', `type=registry,ref=${spec.cacheRef}`)
    if (spec.push) argv.push('--cache-to', `type=registry,ref=${spec.cacheRef},mode=max`)
  }
  // No attestation manifests: the pushed digest is the image (or platform index) itself.
  argv.push('--provenance=false', '--sbom=false', '--metadata-file', spec.idFile)
  if (spec.push) argv.push('--push')
  else if (spec.platforms.length <= 1) argv.push('--load')
  argv.push(spec.context)
  return argv
}

/** `docker build` argv (after `docker`); `buildkit` says whether BuildKit features may be used. */
export function dockerArgv(spec: BuildSpec, buildkit: boolean): string[] {
  if (spec.platforms.length > 1) {
    throw new ConfigurationError(
      `input "platforms": plain docker build builds one platform, got ${spec.platforms.join(', ')}; use backend buildx or buildah, or one platform per leg and mode: merge`
    )
  }
  if (!buildkit && spec.secrets.length > 0) {
    throw new ConfigurationError(
      'input "secrets": the classic docker builder (no buildx plugin) cannot pass BuildKit secrets; use backend buildah or install docker buildx'
    )
  }
  const argv = ['build', '--file', spec.dockerfile, '--iidfile', spec.idFile]
  if (spec.target) argv.push('--target', spec.target)
  // The classic builder builds for the daemon's platform only.
  if (buildkit && spec.platforms.length === 1) argv.push('--platform', spec.platforms[0]!)
  if (spec.network) argv.push('--network', spec.network)
  argv.push(...pairs('--build-arg', spec.buildArgs), ...pairs('--label', spec.labels))
  if (buildkit) argv.push(...secretFlags(spec.secrets))
  if (spec.cacheRef && buildkit) {
    argv.push('--cache-from', spec.cacheRef, '--build-arg', 'BUILDKIT_INLINE_CACHE=1')
  }
  argv.push('--tag', spec.ref, spec.context)
  return argv
}

/** `docker push` argv. */
export function dockerPushArgv(ref: string): string[] {
  return ['push', ref]
}

/** Flags buildah shares between bud and push: auth file, CA dir, TLS verification. */
function buildahRegistryFlags(spec: BuildSpec): string[] {
  const flags: string[] = []
  if (spec.authDir) flags.push('--authfile', `${spec.authDir}/config.json`)
  if (spec.certDir) flags.push('--cert-dir', spec.certDir)
  if (spec.insecure) flags.push('--tls-verify=false')
  return flags
}

/** `buildah bud` argv. Several platforms build into a manifest list named `spec.ref`. */
export function buildahBudArgv(spec: BuildSpec): string[] {
  // Several platforms build a manifest list: no single image ID to write, and buildah's
  // layer cache (1.28) mixes up the platforms of identical steps, so no layer cache then.
  const single = spec.platforms.length <= 1
  const argv = ['bud', '--file', spec.dockerfile]
  if (single) argv.push('--layers', '--iidfile', spec.idFile)
  else argv.push('--layers=false')
  argv.push(...buildahRegistryFlags(spec))
  if (spec.target) argv.push('--target', spec.target)
  if (spec.platforms.length > 0) argv.push('--platform', spec.platforms.join(','))
  if (spec.network) argv.push('--network', spec.network)
  argv.push(...pairs('--build-arg', spec.buildArgs), ...pairs('--label', spec.labels))
  argv.push(...secretFlags(spec.secrets))
  if (spec.cacheRef && single) {
    // buildah's cache is a repository of its own (one tag per layer key).
    argv.push('--cache-from', spec.cacheRef)
    if (spec.push) argv.push('--cache-to', spec.cacheRef)
  }
  if (spec.platforms.length > 1) argv.push('--manifest', spec.ref)
  else argv.push('--tag', spec.ref)
  argv.push(spec.context)
  return argv
}

/** `buildah push` (or `manifest push --all` for several platforms) argv. */
export function buildahPushArgv(spec: BuildSpec, digestFile: string): string[] {
  const flags = [...buildahRegistryFlags(spec), '--digestfile', digestFile]
  return spec.platforms.length > 1
    ? ['manifest', 'push', '--all', ...flags, spec.ref, `docker://${spec.ref}`]
    : ['push', ...flags, spec.ref, `docker://${spec.ref}`]
}

/** The registry cache reference of an image for a backend (per service, never shared). */
export function cacheRefFor(backend: BackendName, image: string): string {
  return backend === 'buildah' ? `${image}-buildcache` : `${image}:buildcache`
}
