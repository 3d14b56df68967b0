/**
 * The small GitHub REST client against the OpenAPI-validated simulator: upsert opens,
 * then updates; errors name the route and status and never the token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigurationError } from '../../../src/core/errors.js'
import { GitHubApi } from '../../../src/core/github.js'
import { startGitHubSim, type GitHubSim } from '../../support/github-sim.js'

const TOKEN = 'ghs_unitTestToken0123456789'
let sim: GitHubSim

beforeAll(async () => {
  sim = await startGitHubSim({ owner: 'acme', repo: 'cfg', token: TOKEN })
}, 60_000)
afterAll(async () => {
  await sim?.stop()
})

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
    expect(sim.violations).toEqual([])
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
