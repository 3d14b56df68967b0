/**
 * The GitHub REST calls through Octokit over the project's HTTP client, against the
 * OpenAPI-validated simulator: upsert opens, then updates; GITHUB_API_URL with a GHES
 * prefix is honoured; idempotent calls are retried on 5xx, a pull request is never
 * opened twice; a (secondary) rate limit is waited out; errors name the route and status
 * and never the token. Plan's last-success lookup goes through the same client.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { ConfigurationError } from '../../../src/core/errors.js'
import { createOctokit, GitHubApi, rateLimitWait } from '../../../src/core/github.js'
import { memoryLogger } from '../../../src/core/logger.js'
import { lastSuccessfulSha } from '../../../src/plan/last-success.js'
import { startGitHubSim, type GitHubSim } from '../../support/github-sim.js'

const TOKEN = 'ghs_unitTestToken0123456789'
const SHA = 'c0ffee'.padEnd(40, '0')
let sim: GitHubSim
let ghes: GitHubSim

beforeAll(async () => {
  sim = await startGitHubSim({ owner: 'acme', repo: 'cfg', token: TOKEN })
  ghes = await startGitHubSim({ owner: 'acme', repo: 'cfg', token: TOKEN, basePath: '/api/v3' })
}, 60_000)
afterAll(async () => {
  await sim?.stop()
  await ghes?.stop()
})
beforeEach(() => {
  for (const s of [sim, ghes]) {
    s.pulls.length = 0
    s.requests.length = 0
    s.faults.length = 0
    s.runs.length = 0
  }
})

/** An Octokit whose waits are recorded, not slept. */
function recorded(url = sim.url): { octokit: ReturnType<typeof createOctokit>; waits: number[] } {
  const waits: number[] = []
  const octokit = createOctokit({
    token: TOKEN,
    apiUrl: url,
    log: memoryLogger(),
    sleep: ms => {
      waits.push(ms)
      return Promise.resolve()
    }
  })
  return { octokit, waits }
}

describe('GitHubApi', () => {
  it('opens, then updates the pull request of a branch, with labels', async () => {
    const api = new GitHubApi(sim.url, 'acme', 'cfg', TOKEN)
    const a = await api.upsert('deploy/prod', 'main', 'deploy: a', 'body a', ['deploy'])
    expect(a).toMatchObject({
      created: true,
      pr: { number: 1, html_url: 'https://github.com/acme/cfg/pull/1' }
    })
    const b = await api.upsert('deploy/prod', 'main', 'deploy: a, b', 'body b', [])
    expect(b).toMatchObject({ created: false, pr: { number: 1, title: 'deploy: a, b' } })
    expect(sim.pulls).toEqual([
      expect.objectContaining({ title: 'deploy: a, b', body: 'body b', labels: ['deploy'] })
    ])
    expect(sim.requests[0]!.headers.authorization).toBe(`Bearer ${TOKEN}`)
    expect(sim.requests[0]!.headers['x-github-api-version']).toBe('2022-11-28')
    expect(sim.requests[0]!.headers['user-agent']).toMatch(/^conveyor /)
    expect(sim.violations).toEqual([])
  })

  it('honours a GitHub Enterprise Server API URL (a path prefix), given or from GITHUB_API_URL', async () => {
    const api = new GitHubApi(`${ghes.url}/api/v3/`, 'acme', 'cfg', TOKEN)
    await api.upsert('deploy/prod', 'main', 't', 'b', [])
    const fromEnv = createOctokit({ token: TOKEN, env: { GITHUB_API_URL: `${ghes.url}/api/v3` } })
    const { data } = await fromEnv.rest.pulls.list({ owner: 'acme', repo: 'cfg' })
    expect(data).toHaveLength(1)
    expect(ghes.requests.map(r => r.path.replace(/\?.*/, ''))).toEqual([
      '/api/v3/repos/acme/cfg/pulls',
      '/api/v3/repos/acme/cfg/pulls',
      '/api/v3/repos/acme/cfg/pulls'
    ])
    expect(ghes.violations).toEqual([])
  })

  it('a rejected token is a ConfigurationError naming the route, not the token', async () => {
    const wrong = 'ghs_wrongToken9876543210'
    const api = new GitHubApi(sim.url, 'acme', 'cfg', wrong)
    const error = await api.findOpen('x', 'main').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ConfigurationError)
    expect((error as Error).message).toMatch(/list pull requests: HTTP 401 \(Bad credentials\)/)
    expect((error as Error).message).not.toContain(wrong)
  })

  it('a request the OpenAPI description rejects is caught by the simulator', async () => {
    const res = await fetch(`${sim.url}/repos/acme/cfg/pulls`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ title: 5, head: 'x', base: 'main' })
    })
    expect(res.status).toBe(400)
    expect(sim.violations.at(-1)).toMatch(/request POST pulls/)
    sim.violations.length = 0
  })
})

