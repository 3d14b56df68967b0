/**
 * HTTP over undici: a timeout on every request (capped by the caller's deadline, so
 * retries cannot outlast it), retries with jittered exponential back-off that
 * honour `Retry-After` on 429 and 5xx, the standard proxy variables
 * (HTTPS_PROXY, HTTP_PROXY, NO_PROXY), and TLS options per client (a private CA,
 * or `insecure`), never process-wide.
 */
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls'
import { Agent, ProxyAgent, request as undiciRequest, type Dispatcher } from 'undici'
import type { Logger } from '../logger.js'
import { backoffDelay, sleep } from '../retry.js'
import { secrets } from '../secrets.js'
import { proxyFor } from './proxy.js'
import {
  attemptTimeout,
  flatHeaders,
  HttpError,
  IDEMPOTENT,
  isTimeout,
  parseRetryAfter,
  timedOutText,
  type HttpRequest,
  type HttpResponse,
  type HttpStream
} from './request.js'
import { multiplexed, UNVERIFIED, type Multiplexed } from './tls.js'

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
    this.sleep = options.sleep ?? sleep
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

  /** The wait before a retry: the server's `Retry-After` as given, else the one back-off. */
  private backoff(attempt: number, retryAfter?: number): number {
    const capMs = this.options.maxBackoffMs ?? 30_000
    if (retryAfter !== undefined) return Math.min(capMs, retryAfter)
    return backoffDelay(attempt, { baseMs: this.options.backoffMs ?? 500, capMs })
  }

  /** One request over this client's dispatcher for `url`, bounded as `limits` says. */
  private send(
    url: URL,
    prepared: ReturnType<HttpClient['prepare']>,
    limits: { headersMs: number; bodyMs: number; signal: AbortSignal }
  ): Promise<Dispatcher.ResponseData> {
    return undiciRequest(url, {
      method: prepared.method as Dispatcher.HttpMethod,
      headers: prepared.headers,
      body: prepared.body,
      dispatcher: this.dispatcher(url),
      // PUT and DELETE too (as HTTP defines them): undici holds back any other request
      // on an HTTP/2 connection while one it takes as not idempotent is in flight.
      idempotent: IDEMPOTENT.has(prepared.method),
      headersTimeout: limits.headersMs,
      bodyTimeout: limits.bodyMs,
      signal: limits.signal
    })
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
        const res = await this.send(
          url,
          { method, headers, body },
          {
            headersMs: limit.ms,
            bodyMs: limit.ms,
            signal: AbortSignal.timeout(limit.ms)
          }
        )
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
      const res = await this.send(
        url,
        { method, headers, body },
        {
          headersMs: limit.ms,
          bodyMs: req.idleTimeoutMs ?? 0,
          signal: controller.signal
        }
      )
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
