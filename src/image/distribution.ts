/**
 * The vocabulary of the OCI distribution spec (the registry HTTP API): the manifest media
 * types, digests, the errors a registry answer becomes, `WWW-Authenticate` challenges,
 * Docker Hub's API host, and a registry's login (`RegistryLogin`). Pure.
 */
import { createHash } from 'node:crypto'
import { ConfigurationError } from '../core/errors.js'

/** The manifest media types we read and write. */
export const MediaTypes = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json'
} as const

/** `Accept` for manifest requests: every type we understand. */
export const MANIFEST_ACCEPT = Object.values(MediaTypes).join(', ')

/** Whether a media type is an index (multi-platform list). */
export function isIndexType(mediaType: string): boolean {
  return mediaType === MediaTypes.ociIndex || mediaType === MediaTypes.dockerList
}

/** `sha256:<hex>` of some bytes. */
export function sha256Digest(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`
}

/** A registry answer we cannot go on with (not an authentication problem). */
export class RegistryError extends Error {
  override name = 'RegistryError'
  constructor(
    message: string,
    readonly status?: number,
    readonly code?: string
  ) {
    super(message)
  }
}

/** 401 (the login failed) or 403 (logged in, but not allowed): the user's to fix. */
export class RegistryAuthError extends ConfigurationError {
  override name = 'RegistryAuthError'
  constructor(
    message: string,
    readonly status: 401 | 403
  ) {
    super(message)
  }
}

/** One parsed `WWW-Authenticate` challenge. */
export interface Challenge {
  scheme: string
  params: Record<string, string>
}

/** Parse a `WWW-Authenticate` header (first challenge; quoted and bare params). */
export function parseChallenge(header: string | undefined): Challenge | undefined {
  if (!header) return undefined
  const m = /^\s*([A-Za-z][A-Za-z0-9_-]*)\s*(.*)$/s.exec(header)
  if (!m) return undefined
  const params: Record<string, string> = {}
  const re = /([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?/g
  for (const p of m[2]!.matchAll(re)) {
    params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!
  }
  return { scheme: m[1]!.toLowerCase(), params }
}

/**
 * How to reach and log in to one registry: the one shape of its credentials and TLS
 * settings, for the action's own registry calls, the builders' auth file and the base
 * image lookups alike.
 */
export interface RegistryLogin {
  /** `host[:port]`, e.g. `ghcr.io` or `127.0.0.1:5000`. */
  registry: string
  username?: string
  password?: string
  /** PEM of a private CA to trust (with the system roots when a chain needs them). */
  ca?: string
  /** Plain HTTP, or HTTPS without verification (tried first). Local registries only. */
  insecure?: boolean
}

/** The API host of a registry name: Docker Hub's names map to registry-1.docker.io. */
export function apiHost(registry: string): string {
  return ['docker.io', 'index.docker.io', 'registry-1.docker.io'].includes(registry)
    ? 'registry-1.docker.io'
    : registry
}

/** A manifest as the registry describes it. */
export interface ManifestInfo {
  digest: string
  mediaType: string
  size: number
}

/** A manifest with its bytes, exactly as stored (digests are over these bytes). */
export interface Manifest extends ManifestInfo {
  body: Buffer
}
