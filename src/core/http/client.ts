/**
 * HTTP over undici: a timeout on every request (capped by the caller's deadline, so
 * retries cannot outlast it), retries with jittered exponential back-off that
 * honour `Retry-After` on 429 and 5xx, the standard proxy variables
 * (HTTPS_PROXY, HTTP_PROXY, NO_PROXY), and TLS options per client (a private CA,
 * or `insecure`), never process-wide.
 */
import type { Socket } from 'node:net'
import { createSecureContext, rootCertificates, type SecureContext, type TLSSocket } from 'node:tls'
import {
  Agent,
  buildConnector,
  Client,
  ProxyAgent,
  request as undiciRequest,
  type Dispatcher
} from 'undici'
import type { Logger } from '../logger.js'
import { secrets } from '../secrets.js'

/** Options of one client. */
export interface HttpClientOptions {
  /**
   * PEM of extra CA certificates to trust, with the system ones: alone at first, the
   * system roots added once a server's chain needs them.
   */
  ca?: string
  /**
   * The public roots trusted next to `ca` once a server's chain needs them (default:
   * Node's bundled roots; tests give their own).
   */
  roots?: readonly string[]
  /** Skip TLS verification. Only for local test servers; callers warn. */
  insecure?: boolean
  /** Default per-request timeout in ms (default 30 s). */
  timeoutMs?: number
  /** Attempts after the first on 429/5xx/network errors (default 3). */
  retries?: number
  /** First back-off in ms (default 500); doubles each time, jittered. */
  backoffMs?: number
  /** Cap for one wait, including Retry-After (default 30 s). */
  maxBackoffMs?: number
  /** Headers sent on every request. */
  headers?: Record<string, string>
  logger?: Logger
  /** Environment to read the proxy variables from (default process.env). */
  env?: NodeJS.ProcessEnv
  /** Sleep function; tests may speed it up. */
  sleep?: (ms: number) => Promise<void>
  /**
   * Offer HTTP/2 (ALPN) on direct TLS connections: parallel requests share one
   * connection, and a HEAD does not cost a new connection (HTTP/1.1 closes after it).
   */
  http2?: boolean
}

/** One request. */
export interface HttpRequest {
  method?: string
  headers?: Record<string, string>
  body?: string | Buffer
  /** Serialised as JSON with `Content-Type: application/json`. */
  json?: unknown
  timeoutMs?: number
  /**
   * A time (ms since the epoch) the request must not outlast: each attempt's timeout
   * is the smaller of `timeoutMs` and the time left, and no retry starts after it.
   */
  deadline?: number
  /** Retry this request; default: GET, HEAD, PUT, DELETE, OPTIONS. */
  retry?: boolean
}

/** A buffered response. */
export interface HttpResponse {
  url: string
  status: number
  headers: Record<string, string>
  body: Buffer
  text(): string
  json<T = unknown>(): T
}

/** A streaming response. */
export interface HttpStream {
  url: string
  status: number
  headers: Record<string, string>
  body: AsyncIterable<Buffer>
  /** Abort the stream. */
  close(): void
}

/** A request that could not get an answer (network error or timeout), after retries. */
export class HttpError extends Error {
  override name = 'HttpError'
  constructor(
    message: string,
    readonly url: string,
    readonly status?: number,
    /**
     * Set when no (complete) answer came in time: within the request's own timeout,
     * or before the caller's deadline.
     */
    readonly timeout?: 'request' | 'deadline'
  ) {
    super(message)
  }
}

/** Whether an error is a request that ran out of the caller's deadline. */
export function isDeadlineError(error: unknown): boolean {
  return error instanceof HttpError && error.timeout === 'deadline'
}

/** The timeout of one attempt: `timeoutMs`, cut to the time left before `deadline`. */
export function attemptTimeout(
  timeoutMs: number,
  deadline: number | undefined,
  now = Date.now()
): { ms: number; byDeadline: boolean } {
  if (deadline === undefined || deadline - now >= timeoutMs) {
    return { ms: timeoutMs, byDeadline: false }
  }
  return { ms: Math.max(0, Math.round(deadline - now)), byDeadline: true }
}

