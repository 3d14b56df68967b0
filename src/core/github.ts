/**
 * The GitHub REST API, through `@actions/github`'s Octokit over the project's own HTTP
 * client (core/http/client.ts): the proxy variables, a private CA, a timeout per request
 * and the one back-off apply to GitHub calls as to every other; `GITHUB_API_URL` is
 * honoured (GitHub Enterprise Server). Idempotent requests are retried on 5xx and 429;
 * any request is retried when GitHub's (secondary) rate limit refused it. On it, the
 * pull request calls deploy needs: find, open or update the pull request of a branch and
 * label it. Errors name the route and status, never the token.
 */
import { GitHub } from '@actions/github/lib/utils'
import { apiUrl as defaultApiUrl } from './context.js'
import { ConfigurationError } from './errors.js'
import { HttpClient } from './http/client.js'
import { HttpError, IDEMPOTENT, parseRetryAfter, type HttpResponse } from './http/request.js'
import type { Logger } from './logger.js'
import { sleep } from './retry.js'
import { secrets } from './secrets.js'

/** An Octokit with the REST endpoint methods and pagination. */
export type Octokit = InstanceType<typeof GitHub>

/** Options of `createOctokit`. */
export interface GitHubClientOptions {
  token: string
  /** The REST API's URL (default: `GITHUB_API_URL`, else https://api.github.com). */
  apiUrl?: string
  log?: Logger
  /** The limit of one request in ms (default 30 s). */
  timeoutMs?: number
  /** Retries of an idempotent request on 5xx, 429 or a network error (default 3). */
  retries?: number
  /** First back-off in ms (default 500). */
  backoffMs?: number
  /** A time (ms since the epoch) no request outlasts and no retry starts after. */
  deadline?: number
  /** Environment for the proxy variables (default process.env). */
  env?: NodeJS.ProcessEnv
  /** The wait itself; tests speed it up. */
  sleep?: (ms: number) => Promise<void>
}

/** The REST API version asked for. */
const API_VERSION = '2022-11-28'

/** Retries of a request GitHub's rate limit refused (it was not carried out). */
const RATE_LIMIT_RETRIES = 2
/** The longest wait for a rate limit; a longer one fails the call instead. */
const MAX_RATE_LIMIT_WAIT_MS = 60_000

/**
 * How long to wait before repeating a request GitHub's rate limit refused, or undefined
 * when `res` is no such refusal: a 403 (or a 429 the HTTP client does not retry) with
 * `Retry-After`, with `x-ratelimit-remaining: 0` (until `x-ratelimit-reset`), or telling
 * of a secondary rate limit (a minute, as GitHub's documentation asks). Pure.
 */
export function rateLimitWait(
  res: Pick<HttpResponse, 'status' | 'headers' | 'text'>,
  now = Date.now()
): number | undefined {
  if (res.status !== 403 && res.status !== 429) return undefined
  const after = parseRetryAfter(res.headers['retry-after'], now)
  if (after !== undefined) return after
  if (res.headers['x-ratelimit-remaining'] === '0') {
    const reset = Number(res.headers['x-ratelimit-reset'])
    if (Number.isFinite(reset) && reset > 0) return Math.max(0, reset * 1000 - now)
  }
  return /secondary rate limit/i.test(res.text()) ? 60_000 : undefined
}

/** A `fetch` over `http`, for Octokit: its requests get the client's transport and retries. */
function fetchOver(
  http: HttpClient,
  log: Logger | undefined,
  wait: (ms: number) => Promise<void>,
  deadline: number | undefined
): typeof fetch {
  return async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
    const method = (init?.method ?? 'GET').toUpperCase()
    const headers = Object.fromEntries(new Headers(init?.headers).entries())
    headers['x-github-api-version'] ??= API_VERSION
    const body = typeof init?.body === 'string' ? init.body : undefined
    for (let retry = 0; ; retry++) {
      const res = await http.request(url, { method, headers, body, deadline })
      const ms = retry < RATE_LIMIT_RETRIES ? rateLimitWait(res) : undefined
      const retried = res.status === 429 && IDEMPOTENT.has(method)
      const late = deadline !== undefined && ms !== undefined && Date.now() + ms >= deadline
      if (ms === undefined || retried || late || ms > MAX_RATE_LIMIT_WAIT_MS) {
        const empty = [204, 205, 304].includes(res.status)
        return new Response(empty ? null : new Uint8Array(res.body), {
          status: res.status,
          headers: res.headers
        })
      }
      log?.info(
        `${method} ${new URL(url).pathname}: GitHub's rate limit (HTTP ${res.status}); retrying in ${(ms / 1000).toFixed(1)}s`
      )
      await wait(ms)
    }
  }
}

