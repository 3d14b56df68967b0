/**
 * The one back-off every retry waits by (HTTP requests, a rejected GitOps push, an image
 * push, the Argo CD sync and watch loops, the referrers tag): exponential from a first
 * wait, capped, jittered so that runs retrying together spread out, and never shorter
 * than what the server asked for (`Retry-After`). Pure given `random`; `sleep` is the
 * wait itself.
 */

/** How a retry loop waits. */
export interface Backoff {
  /** The wait before the first retry, in ms; each later one doubles it. */
  baseMs: number
  /** The longest one wait may be, a server's `Retry-After` included, in ms. */
  capMs: number
  /**
   * The wait is the exponential times a factor drawn evenly from `[low, high]`. Default
   * `[0.5, 1]` ("equal jitter"); `[1, 1]` is no jitter.
   */
  jitter?: readonly [low: number, high: number]
}

/** Half to all of the exponential wait. */
const EQUAL_JITTER = [0.5, 1] as const

/**
 * The wait before retry number `retry` (0 for the first): `baseMs * 2^retry` capped at
 * `capMs`, times the jitter factor, at least `retryAfterMs` when the server asked for a
 * wait, and never above `capMs`. Pure given `random`.
 */
export function backoffDelay(
  retry: number,
  backoff: Backoff,
  retryAfterMs?: number,
  random: () => number = Math.random
): number {
  const exp = Math.min(backoff.capMs, backoff.baseMs * 2 ** retry)
  const [low, high] = backoff.jitter ?? EQUAL_JITTER
  const jittered = Math.round(exp * (low + random() * (high - low)))
  return Math.min(backoff.capMs, Math.max(jittered, retryAfterMs ?? 0))
}

/** Wait `ms` milliseconds (a negative wait is none). */
export function sleep(ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, Math.max(0, ms)))
}