function timedOutText(limit: { ms: number; byDeadline: boolean }): string {
  return `timed out after ${limit.ms}ms${limit.byDeadline ? ' (the time limit ran out)' : ''}`
}

function isTimeout(e: Error & { code?: string }): boolean {
  return (
    e.name === 'TimeoutError' ||
    e.code === 'UND_ERR_HEADERS_TIMEOUT' ||
    e.code === 'UND_ERR_BODY_TIMEOUT' ||
    e.code === 'UND_ERR_CONNECT_TIMEOUT'
  )
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS'])

/** Whether `url`'s host is excluded from proxying by a NO_PROXY value. */
export function bypassesProxy(url: URL, noProxy: string | undefined): boolean {
  if (!noProxy) return false
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase()
  const port = url.port || (url.protocol === 'https:' ? '443' : '80')
  for (const raw of noProxy.split(/[,\s]+/)) {
    const entry = raw.trim().toLowerCase()
    if (entry === '') continue
    if (entry === '*') return true
    // `[::1]:5000`, a bare IPv6 address (`::1`, no port possible), or `host[:port]`
    const [name, entryPort] = entry.startsWith('[')
      ? [entry.replace(/\]:?.*$/, '').slice(1), entry.match(/\]:(\d+)$/)?.[1]]
      : (entry.match(/:/g) ?? []).length > 1
        ? [entry, undefined]
        : entry.split(':')
    if (entryPort && entryPort !== port) continue
    const bare = (name ?? '').replace(/^\*?\./, '')
    if (host === bare || host.endsWith(`.${bare}`)) return true
  }
  return false
}

/** The proxy URL for a request URL, from the standard variables, or undefined. */
export function proxyFor(url: URL, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const noProxy = env.NO_PROXY ?? env.no_proxy
  if (bypassesProxy(url, noProxy)) return undefined
  const value =
    url.protocol === 'https:'
      ? (env.HTTPS_PROXY ?? env.https_proxy ?? env.HTTP_PROXY ?? env.http_proxy)
      : (env.HTTP_PROXY ?? env.http_proxy)
  return value && value.trim() !== '' ? value.trim() : undefined
}

/** Parse `Retry-After` (seconds or an HTTP date) to ms, or undefined. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000
  const at = Date.parse(value)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

function flatHeaders(
  headers: Record<string, string | string[] | undefined>
): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(headers)) {
    if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v
  }
  return out
}

/** What a TLS handshake reports when the server's chain ends at no trusted certificate. */
const UNVERIFIED = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_UNTRUSTED'
])

/** Requests sent at once over one HTTP/2 connection (a server may allow fewer). */
const H2_STREAMS = 100

/** Connections of an HTTP/2-capable agent, which can open one ahead of its first request. */
interface Multiplexed {
  factory: (origin: URL | string, options: object) => Dispatcher
  /** Start connecting to `url`'s origin now; its first request takes the connection. */
  open(url: URL): void
  /** Close a connection opened ahead and never taken. */
  dispose(): void
}

type Opened = { error: Error | null; socket: Socket | null }

/**
 * The dispatcher factory of an HTTP/2-capable agent: one connection per origin (a pool
 * would open more while the first is still connecting). undici sends one request at a
 * time over a connection unless told its `pipelining`, whatever the protocol, so the
 * connection says, once its TLS handshake has chosen: many streams at once over HTTP/2,
 * one request at a time over HTTP/1.1 (no HTTP/1.1 pipelining).
 *
 * A connection opened ahead (`open`) is the origin's first: its handshake runs while the
 * caller works out its first request, which then finds it ready, or its error.
 */
