/**
 * Retrying an image push that failed for a transient registry reason. The builders do
 * not retry every such failure themselves (buildah 1.28 gives up on a 429 or 503 to a
 * manifest PUT at once, whatever its `--retry`), so the action runs the push again:
 * a registry push is idempotent (blobs already there are skipped, a manifest PUT
 * replaces the tag with the same bytes). Which failures are transient is read from the
 * tool's output, since none of the tools reports it otherwise. The classification is
 * pure; the loop takes its clock and sleep as arguments.
 */
import type { Logger } from '../core/logger.js'
import { backoffDelay, sleep } from '../core/retry.js'

/** How a failed push's output reads. */
export interface PushFailure {
  transient: boolean
  /** What was recognised, for the log: `HTTP 429`, `connection reset by peer`, ... */
  reason: string
  /** A delay the output asks for (`Retry-After`), in ms. */
  retryAfterMs?: number
}

/** Failures a retry cannot fix: credentials, permissions, a rejected name or manifest. */
const PERMANENT: RegExp[] = [
  /\b(?:StatusCode|status code|status):? 40[13]\b|\b40[13] (?:Unauthorized|Forbidden)\b/i,
  /\bunauthorized\b|authentication required|\bdenied\b|insufficient_scope|\bforbidden\b/i,
  /\b(?:MANIFEST|TAG|NAME|DIGEST|BLOB|SIZE)_(?:INVALID|UNKNOWN)\b/,
  /\b(?:manifest|tag|name|digest) (?:invalid|unknown)\b|\btag rejected\b|\bimmutable\b/i,
  /x509:|certificate (?:signed by unknown|is not valid|has expired)|no such host/i
]

/** Failures of the registry or the network that a later attempt may not meet. */
const TRANSIENT: [RegExp, string][] = [
  [
    /\b(?:StatusCode|status code|status):? 429\b|\b429 Too Many Requests\b|toomanyrequests/i,
    'HTTP 429'
  ],
  [/\b(?:StatusCode|status code|status):? (5\d\d)\b/i, 'HTTP $1'],
  [
    /\b(5\d\d) (?:Internal Server Error|Bad Gateway|Service Unavailable|Gateway Time-?out)\b/i,
    'HTTP $1'
  ],
  [/connection reset by peer/i, 'connection reset by peer'],
  [/broken pipe/i, 'broken pipe'],
  [/connection refused/i, 'connection refused'],
  [/i\/o timeout|TLS handshake timeout|timeout awaiting response headers/i, 'a network timeout'],
  [/Client\.Timeout exceeded|context deadline exceeded/i, 'a network timeout'],
  [/unexpected EOF|:\s*EOF\s*$/im, 'the connection closed early (EOF)'],
  [/server sent GOAWAY|use of closed network connection/i, 'the connection closed early']
]

/**
 * Whether a failed push is worth another attempt, from the tool's output. A permanent
 * marker anywhere (401/403, a rejected tag or manifest, a TLS or DNS error) wins over a
 * transient one. Pure.
 */
export function classifyPushFailure(output: string): PushFailure {
  for (const re of PERMANENT) {
    const m = re.exec(output)
    if (m) return { transient: false, reason: m[0] }
  }
  for (const [re, reason] of TRANSIENT) {
    const m = re.exec(output)
    if (m) {
      const after = /retry[- ]after:?\s*(\d{1,4})\s*s?\b/i.exec(output)
      return {
        transient: true,
        reason: reason.replace('$1', m[1] ?? ''),
        retryAfterMs: after ? Number(after[1]) * 1000 : undefined
      }
    }
  }
  return { transient: false, reason: 'not a transient registry error' }
}

/** The retry budget of a push. */
export interface PushRetryPolicy {
  /** Attempts in all, the first included (default 3). */
  attempts: number
  /** Wait before the second attempt, doubled before each later one (default 2 s). */
  delayMs: number
  /** Cap of one wait, Retry-After included (default 30 s). */
  maxDelayMs: number
}

/** The default policy: 3 attempts, waiting about 2 s, then 4 s. */
export const PUSH_RETRY: PushRetryPolicy = { attempts: 3, delayMs: 2000, maxDelayMs: 30_000 }

/**
 * The wait before attempt `attempt + 1` (attempt counts from 1): the one back-off
 * (core/retry.ts) with ±25 % jitter, at least what the registry asked for, never above
 * the cap. Pure given `random`.
 */
export function pushRetryDelay(
  policy: PushRetryPolicy,
  attempt: number,
  retryAfterMs: number | undefined,
  random: () => number = Math.random
): number {
  return backoffDelay(
    attempt - 1,
    { baseMs: policy.delayMs, capMs: policy.maxDelayMs, jitter: [0.75, 1.25] },
    retryAfterMs,
    random
  )
}

/** A failed attempt, as the loop needs to see it. */
export interface AttemptFailure {
  /** The tool's output of this attempt. */
  output: string
  /** Our own time limit ended it: the budget is spent, never retried. */
  timedOut: boolean
}

/**
 * Run `attempt` until it succeeds, fails for a reason that is not transient, or the
 * attempts or the time run out. `failure` reads a thrown error (undefined: not a tool
 * failure, rethrown as is). Every retry is logged as a warning that says why and when.
 * The error of the last attempt is thrown, with the number of attempts noted by
 * `exhausted` when the budget ran out.
 */
export async function withPushRetry<T>(
  what: string,
  attempt: (remainingMs: number | undefined) => Promise<T>,
  options: {
    logger: Logger
    failure: (error: unknown) => AttemptFailure | undefined
    exhausted: (error: unknown, attempts: number, reason: string) => unknown
    policy?: PushRetryPolicy
    /** Time for all attempts and waits together. */
    timeoutMs?: number
    now?: () => number
    sleep?: (ms: number) => Promise<void>
    random?: () => number
  }
): Promise<T> {
  const policy = options.policy ?? PUSH_RETRY
  const now = options.now ?? Date.now
  const pause = options.sleep ?? sleep
  const deadline = options.timeoutMs !== undefined ? now() + options.timeoutMs : undefined
  for (let n = 1; ; n++) {
    try {
      return await attempt(deadline !== undefined ? Math.max(1, deadline - now()) : undefined)
    } catch (error) {
      const f = options.failure(error)
      if (!f || f.timedOut) throw error
      const c = classifyPushFailure(f.output)
      if (!c.transient) throw error
      if (n >= policy.attempts) throw options.exhausted(error, n, c.reason)
      const wait = pushRetryDelay(policy, n, c.retryAfterMs, options.random)
      // A wait that leaves no time for the push itself is no retry.
      if (deadline !== undefined && now() + wait + 1000 > deadline) {
        throw options.exhausted(error, n, `${c.reason}, and the time limit is near`)
      }
      options.logger.warning(
        `${what} failed with a transient registry error (${c.reason}); retrying in ${(wait / 1000).toFixed(1)}s (attempt ${n + 1} of ${policy.attempts})`
      )
      await pause(wait)
    }
  }
}
