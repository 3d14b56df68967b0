/**
 * A small Argo CD REST client over HttpClient: version preflight, session login,
 * applications (get, list, sync, terminate, resource tree) and the watch stream
 * (a resource's live object and actions: client-resources.ts).
 * Answers are checked for the mistakes users make: an HTML page instead of the API
 * (wrong base URL, an access proxy's login page), and 401/403/404/415 become
 * messages that say what to fix.
 */
import { ConfigurationError } from '../core/errors.js'
import type { HttpClient } from '../core/http/client.js'
import {
  HttpError,
  type HttpRequest,
  type HttpResponse,
  type HttpStream
} from '../core/http/request.js'
import type { Application } from './application.js'
import { secrets } from '../core/secrets.js'

/** gRPC codes the Argo CD API puts in `code`. */
export const GrpcCode = {
  InvalidArgument: 3,
  NotFound: 5,
  PermissionDenied: 7,
  FailedPrecondition: 9,
  Unauthenticated: 16
} as const

/** An API answer that is an error the caller may handle (retry, report). */
export class ArgoApiError extends Error {
  override name = 'ArgoApiError'
  constructor(
    message: string,
    readonly status: number,
    readonly code: number | undefined,
    readonly serverMessage: string
  ) {
    super(message)
  }
}

/** The app scope of a request. */
export interface AppScope {
  appNamespace?: string
  project?: string
}

/**
 * A sync request body (ApplicationSyncRequest). A multi-source app takes `revisions`
 * with `sourcePositions` (1-based, sent as JSON numbers) and ignores `revision`.
 */
export interface SyncRequest {
  revision?: string
  revisions?: string[]
  sourcePositions?: number[]
  prune?: boolean
  dryRun?: boolean
  strategy?: { hook?: { force?: boolean }; apply?: { force?: boolean } }
  syncOptions?: { items: string[] }
  resources?: { group: string; kind: string; name: string; namespace?: string }[]
}

/** Whether a response is an HTML page (the web UI, a login page), not the API. */
export function isHtml(res: HttpResponse): boolean {
  const type = res.headers['content-type'] ?? ''
  if (type.includes('text/html')) return true
  return /^\s*<(!doctype|html|head|body)/i.test(res.body.subarray(0, 200).toString('utf8'))
}

function errorBody(res: HttpResponse): { code?: number; message: string } {
  try {
    const body = res.json<{ code?: number; message?: string; error?: string }>()
    return { code: body.code, message: body.message ?? body.error ?? '' }
  } catch {
    return { message: res.text().slice(0, 200).trim() }
  }
}

/** Argo CD over REST. */
export class ArgoClient {
  private token: string | undefined

  constructor(
    private readonly http: HttpClient,
    /** The server base URL without a trailing slash (may carry a root path). */
    readonly base: string,
    /** A time (ms since the epoch) no request of this client may outlast. */
    readonly deadline?: number
  ) {}

  /** Use a bearer token from now on (registers it as a secret). */
  setToken(token: string): void {
    secrets.add(token)
    this.token = token
  }

  /**
   * The same client with another deadline: every request it sends, retries included,
   * ends by then. A view: the rest (token, connections) is read through to this one.
   */
  withDeadline(deadline: number): ArgoClient {
    return Object.create(this, { deadline: { value: deadline } }) as ArgoClient
  }

  /** Send one request by this client's deadline (the resource calls use it too). */
  send(url: string, req: HttpRequest = {}): Promise<HttpResponse> {
    return this.http.request(url, { deadline: this.deadline, ...req })
  }

  /** An API URL with its query (empty values left out). */
  url(path: string, query: Record<string, string | string[] | undefined> = {}): string {
    const url = new URL(`${this.base}${path}`)
    for (const [k, v] of Object.entries(query)) {
      if (v === undefined || v === '') continue
      for (const item of Array.isArray(v) ? v : [v]) url.searchParams.append(k, item)
    }
    return url.href
  }

  /** `Accept` and the bearer token. */
  headers(): Record<string, string> {
    const h: Record<string, string> = { accept: 'application/json' }
    if (this.token) h.authorization = `Bearer ${this.token}`
    return h
  }