function multiplexed(tls: Record<string, unknown>): Multiplexed {
  const connector = buildConnector({ ...tls, allowH2: true, timeout: 10_000 })
  const ahead = new Map<string, Promise<Opened>>()
  const sockets = new Set<Socket>()
  const key = (u: { protocol: string; host?: string }): string => `${u.protocol}//${u.host ?? ''}`
  return {
    factory: (origin, options) => {
      const client: Client = new Client(origin, {
        ...options,
        allowH2: true,
        connect: (opts, callback) => {
          const done = (error: Error | null, socket: Socket | null): void => {
            if (socket) {
              client.pipelining = (socket as TLSSocket).alpnProtocol === 'h2' ? H2_STREAMS : 1
            }
            callback(error, socket as never)
          }
          const opened = ahead.get(key(opts))
          if (!opened) return connector(opts, done)
          ahead.delete(key(opts))
          void opened.then(({ error, socket }) => {
            if (socket) sockets.delete(socket)
            // Closed by the server meanwhile (an idle timeout): a new one.
            if (socket && (socket.destroyed || !socket.writable)) connector(opts, done)
            else done(error, socket?.ref() ?? null)
          })
        }
      })
      return client
    },
    open: url => {
      if (ahead.has(key(url))) return
      const opening = new Promise<Opened>(resolve =>
        connector(
          {
            hostname: url.hostname,
            host: url.host,
            protocol: url.protocol,
            port: url.port,
            servername: undefined,
            localAddress: null
          },
          (error, socket) => {
            // Until a request takes it, the connection keeps no process alive.
            socket?.unref()
            if (socket) sockets.add(socket)
            resolve({ error, socket })
          }
        )
      )
      ahead.set(key(url), opening)
    },
    dispose: () => {
      for (const socket of sockets) socket.destroy()
      sockets.clear()
      ahead.clear()
    }
  }
}

/** An HTTP client with its own TLS and proxy settings. */
export class HttpClient {
  private readonly dispatchers = new Map<string, Dispatcher>()
  /** Dispatchers given up by `widenTrust`, closed with the client. */
  private readonly retired: Dispatcher[] = []
  /** The connections of the direct HTTP/2 agents, which can be opened ahead. */
  private readonly ahead = new Map<Dispatcher, Multiplexed>()
  private secureContext: SecureContext | undefined
  /** Whether the system roots are trusted next to `ca`. */
  private withRoots = false
  private readonly sleep: (ms: number) => Promise<void>

  constructor(readonly options: HttpClientOptions = {}) {
    this.sleep = options.sleep ?? (ms => new Promise(r => setTimeout(r, ms)))
  }

  private dispatcher(url: URL): Dispatcher {
    const proxy = proxyFor(url, this.options.env)
    const key = proxy ?? ''
    let d = this.dispatchers.get(key)
    if (!d) {
      // A private CA is trusted alone until a server's chain turns out to end at a
      // public root (see `widenTrust`). The TLS context is built once per client: given
      // as `ca`, every new connection would parse the certificates again.
      this.secureContext ??= this.options.ca
        ? createSecureContext({
            ca: this.withRoots
              ? [this.options.ca, ...(this.options.roots ?? rootCertificates)]
              : this.options.ca
          })
        : undefined
      const tls = {
        ...(this.secureContext ? { secureContext: this.secureContext } : {}),
        ...(this.options.insecure ? { rejectUnauthorized: false } : {})
      }
      if (proxy) {
        d = new ProxyAgent({ uri: proxy, requestTls: tls, proxyTls: tls })
      } else if (this.options.http2) {
        const connections = multiplexed(tls)
        d = new Agent({ keepAliveTimeout: 4000, connections: 1, factory: connections.factory })
        this.ahead.set(d, connections)
      } else {
        d = new Agent({ connect: tls, keepAliveTimeout: 4000 })
      }
      this.dispatchers.set(key, d)
    }
    return d
  }

  private backoff(attempt: number, retryAfter?: number): number {
    const base = this.options.backoffMs ?? 500
    const cap = this.options.maxBackoffMs ?? 30_000
    if (retryAfter !== undefined) return Math.min(cap, retryAfter)
    const exp = Math.min(cap, base * 2 ** attempt)
    return Math.round(exp / 2 + Math.random() * (exp / 2))
  }

