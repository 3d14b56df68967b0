/**
 * A client of the OCI distribution spec (the registry HTTP API) over src/core/http/client.ts:
 * ping, the `WWW-Authenticate` Bearer and Basic token flows, manifests (HEAD, GET, PUT)
 * with the OCI and Docker media types, tag listing and blob existence. Enough to
 * re-tag an image without moving a layer and to stitch an index from per-platform
 * manifests. Every token a registry returns is registered as a secret at once.
 */
import { createHash } from 'node:crypto'
import { ConfigurationError } from '../core/errors.js'
import { HttpClient } from '../core/http/client.js'
import { HttpError, type HttpResponse } from '../core/http/request.js'
import type { Logger } from '../core/logger.js'
import { secrets } from '../core/secrets.js'

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

/** Options of a registry client. */
export interface RegistryOptions {
  /** `host[:port]`, e.g. `ghcr.io` or `127.0.0.1:5000`. */
  registry: string
  username?: string
  password?: string
  /** PEM of a private CA. */
  ca?: string
  /** Plain HTTP, or HTTPS without verification (tried first). Local registries only. */
  insecure?: boolean
  logger?: Logger
  timeoutMs?: number
  retries?: number
  backoffMs?: number
  sleep?: (ms: number) => Promise<void>
}

/** What a client moved over the wire (bodies only). */
export interface TransferStats {
  requests: number
  bytesSent: number
  bytesReceived: number
}

type Action = 'pull' | 'push' | 'pull,push'

const TLS_MISMATCH = new Set([
  'EPROTO',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'ECONNRESET',
  'UND_ERR_SOCKET',
  'ERR_SSL_PACKET_LENGTH_TOO_LONG'
])

/** A distribution-spec client for one registry. */
export class RegistryClient {
  readonly host: string
  readonly stats: TransferStats = { requests: 0, bytesSent: 0, bytesReceived: 0 }
  private readonly http: HttpClient
  /** Without retries: finds out quickly whether an insecure registry speaks TLS. */
  private readonly probe: HttpClient | undefined
  private scheme: 'https' | 'http' = 'https'
  private schemeKnown = false
  private authScheme: 'none' | 'basic' | 'bearer' | undefined
  private bearer: Challenge | undefined
  private readonly tokens = new Map<string, string>()

  constructor(readonly options: RegistryOptions) {
    this.host = apiHost(options.registry)
    if (options.password) secrets.add(options.password, { user: options.username })
    if (options.username && options.password) {
      secrets.add(Buffer.from(`${options.username}:${options.password}`).toString('base64'))
    }
    this.http = new HttpClient({
      ca: options.ca,
      insecure: options.insecure,
      timeoutMs: options.timeoutMs ?? 30_000,
      retries: options.retries,
      backoffMs: options.backoffMs,
      sleep: options.sleep,
      logger: options.logger,
      http2: true
    })
    this.probe = options.insecure
      ? new HttpClient({ insecure: true, timeoutMs: options.timeoutMs ?? 30_000, retries: 0 })
      : undefined
  }

  /** Base URL of the API (`https://host/v2/`), once the scheme is known. */
  get baseUrl(): string {
    return `${this.scheme}://${this.host}/v2/`
  }

  /**
   * Start connecting now, so that the first call finds the connection (TLS included)
   * ready. Not for an insecure registry, which may not speak TLS at all.
   */
  preconnect(): void {
    if (!this.options.insecure) this.http.preconnect(this.baseUrl)
  }

  private basicHeader(): string | undefined {
    const { username, password } = this.options
    if (!username && !password) return undefined
    return `Basic ${Buffer.from(`${username ?? ''}:${password ?? ''}`).toString('base64')}`
  }