  /** Map a non-2xx or HTML answer to an error; return the parsed JSON otherwise. */
  check<T>(res: HttpResponse, what: string, scope: AppScope & { app?: string } = {}): T {
    if (isHtml(res)) {
      throw new ConfigurationError(
        `${what}: ${this.base} answered with an HTML page (status ${res.status}), not the Argo CD API. ` +
          `Set input "server" to the Argo CD base URL (e.g. https://argocd.example.com, plus the root path if the server runs with --rootpath), ` +
          `and if an access proxy (Cloudflare Access, an SSO gateway) sits in front of it, pass its credentials through input "headers"`
      )
    }
    if (res.status >= 200 && res.status < 300) {
      try {
        return res.json<T>()
      } catch {
        throw new ArgoApiError(`${what}: the answer is not JSON`, res.status, undefined, '')
      }
    }
    const body = errorBody(res)
    const detail = secrets.redact(body.message)
    const app = scope.app ? `application "${scope.app}"` : 'the request'
    switch (res.status) {
      case 401:
        throw new ConfigurationError(
          `${what}: Argo CD rejected the credentials (401 ${detail || 'Unauthenticated'}). ` +
            `Check input "token" (expired or revoked? it must be an account token with the apiKey capability) or "username"/"password"`
        )
      case 403:
        if (/sync window/i.test(detail)) {
          throw new ConfigurationError(
            `${what}: ${detail} (403). A deny sync window of the project blocks manual syncs now: wait for the window to close, or allow manual syncs in it (manualSync: true)`
          )
        }
        throw new ConfigurationError(
          `${what}: permission denied for ${app} (403${detail ? `: ${detail}` : ''}). ` +
            (scope.app && !scope.project
              ? `Argo CD answers 403 both when the application does not exist and when the account may not see it: check the name${scope.appNamespace ? ` and app-namespace "${scope.appNamespace}"` : ' (and set input "app-namespace" if it lives outside the control plane namespace)'}, set input "project" to get a clear "not found", and check the account's RBAC (applications, get and sync)`
              : `Check the account's RBAC policy (applications, get and sync${scope.project ? ` in project "${scope.project}"` : ''})`)
        )
      case 404:
        if (scope.app) {
          throw new ConfigurationError(
            `${what}: ${app} not found${scope.project ? ` in project "${scope.project}"` : ''}${scope.appNamespace ? ` in namespace "${scope.appNamespace}"` : ''} (${detail || 'NotFound'}). Check input "applications", "project" and "app-namespace"`
          )
        }
        throw new ConfigurationError(
          `${what}: ${res.url.replace(/\?.*$/, '')} answered 404: input "server" does not point at an Argo CD API (it should be the base URL, without /api or /applications)`
        )
      case 415:
        throw new ConfigurationError(
          `${what}: 415 Unsupported Media Type: the server did not accept "Content-Type: application/json"; a proxy in front of Argo CD may rewrite request headers`
        )
    }
    throw new ArgoApiError(
      `${what}: HTTP ${res.status}${body.code !== undefined ? ` (code ${body.code})` : ''}: ${detail || 'no message'}`,
      res.status,
      body.code,
      detail
    )
  }