  private prepare(req: HttpRequest): {
    method: string
    headers: Record<string, string>
    body?: string | Buffer
  } {
    const headers: Record<string, string> = {
      ...(this.options.headers ?? {}),
      ...(req.headers ?? {})
    }
    let body = req.body
    if (req.json !== undefined) {
      body = JSON.stringify(req.json)
      headers['content-type'] = 'application/json'
    }
    headers['user-agent'] ??= 'conveyor'
    return { method: (req.method ?? 'GET').toUpperCase(), headers, body }
  }

  /**
   * Send a request and buffer the answer. Retries 429/5xx and network errors when
   * allowed, never past `req.deadline`.
   */
  async request(target: string | URL, req: HttpRequest = {}): Promise<HttpResponse> {
    const url = new URL(target)
    const { method, headers, body } = this.prepare(req)
    const retries =
      req.retry === false
        ? 0
        : (req.retry ?? IDEMPOTENT.has(method))
          ? (this.options.retries ?? 3)
          : 0
    const timeout = req.timeoutMs ?? this.options.timeoutMs ?? 30_000
    const shown = secrets.redact(`${method} ${url.origin}${url.pathname}`)
    const attempts = (attempt: number): string =>
      attempt > 0 ? ` (after ${attempt + 1} attempts)` : ''
    let widened = false
    for (let attempt = 0; ; attempt++) {
      const limit = attemptTimeout(timeout, req.deadline)
      if (limit.ms <= 0) {
        throw new HttpError(
          `${shown}: not sent, the time limit ran out${attempt > 0 ? ` (after ${attempt} attempts)` : ''}`,
          url.href,
          undefined,
          'deadline'
        )
      }
      let retryAfter: number | undefined
      let failure: string
      let lastResponse: HttpResponse | undefined
      let timedOut: HttpError['timeout']
      try {
        const res = await undiciRequest(url, {
          method: method as Dispatcher.HttpMethod,
          headers,
          body,
          dispatcher: this.dispatcher(url),
          // PUT and DELETE too (as HTTP defines them): undici holds back any other request
          // on an HTTP/2 connection while one it takes as not idempotent is in flight.
          idempotent: IDEMPOTENT.has(method),
          headersTimeout: limit.ms,
          bodyTimeout: limit.ms,
          signal: AbortSignal.timeout(limit.ms)
        })
        const buf = Buffer.from(await res.body.arrayBuffer())
        const response: HttpResponse = {
          url: url.href,
          status: res.statusCode,
          headers: flatHeaders(res.headers),
          body: buf,
          text: () => buf.toString('utf8'),
          json: <T>() => JSON.parse(buf.toString('utf8')) as T
        }
        if ((res.statusCode === 429 || res.statusCode >= 500) && attempt < retries) {
          retryAfter = parseRetryAfter(response.headers['retry-after'])
          failure = `HTTP ${res.statusCode}`
          lastResponse = response
        } else {
          return response
        }
      } catch (error) {
        const e = error as Error & { code?: string; cause?: { code?: string; message?: string } }
        if (!widened && this.widenTrust(e)) {
          // The same attempt again, now with the system roots trusted too.
          widened = true
          attempt--
          continue
        }
        if (isTimeout(e)) timedOut = limit.byDeadline ? 'deadline' : 'request'
        const detail = timedOut
          ? timedOutText(limit)
          : (e.cause?.code ?? e.code ?? e.cause?.message ?? e.message)
        failure = detail
        if (attempt >= retries || timedOut === 'deadline') {
          throw new HttpError(
            `${shown}: ${detail}${attempts(attempt)}`,
            url.href,
            undefined,
            timedOut
          )
        }
      }
      const wait = this.backoff(attempt, retryAfter)
      if (req.deadline !== undefined && Date.now() + wait >= req.deadline) {
        // No time for another attempt: the last answer, or the last failure.
        if (lastResponse) return lastResponse
        throw new HttpError(
          `${shown}: ${failure}${attempts(attempt)}; no time left for a retry before the time limit`,
          url.href,
          undefined,
          timedOut ?? 'deadline'
        )
      }
      this.options.logger?.info(
        `${shown}: ${failure}; retrying in ${(wait / 1000).toFixed(1)}s (${attempt + 1}/${retries})`
      )
      await this.sleep(wait)
    }
  }

