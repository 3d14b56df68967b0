/**
 * One registry's connection and login over src/core/http/client.ts: whether it speaks
 * TLS, the `WWW-Authenticate` Bearer and Basic token flows, and authenticated requests.
 * Every token a registry returns is registered as a secret at once.
 */
import { HttpClient } from '../core/http/client.js'
import { HttpError, type HttpResponse } from '../core/http/request.js'
import type { Logger } from '../core/logger.js'
import { secrets } from '../core/secrets.js'
import {
  apiHost,
  parseChallenge,
  RegistryAuthError,
  RegistryError,
  type Challenge,
  type RegistryLogin
} from './distribution.js'

/** Options of a registry client. */
export interface RegistryOptions extends RegistryLogin {
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

/**
 * The connection to one registry and its login: the scheme (an insecure registry may
 * speak plain HTTP), the Basic and Bearer token flows, authenticated requests and the
 * errors their answers become. The API operations are `RegistryClient`'s.
 */
export class RegistrySession {
  readonly host: string
  readonly stats: TransferStats = { requests: 0, bytesSent: 0, bytesReceived: 0 }
  private readonly http: HttpClient
  /** Without retries: finds out quickly whether an insecure registry speaks TLS. */
  private readonly probe: HttpClient | undefined
  protected scheme: 'https' | 'http' = 'https'
  protected schemeKnown = false
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

  protected async send(
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
  protected async call(
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

  protected scope(repository: string, action: Action): string {
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

  /** Close connections. */
  async close(): Promise<void> {
    await Promise.all([this.http.close(), this.probe?.close()])
  }
}