describe('createOctokit: retries', () => {
  it('retries a GET on 5xx with the back-off, and answers', async () => {
    const { octokit, waits } = recorded()
    sim.faults.push({ status: 502 }, { status: 503 })
    const { data } = await octokit.rest.pulls.list({ owner: 'acme', repo: 'cfg' })
    expect(data).toEqual([])
    expect(sim.requests.map(r => r.status)).toEqual([502, 503, 200])
    expect(waits).toHaveLength(2)
  })

  it('never repeats a POST that failed with 5xx (the pull request may exist)', async () => {
    const { octokit } = recorded()
    sim.faults.push({ status: 502 })
    const error = await octokit.rest.pulls
      .create({ owner: 'acme', repo: 'cfg', title: 't', head: 'h', base: 'main' })
      .catch((e: unknown) => e)
    expect((error as { status?: number }).status).toBe(502)
    expect(sim.requests).toHaveLength(1)
    expect(sim.pulls).toEqual([])
  })

  it('waits out a secondary rate limit (403 with Retry-After), even for a POST', async () => {
    const { octokit, waits } = recorded()
    sim.faults.push({
      status: 403,
      headers: { 'retry-after': '2' },
      body: { message: 'You have exceeded a secondary rate limit.' }
    })
    const { data } = await octokit.rest.pulls.create({
      owner: 'acme',
      repo: 'cfg',
      title: 't',
      head: 'h',
      base: 'main'
    })
    expect(data.number).toBe(1)
    expect(waits).toEqual([2000])
    expect(sim.requests.map(r => r.status)).toEqual([403, 201])
  })

  it('a 403 that is no rate limit is an answer, not retried', async () => {
    const { octokit, waits } = recorded()
    sim.faults.push({ status: 403, body: { message: 'Resource not accessible by integration' } })
    const error = await octokit.rest.pulls
      .list({ owner: 'acme', repo: 'cfg' })
      .catch((e: unknown) => e)
    expect((error as { status?: number }).status).toBe(403)
    expect(waits).toEqual([])
  })

  it.each([
    // status, headers, body, wait
    [403, { 'retry-after': '3' }, '', 3000],
    [429, { 'retry-after': '1' }, '', 1000],
    [403, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '1010' }, '', 10_000],
    [403, {}, '{"message":"You have exceeded a secondary rate limit"}', 60_000],
    [403, {}, '{"message":"Must have admin rights"}', undefined],
    [500, { 'retry-after': '1' }, '', undefined]
  ])('rateLimitWait %i %j %s: %s', (status, headers, body, wait) => {
    const res = { status, headers: headers as Record<string, string>, text: () => body }
    expect(rateLimitWait(res, 1_000_000)).toBe(wait)
  })
})

describe('lastSuccessfulSha over Octokit', () => {
  const options = (extra: object = {}): Parameters<typeof lastSuccessfulSha>[0] => ({
    apiUrl: sim.url,
    repository: 'acme/cfg',
    token: TOKEN,
    log: memoryLogger(),
    sleep: () => Promise.resolve(),
    ...extra
  })

  it('reads the last successful run of the workflow file on the branch', async () => {
    sim.runs.push(
      {
        id: 9,
        workflowId: 7,
        file: 'ci.yml',
        branch: 'main',
        headSha: 'f'.repeat(40),
        conclusion: 'failure'
      },
      {
        id: 8,
        workflowId: 7,
        file: 'ci.yml',
        branch: 'dev',
        headSha: 'e'.repeat(40),
        conclusion: 'success'
      },
      { id: 5, workflowId: 7, file: 'ci.yml', branch: 'main', headSha: SHA, conclusion: 'success' }
    )
    const sha = await lastSuccessfulSha(
      options({ workflowRef: 'acme/cfg/.github/workflows/ci.yml@refs/heads/main', branch: 'main' })
    )
    expect(sha).toBe(SHA)
    expect(sim.requests.map(r => r.path)).toEqual([
      '/repos/acme/cfg/actions/workflows/ci.yml/runs?status=success&per_page=1&branch=main'
    ])
    expect(sim.violations).toEqual([])
  })

  it('without a workflow ref, finds the workflow from the run id, and retries a 5xx', async () => {
    sim.runs.push({
      id: 42,
      workflowId: 7,
      file: 'ci.yml',
      branch: 'main',
      headSha: SHA,
      conclusion: 'success'
    })
    sim.faults.push({ status: 502 })
    const sha = await lastSuccessfulSha(options({ runId: '42' }))
    expect(sha).toBe(SHA)
    expect(sim.requests.map(r => [r.status, r.path])).toEqual([
      [502, '/repos/acme/cfg/actions/runs/42'],
      [200, '/repos/acme/cfg/actions/runs/42'],
      [200, '/repos/acme/cfg/actions/workflows/7/runs?status=success&per_page=1']
    ])
    expect(sim.violations).toEqual([])
  })

  it('a refused token warns with the route and what the token may lack', async () => {
    const log = memoryLogger()
    const sha = await lastSuccessfulSha(
      options({
        token: 'ghs_wrongToken9876543210',
        log,
        workflowRef: 'a/b/.github/workflows/ci.yml@x'
      })
    )
    expect(sha).toBeUndefined()
    expect(log.text()).toMatch(
      /base-from-last-success: GET http:\/\/127\.0\.0\.1:\d+\/repos\/acme\/cfg\/actions\/workflows\/ci\.yml\/runs answered 401; planning every service/
    )
    expect(log.text()).not.toContain('ghs_wrongToken9876543210')
  })
})