  /**
   * Open a streaming request (no retries; the caller reconnects). The wait for the
   * response headers, the connection included, is bounded by `timeoutMs` and
   * `deadline`; `idleTimeoutMs` bounds a silence in the body.
   */
  stream(
    target: string | URL,
    req: HttpRequest & { idleTimeoutMs?: number } = {}
  ): Promise<HttpStream> {
    return this.openStream(target, req, false)
  }

  private async openStream(
    target: string | URL,
    req: HttpRequest & { idleTimeoutMs?: number },
    widened: boolean
  ): Promise<HttpStream> {
    const url = new URL(target)
    const { method, headers, body } = this.prepare(req)
    const controller = new AbortController()
    const shown = secrets.redact(`${method} ${url.origin}${url.pathname}`)
    const limit = attemptTimeout(req.timeoutMs ?? this.options.timeoutMs ?? 30_000, req.deadline)
    if (limit.ms <= 0) {
      throw new HttpError(
        `${shown}: not sent, the time limit ran out`,
        url.href,
        undefined,
        'deadline'
      )
    }
    let timedOut = false
    const openTimer = setTimeout(() => {
      timedOut = true
      controller.abort()
    }, limit.ms)
    try {
      const res = await undiciRequest(url, {
        method: method as Dispatcher.HttpMethod,
        headers,
        body,
        dispatcher: this.dispatcher(url),
        idempotent: IDEMPOTENT.has(method),
        headersTimeout: limit.ms,
        bodyTimeout: req.idleTimeoutMs ?? 0,
        signal: controller.signal
      })
      return {
        url: url.href,
        status: res.statusCode,
        headers: flatHeaders(res.headers),
        body: res.body as AsyncIterable<Buffer>,
        close: () => controller.abort()
      }
    } catch (error) {
      const e = error as Error & { code?: string; cause?: { code?: string } }
      if (!widened && !timedOut && this.widenTrust(e)) {
        clearTimeout(openTimer)
        return this.openStream(target, req, true)
      }
      const late = timedOut || isTimeout(e)
      throw new HttpError(
        `${shown}: ${late ? timedOutText(limit) : (e.cause?.code ?? e.code ?? e.message)}`,
        url.href,
        undefined,
        late ? (limit.byDeadline ? 'deadline' : 'request') : undefined
      )
    } finally {
      clearTimeout(openTimer)
    }
  }

  /**
   * Whether `error` is a handshake that `ca` alone could not verify, for a request to
   * try once more: the system roots are then trusted next to it. A private CA alone is
   * what almost every server given one needs, and parsing the ~150 roots besides it
   * costs about 10 ms per client.
   */
  private widenTrust(error: Error & { code?: string; cause?: { code?: string } }): boolean {
    if (!this.options.ca || !UNVERIFIED.has(error.cause?.code ?? error.code ?? '')) return false
    if (!this.withRoots) {
      this.withRoots = true
      this.secureContext = undefined
      this.retired.push(...this.dispatchers.values())
      this.dispatchers.clear()
    }
    return true
  }

  /**
   * Start connecting to `target`'s origin now (TLS handshake included), so that the
   * first request to it finds the connection ready: the handshake runs while the caller
   * works out what to ask. Only for direct HTTP/2 clients (`http2`, no proxy); a failure
   * is the first request's to report.
   */
  preconnect(target: string | URL): void {
    const url = new URL(target)
    if (!this.options.http2 || proxyFor(url, this.options.env)) return
    this.ahead.get(this.dispatcher(url))?.open(url)
  }

  /** Close every connection. */
  async close(): Promise<void> {
    const all = [...this.dispatchers.values(), ...this.retired]
    for (const connections of this.ahead.values()) connections.dispose()
    this.ahead.clear()
    this.dispatchers.clear()
    this.retired.length = 0
    await Promise.all(all.map(d => d.close()))
  }
}