/**
 * An Octokit (`@actions/github`'s, with the REST endpoint methods and pagination) for the
 * REST API at `apiUrl`, over the project's HTTP client, which sends `token` (registered as
 * a secret) as a Bearer Authorization on every request. Its log goes to `log`, never the
 * console.
 */
export function createOctokit(options: GitHubClientOptions): Octokit {
  secrets.add(options.token)
  const wait = options.sleep ?? sleep
  const http = new HttpClient({
    timeoutMs: options.timeoutMs ?? 30_000,
    retries: options.retries ?? 3,
    backoffMs: options.backoffMs,
    logger: options.log,
    env: options.env,
    sleep: wait,
    headers: { authorization: `Bearer ${options.token}` }
  })
  const log = options.log
  return new GitHub({
    baseUrl: (options.apiUrl ?? defaultApiUrl(options.env)).replace(/\/+$/, ''),
    userAgent: 'conveyor',
    request: { fetch: fetchOver(http, log, wait, options.deadline) },
    log: {
      debug: (m: string) => log?.debug(m),
      info: (m: string) => log?.debug(m),
      warn: (m: string) => log?.warning(m),
      error: (m: string) => log?.warning(m)
    }
  })
}

/** What a failed call answered: its status and GitHub's message, or the transport's error. */
export function callFailure(error: unknown): { status?: number; detail: string } {
  const e = error as { status?: number; cause?: unknown; response?: { data?: unknown } }
  if (e?.cause instanceof HttpError) throw e.cause
  if (typeof e?.status !== 'number' || !e.response) throw error
  const data = e.response.data
  const message = (data as { message?: unknown } | undefined)?.message
  const detail =
    typeof message === 'string'
      ? message.slice(0, 300)
      : typeof data === 'string'
        ? data.slice(0, 200)
        : ''
  return { status: e.status, detail }
}

/** The fields of a pull request we use. */
export interface PullRequest {
  number: number
  html_url: string
  state: string
  title: string
}

/** The pull request calls deploy makes, for one repository. */
export class GitHubApi {
  private readonly octokit: Octokit

  constructor(
    readonly apiUrl: string,
    readonly owner: string,
    readonly repo: string,
    token: string,
    log?: Logger
  ) {
    this.octokit = createOctokit({ token, apiUrl, log, timeoutMs: 30_000, retries: 3 })
  }

  /** Run one call; a failure names `what` and the status (a ConfigurationError when ours). */
  private async call<T>(what: string, fn: () => Promise<{ data: T }>): Promise<T> {
    try {
      return (await fn()).data
    } catch (error) {
      const { status, detail } = callFailure(error)
      const msg = secrets.redact(`${what}: HTTP ${status}${detail ? ` (${detail})` : ''}`)
      if (status === 401 || status === 403 || status === 404 || status === 422) {
        const hint =
          status === 403 || status === 404
            ? '; the token needs pull-requests: write on the config repository'
            : ''
        throw new ConfigurationError(`${msg}${hint}`)
      }
      throw new Error(msg)
    }
  }

  private get repository(): { owner: string; repo: string } {
    return { owner: this.owner, repo: this.repo }
  }

  /** The open pull request from `head` into `base`, if any. */
  async findOpen(head: string, base: string): Promise<PullRequest | undefined> {
    const list = await this.call('list pull requests', () =>
      this.octokit.rest.pulls.list({
        ...this.repository,
        head: `${this.owner}:${head}`,
        base,
        state: 'open'
      })
    )
    return list[0]
  }

  /** Open a pull request. */
  create(head: string, base: string, title: string, body: string): Promise<PullRequest> {
    return this.call('open pull request', () =>
      this.octokit.rest.pulls.create({ ...this.repository, title, head, base, body })
    )
  }

  /** Update title and body. */
  update(number: number, title: string, body: string): Promise<PullRequest> {
    return this.call(`update pull request #${number}`, () =>
      this.octokit.rest.pulls.update({ ...this.repository, pull_number: number, title, body })
    )
  }

  /** Add labels (creating them on the fly, as GitHub does). */
  async addLabels(number: number, labels: string[]): Promise<void> {
    if (labels.length === 0) return
    await this.call(`label pull request #${number}`, () =>
      this.octokit.rest.issues.addLabels({ ...this.repository, issue_number: number, labels })
    )
  }

  /** Open or update the pull request of `head`; returns it and whether it was new. */
  async upsert(
    head: string,
    base: string,
    title: string,
    body: string,
    labels: string[]
  ): Promise<{ pr: PullRequest; created: boolean }> {
    const existing = await this.findOpen(head, base)
    const pr = existing
      ? await this.update(existing.number, title, body)
      : await this.create(head, base, title, body)
    await this.addLabels(pr.number, labels)
    return { pr, created: !existing }
  }
}