  /** `GET /api/version`: proves the base URL reaches the API. */
  async version(): Promise<{ Version?: string }> {
    let res: HttpResponse
    try {
      res = await this.send(this.url('/api/version'), { headers: this.headers() })
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error)
      if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|altnames/i.test(text)) {
        throw new ConfigurationError(
          `preflight: TLS verification of ${this.base} failed (${text}). Set input "ca-cert" to the PEM of the CA that signed the server certificate (or "insecure: true" for a throwaway test server)`
        )
      }
      if (/ECONNREFUSED|ENOTFOUND|EAI_AGAIN/.test(text)) {
        throw new ConfigurationError(
          `preflight: cannot reach ${this.base} (${text}). Check input "server" and that the runner can reach it (proxy variables HTTPS_PROXY/NO_PROXY are honoured)`
        )
      }
      if (error instanceof HttpError && error.timeout !== undefined) {
        throw new Error(
          `preflight: no answer from ${this.base} (${text}). Check input "server" and that the Argo CD API (or a proxy in front of it) answers the runner`
        )
      }
      throw error
    }
    return this.check(res, 'preflight GET /api/version')
  }

  /** `POST /api/v1/session`: exchange username and password for a session token. */
  async login(username: string, password: string): Promise<string> {
    const res = await this.send(this.url('/api/v1/session'), {
      method: 'POST',
      json: { username, password },
      headers: { accept: 'application/json' },
      retry: true
    })
    if (res.status === 401 || res.status === 403) {
      throw new ConfigurationError(
        `login: Argo CD rejected username "${username}" and the password (${res.status}). Check inputs "username" and "password", or use "token"`
      )
    }
    const body = this.check<{ token?: string }>(res, 'login POST /api/v1/session')
    if (!body.token)
      throw new ArgoApiError('login: the answer holds no token', res.status, undefined, '')
    this.setToken(body.token)
    return body.token
  }

  /** `GET /api/v1/applications/{name}`, optionally refreshing first. */
  async get(name: string, scope: AppScope, refresh?: 'normal' | 'hard'): Promise<Application> {
    const res = await this.send(
      this.url(`/api/v1/applications/${encodeURIComponent(name)}`, {
        appNamespace: scope.appNamespace,
        project: scope.project,
        refresh
      }),
      { headers: this.headers() }
    )
    return this.check(res, `GET application "${name}"`, { ...scope, app: name })
  }

  /** `GET /api/v1/applications` filtered by selector and project. */
  async list(scope: AppScope & { selector?: string }): Promise<Application[]> {
    const res = await this.send(
      this.url('/api/v1/applications', {
        appNamespace: scope.appNamespace,
        projects: scope.project,
        selector: scope.selector
      }),
      { headers: this.headers() }
    )
    const body = this.check<{ items?: Application[] | null }>(res, 'list applications', scope)
    return body.items ?? []
  }

  /**
   * `POST /api/v1/applications/{name}/sync`. Returns the app with `operation` set
   * and the server's `Date` (ms) when it answered.
   */
  async sync(
    name: string,
    scope: AppScope,
    body: SyncRequest
  ): Promise<{ app: Application; serverDate?: number }> {
    const res = await this.send(this.url(`/api/v1/applications/${encodeURIComponent(name)}/sync`), {
      method: 'POST',
      headers: this.headers(),
      json: { name, ...scope, ...body },
      // 429 and 5xx before the server acted are safe to retry; a duplicate sync
      // while ours runs answers "another operation is already in progress".
      retry: true
    })
    const app = this.check<Application>(res, `sync "${name}"`, { ...scope, app: name })
    const date = Date.parse(res.headers.date ?? '')
    return { app, serverDate: Number.isNaN(date) ? undefined : date }
  }

  /** `DELETE /api/v1/applications/{name}/operation`: terminate the running operation. */
  async terminate(name: string, scope: AppScope): Promise<void> {
    const res = await this.send(
      this.url(`/api/v1/applications/${encodeURIComponent(name)}/operation`, {
        appNamespace: scope.appNamespace,
        project: scope.project
      }),
      { method: 'DELETE', headers: this.headers() }
    )
    this.check(res, `terminate the operation of "${name}"`, { ...scope, app: name })
  }

  /** `GET /api/v1/applications/{name}/resource-tree`. */
  async resourceTree(
    name: string,
    scope: AppScope
  ): Promise<{
    nodes?: {
      group?: string
      kind?: string
      namespace?: string
      name?: string
      health?: { status?: string; message?: string }
    }[]
  }> {
    const res = await this.send(
      this.url(`/api/v1/applications/${encodeURIComponent(name)}/resource-tree`, {
        appNamespace: scope.appNamespace,
        project: scope.project
      }),
      { headers: this.headers() }
    )
    return this.check(res, `resource tree of "${name}"`, { ...scope, app: name })
  }

  /**
   * Open `GET /api/v1/stream/applications?name=...`. `openTimeoutMs` bounds the wait
   * for the response headers (a buffering proxy never sends them).
   */
  async watch(
    name: string,
    scope: AppScope,
    options: { sse?: boolean; openTimeoutMs: number }
  ): Promise<HttpStream> {
    const stream = await this.http.stream(
      this.url('/api/v1/stream/applications', {
        name,
        appNamespace: scope.appNamespace,
        projects: scope.project
      }),
      {
        headers: {
          ...this.headers(),
          accept: options.sse ? 'text/event-stream' : 'application/json'
        },
        timeoutMs: options.openTimeoutMs,
        deadline: this.deadline
      }
    )
    if (stream.status !== 200) {
      stream.close()
      throw new ArgoApiError(`watch "${name}": HTTP ${stream.status}`, stream.status, undefined, '')
    }
    const type = stream.headers['content-type'] ?? ''
    if (type.includes('text/html')) {
      stream.close()
      throw new ArgoApiError(`watch "${name}": HTML instead of a stream`, 200, undefined, '')
    }
    return stream
  }
}