  private async send(
    path: string,
    init: { method?: string; headers?: Record<string, string>; body?: Buffer; auth?: string }
  ): Promise<HttpResponse> {
    const headers: Record<string, string> = { ...(init.headers ?? {}) }
    if (init.auth) headers.authorization = init.auth
    const url = /^https?:/.test(path) ? path : `${this.scheme}://${this.host}${path}`
    let res: HttpResponse
    try {
      const req = { method: init.method, headers, body: init.body }
      if (!this.schemeKnown && this.probe) {
        // One quick try tells whether the server speaks TLS; a 429/5xx answer is retried below.
        res = await this.probe.request(url, req)
        this.schemeKnown = true
        if (res.status === 429 || res.status >= 500) res = await this.http.request(url, req)
      } else {
        res = await this.http.request(url, req)
      }
    } catch (error) {
      const code = /: ([A-Z_]+)(?: \(|$)/.exec((error as Error).message)?.[1]
      if (
        !this.schemeKnown &&
        this.options.insecure &&
        this.scheme === 'https' &&
        code &&
        TLS_MISMATCH.has(code)
      ) {
        this.options.logger?.info(`${this.host} does not speak TLS; using plain HTTP (insecure)`)
        this.scheme = 'http'
        this.schemeKnown = true
        return this.send(path, init)
      }
      if (error instanceof HttpError) {
        throw new RegistryError(`registry ${this.host} unreachable: ${error.message}`)
      }
      throw error
    }
    this.schemeKnown = true
    this.stats.requests++
    this.stats.bytesSent += init.body?.length ?? 0
    this.stats.bytesReceived += res.body.length
    return res
  }

  /** Fetch (and cache) a Bearer token for a scope, with Basic credentials when we have them. */
  private async token(scope: string | undefined): Promise<string> {
    const key = scope ?? ''
    const cached = this.tokens.get(key)
    if (cached) return cached
    const challenge = this.bearer!
    const realm = challenge.params.realm
    if (!realm) throw new RegistryError(`registry ${this.host}: Bearer challenge without a realm`)
    const url = new URL(realm)
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service)
    if (scope) url.searchParams.set('scope', scope)
    const basic = this.basicHeader()
    const res = await this.send(url.href, { auth: basic })
    if (res.status === 401 || res.status === 403) {
      throw this.authError(res.status, 'token request')
    }
    if (res.status !== 200) {
      throw new RegistryError(
        `registry ${this.host}: token service ${url.origin} answered HTTP ${res.status}`,
        res.status
      )
    }
    let token: string | undefined
    try {
      const body = res.json<{ token?: string; access_token?: string }>()
      token = body.token ?? body.access_token
    } catch {
      token = undefined
    }
    if (!token) throw new RegistryError(`registry ${this.host}: token service returned no token`)
    secrets.add(token)
    this.tokens.set(key, token)
    return token
  }

  private authError(status: 401 | 403, what: string): RegistryAuthError {
    const who = this.options.username ? `user "${this.options.username}"` : 'anonymous access'
    if (status === 401) {
      return new RegistryAuthError(
        `registry ${this.host} rejected the login of ${who} (HTTP 401 on ${what}): check registry-username and registry-password`,
        401
      )
    }
    return new RegistryAuthError(
      `registry ${this.host}: ${who} is logged in but not allowed to ${what} (HTTP 403): grant push/pull permission on the repository (for GHCR: permissions: packages: write)`,
      403
    )
  }

  private async authHeader(scope: string | undefined): Promise<string | undefined> {
    if (this.authScheme === 'bearer') return `Bearer ${await this.token(scope)}`
    if (this.authScheme === 'none') return undefined
    // Basic, or not known yet: the credentials go along at once, which saves the 401
    // round trip on Basic registries; a Bearer registry answers with its challenge.
    return this.basicHeader()
  }

  /** Send with authentication: learn the scheme from a 401 challenge, then retry once. */
  private async call(
    path: string,
    init: { method?: string; headers?: Record<string, string>; body?: Buffer },
    scope: string | undefined,
    what: string
  ): Promise<HttpResponse> {
    const auth = await this.authHeader(scope)
    let res = await this.send(path, { ...init, auth })
    if (res.status === 401) {
      const challenge = parseChallenge(res.headers['www-authenticate'])
      if (challenge?.scheme === 'bearer') {
        this.authScheme = 'bearer'
        this.bearer = challenge
        // A scope we did not ask for (the challenge names one): use the registry's.
        this.tokens.delete(scope ?? '')
        res = await this.send(path, {
          ...init,
          auth: `Bearer ${await this.token(challenge.params.scope ?? scope)}`
        })
      }
    } else if (this.authScheme === undefined && auth?.startsWith('Basic ')) {
      this.authScheme = 'basic'
    }
    if (res.status === 401) throw this.authError(401, what)
    if (res.status === 403) throw this.authError(403, what)
    return res
  }

