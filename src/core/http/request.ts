/**
 * One HTTP request as the client sees it: the request and response shapes, the time
 * limit of one attempt, what counts as a timeout, `Retry-After`, and the error a request
 * that got no answer throws. Pure.
 */
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

/** The text of a timed-out attempt: how long, and whether the caller's time limit cut it. */
export function timedOutText(limit: { ms: number; byDeadline: boolean }): string {
  return `timed out after ${limit.ms}ms${limit.byDeadline ? ' (the time limit ran out)' : ''}`
}

/** Whether undici's error is a timeout (of the headers, the body, the connection or the signal). */
export function isTimeout(e: Error & { code?: string }): boolean {
  return (
    e.name === 'TimeoutError' ||
    e.code === 'UND_ERR_HEADERS_TIMEOUT' ||
    e.code === 'UND_ERR_BODY_TIMEOUT' ||
    e.code === 'UND_ERR_CONNECT_TIMEOUT'
  )
}

/** The methods HTTP defines as idempotent, retried by default. */
export const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS'])

/** Parse `Retry-After` (seconds or an HTTP date) to ms, or undefined. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000
  const at = Date.parse(value)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

/** Response headers as one lower-case string each (repeated ones joined with `, `). */
export function flatHeaders(
  headers: Record<string, string | string[] | undefined>
): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(headers)) {
    if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v
  }
  return out
}
