/**
 * A small GitHub REST client over HttpClient for what deploy needs: find, open or update
 * the pull request of a branch and label it. Errors name the route and status, never
 * the token.
 */
import { ConfigurationError } from './errors.js'
import { HttpClient } from './http/client.js'
import type { HttpResponse } from './http/request.js'
import type { Logger } from './logger.js'
import { secrets } from './secrets.js'

/** The fields of a pull request we use. */
export interface PullRequest {
  number: number
  html_url: string
  state: string
  title: string
}

/** A GitHub REST API client for one repository. */
export class GitHubApi {
  private readonly http: HttpClient

  constructor(
    readonly apiUrl: string,
    readonly owner: string,
    readonly repo: string,
    token: string,
    log?: Logger
  ) {
    secrets.add(token)
    this.http = new HttpClient({
      timeoutMs: 30_000,
      retries: 3,
      logger: log,
      headers: {
        authorization: `Bearer ${token}`,
        accept: 'application/vnd.github+json',
        'x-github-api-version': '2022-11-28'
      }
    })
  }

  private url(path: string, query: Record<string, string> = {}): URL {
    const u = new URL(`${this.apiUrl.replace(/\/+$/, '')}/repos/${this.owner}/${this.repo}${path}`)
    for (const [k, v] of Object.entries(query)) u.searchParams.set(k, v)
    return u
  }

  private check(res: HttpResponse, what: string): HttpResponse {
    if (res.status >= 200 && res.status < 300) return res
    let detail = ''
    try {
      detail = (res.json<{ message?: string }>().message ?? '').slice(0, 300)
    } catch {
      detail = res.text().slice(0, 200)
    }
    const msg = secrets.redact(`${what}: HTTP ${res.status}${detail ? ` (${detail})` : ''}`)
    if (res.status === 401 || res.status === 403 || res.status === 404 || res.status === 422) {
      const hint =
        res.status === 403 || res.status === 404
          ? '; the token needs pull-requests: write on the config repository'
          : ''
      throw new ConfigurationError(`${msg}${hint}`)
    }
    throw new Error(msg)
  }

  /** The open pull request from `head` into `base`, if any. */
  async findOpen(head: string, base: string): Promise<PullRequest | undefined> {
    const res = this.check(
      await this.http.request(
        this.url('/pulls', { head: `${this.owner}:${head}`, base, state: 'open' })
      ),
      'list pull requests'
    )
    return res.json<PullRequest[]>()[0]
  }

  /** Open a pull request. */
  async create(head: string, base: string, title: string, body: string): Promise<PullRequest> {
    const res = await this.http.request(this.url('/pulls'), {
      method: 'POST',
      json: { title, head, base, body },
      retry: false
    })
    return this.check(res, 'open pull request').json<PullRequest>()
  }

  /** Update title and body. */
  async update(number: number, title: string, body: string): Promise<PullRequest> {
    const res = await this.http.request(this.url(`/pulls/${number}`), {
      method: 'PATCH',
      json: { title, body },
      retry: false
    })
    return this.check(res, `update pull request #${number}`).json<PullRequest>()
  }

  /** Add labels (creating them on the fly, as GitHub does). */
  async addLabels(number: number, labels: string[]): Promise<void> {
    if (labels.length === 0) return
    const res = await this.http.request(this.url(`/issues/${number}/labels`), {
      method: 'POST',
      json: { labels },
      retry: false
    })
    this.check(res, `label pull request #${number}`)
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