  private scope(repository: string, action: Action): string {
    return `repository:${repository}:${action}`
  }

  /** Check the API answers and the credentials work (`GET /v2/`). */
  async ping(): Promise<{ authScheme: 'none' | 'basic' | 'bearer' }> {
    const res = await this.call('/v2/', {}, undefined, 'login')
    if (res.status !== 200) {
      throw new RegistryError(
        `registry ${this.host}: GET /v2/ answered HTTP ${res.status}; is this a container registry?`,
        res.status
      )
    }
    this.authScheme ??= 'none'
    return { authScheme: this.authScheme }
  }

  /**
   * An authenticated request on one repository, for operations built on this client in
   * other modules (blob upload, the referrers API): `path` is `/v2/<repository>/...` or an
   * absolute URL the registry gave (an upload location). 401/403 throw RegistryAuthError.
   */
  async request(
    repository: string,
    path: string,
    init: { method?: string; headers?: Record<string, string>; body?: Buffer },
    access: 'pull' | 'push',
    what: string
  ): Promise<HttpResponse> {
    const scope = this.scope(repository, access === 'push' ? 'pull,push' : 'pull')
    return this.call(path, init, scope, what)
  }

  /** Throw the RegistryError for an answer the caller cannot go on with. */
  fail(res: HttpResponse, what: string): never {
    let code: string | undefined
    let detail = ''
    try {
      const body = res.json<{ errors?: { code?: string; message?: string }[] }>()
      code = body.errors?.[0]?.code
      detail = body.errors?.map(e => `${e.code ?? ''} ${e.message ?? ''}`.trim()).join('; ') ?? ''
    } catch {
      detail = res.text().slice(0, 200)
    }
    throw new RegistryError(
      secrets.redact(
        `registry ${this.host}: ${what} answered HTTP ${res.status}${detail ? `: ${detail}` : ''}`
      ),
      res.status,
      code
    )
  }

  /** Describe a manifest by tag or digest; undefined when it does not exist. */
  async headManifest(repository: string, reference: string): Promise<ManifestInfo | undefined> {
    const what = `read ${repository}:${reference}`
    const res = await this.call(
      `/v2/${repository}/manifests/${reference}`,
      { method: 'HEAD', headers: { accept: MANIFEST_ACCEPT } },
      this.scope(repository, 'pull'),
      what
    )
    if (res.status === 404) return undefined
    if (res.status !== 200) this.fail(res, `HEAD ${repository}:${reference}`)
    const digest = res.headers['docker-content-digest']
    if (!digest) {
      // Some registries omit the header on HEAD; GET and hash instead.
      const m = await this.getManifest(repository, reference)
      return m && { digest: m.digest, mediaType: m.mediaType, size: m.size }
    }
    return {
      digest,
      mediaType: (res.headers['content-type'] ?? '').split(';')[0]!.trim(),
      size: Number(res.headers['content-length'] ?? 0)
    }
  }

  /** Fetch a manifest's exact bytes; undefined when it does not exist. */
  async getManifest(repository: string, reference: string): Promise<Manifest | undefined> {
    const res = await this.call(
      `/v2/${repository}/manifests/${reference}`,
      { headers: { accept: MANIFEST_ACCEPT } },
      this.scope(repository, 'pull'),
      `read ${repository}:${reference}`
    )
    if (res.status === 404) return undefined
    if (res.status !== 200) this.fail(res, `GET manifest ${repository}:${reference}`)
    const digest = sha256Digest(res.body)
    if (reference.startsWith('sha256:') && reference !== digest) {
      throw new RegistryError(
        `registry ${this.host}: manifest ${repository}@${reference} has digest ${digest}`
      )
    }
    let mediaType = (res.headers['content-type'] ?? '').split(';')[0]!.trim()
    try {
      mediaType = res.json<{ mediaType?: string }>().mediaType ?? mediaType
    } catch {
      // keep the header's
    }
    return { digest, mediaType, size: res.body.length, body: res.body }
  }

  /**
   * Store a manifest under a tag (or its digest). Returns the digest the registry
   * reports, checked against the bytes sent.
   */
  async putManifest(
    repository: string,
    reference: string,
    body: Buffer,
    mediaType: string
  ): Promise<string> {
    const pushed = await this.pushManifest(repository, reference, body, mediaType)
    if (pushed.conflict) {
      throw new RegistryError(
        `registry ${this.host}: PUT ${repository}:${reference} answered HTTP 412 (precondition failed)`,
        412
      )
    }
    return pushed.digest
  }

  /**
   * `putManifest` with the registry's response headers (`OCI-Subject` tells whether it
   * handled a manifest's `subject`) and extra request headers (`If-Match`); a 412 (the
   * condition failed) comes back as `conflict` instead of an error.
   */
  async pushManifest(
    repository: string,
    reference: string,
    body: Buffer,
    mediaType: string,
    headers: Record<string, string> = {}
  ): Promise<{ digest: string; headers: Record<string, string>; conflict?: true }> {
    const res = await this.call(
      `/v2/${repository}/manifests/${reference}`,
      { method: 'PUT', headers: { ...headers, 'content-type': mediaType }, body },
      this.scope(repository, 'pull,push'),
      `push to ${repository}`
    )
    if (res.status === 412)
      return { digest: sha256Digest(body), headers: res.headers, conflict: true }
    if (res.status !== 201 && res.status !== 200) {
      this.fail(res, `PUT ${repository}:${reference} (tag rejected?)`)
    }
    const digest = sha256Digest(body)
    const reported = res.headers['docker-content-digest']
    if (reported && reported !== digest) {
      throw new RegistryError(
        `registry ${this.host}: stored ${repository}:${reference} as ${reported}, expected ${digest}`
      )
    }
    return { digest, headers: res.headers }
  }

  /** Every tag of a repository (follows `Link` pagination); [] when the repository is unknown. */
  async listTags(repository: string): Promise<string[]> {
    const out: string[] = []
    let path: string | undefined = `/v2/${repository}/tags/list?n=1000`
    for (let page = 0; path && page < 100; page++) {
      const res = await this.call(
        path,
        {},
        this.scope(repository, 'pull'),
        `list tags of ${repository}`
      )
      if (res.status === 404) return out
      if (res.status !== 200) this.fail(res, `list tags of ${repository}`)
      out.push(...(res.json<{ tags?: string[] | null }>().tags ?? []))
      const next = /<([^>]+)>\s*;\s*rel="?next"?/.exec(res.headers.link ?? '')?.[1]
      path = next
        ? new URL(next, `${this.scheme}://${this.host}`).pathname +
          new URL(next, `${this.scheme}://${this.host}`).search
        : undefined
    }
    return out
  }

  /** Whether a blob exists in a repository. */
  async blobExists(repository: string, digest: string): Promise<boolean> {
    const res = await this.call(
      `/v2/${repository}/blobs/${digest}`,
      { method: 'HEAD' },
      this.scope(repository, 'pull'),
      `read ${repository}`
    )
    if (res.status === 404) return false
    if (res.status === 200 || res.status === 307 || res.status === 302) return true
    this.fail(res, `HEAD blob ${repository}@${digest}`)
  }

  /** A small blob's bytes (image configs); follows one redirect without credentials. */
  async getBlob(repository: string, digest: string): Promise<Buffer> {
    let res = await this.call(
      `/v2/${repository}/blobs/${digest}`,
      {},
      this.scope(repository, 'pull'),
      `read ${repository}`
    )
    if ([301, 302, 303, 307, 308].includes(res.status) && res.headers.location) {
      res = await this.send(new URL(res.headers.location, this.baseUrl).href, {})
    }
    if (res.status !== 200) this.fail(res, `GET blob ${repository}@${digest}`)
    if (sha256Digest(res.body) !== digest) {
      throw new RegistryError(`registry ${this.host}: blob ${digest} does not match its digest`)
    }
    return res.body
  }

  /** Close connections. */
  async close(): Promise<void> {
    await Promise.all([this.http.close(), this.probe?.close()])
  }
}
