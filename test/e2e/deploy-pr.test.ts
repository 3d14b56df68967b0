/**
 * Pull request mode against the GitHub API simulator (requests and responses validated
 * against @octokit/openapi): the first run pushes a stable branch per environment and
 * opens one labelled pull request, the second adds its change to the same branch and
 * updates that pull request; the base branch never moves.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { canary, findLeaks } from '../support/canary.js'
import { cleanup, sh, type TestRepo } from '../support/gitrepo.js'
import { makeConfigRemote } from '../support/git-http.js'
import { startGitHubSim, type GitHubSim } from '../support/github-sim.js'
import { runAction } from '../support/harness.js'

const TOKEN = canary('GHTOKEN')
let sim: GitHubSim
let repo: TestRepo

beforeAll(async () => {
  repo = makeConfigRemote()
  sim = await startGitHubSim({
    owner: 'acme',
    repo: 'shop-config',
    token: TOKEN,
    branchExists: b =>
      sh(repo.origin, ['for-each-ref', '--format=%(refname)', `refs/heads/${b}`]) !== ''
  })
}, 60_000)
afterAll(async () => {
  await sim?.stop()
  cleanup()
})

function deployPr(image: string): ReturnType<typeof runAction> {
  return runAction('deploy', {
    inputs: {
      // owner/name on the current server: GITHUB_SERVER_URL points at the bare remote's dir.
      repository: 'acme/shop-config',
      token: TOKEN,
      images: image,
      targets: 'kustomize:overlays/prod',
      'pull-request': 'true',
      environment: 'prod',
      labels: 'deploy, prod'
    },
    env: {
      GITHUB_SERVER_URL: `file://${repo.origin.replace(/\/acme\/shop-config\.git$/, '')}`,
      GITHUB_API_URL: sim.url
    }
  })
}

describe('deploy gitops: pull request mode', () => {
  it('opens, then updates, one pull request on a stable branch', async () => {
    // Serve the bare remote under <dir>/acme/shop-config.git so owner/name resolves to it.
    const base = sh(repo.origin, ['rev-parse', 'main'])
    const dir = repo.origin.replace(/origin\.git$/, '')
    sh(dir, ['clone', '-q', '--bare', repo.origin, `${dir}acme/shop-config.git`])
    repo.origin = `${dir}acme/shop-config.git`

    const first = await deployPr('cart=ghcr.io/acme/shop-cart:2.1.0')
    expect(first.main.errors).toEqual([])
    expect(first.main.code).toBe(0)
    expect(first.main.outputs['pull-request-url']).toBe(
      'https://github.com/acme/shop-config/pull/1'
    )
    expect(sh(repo.origin, ['rev-parse', 'main'])).toBe(base)
    expect(
      sh(repo.origin, ['show', 'conveyor/deploy/prod:overlays/prod/kustomization.yaml'])
    ).toContain('newTag: 2.1.0')
    expect(sim.pulls).toHaveLength(1)
    expect(sim.pulls[0]).toMatchObject({
      head: 'conveyor/deploy/prod',
      base: 'main',
      title: 'deploy(prod): cart',
      labels: ['deploy', 'prod']
    })
    expect(sim.pulls[0]!.body).toContain(
      '| cart | ghcr.io/acme/shop-cart:2.0.1 | ghcr.io/acme/shop-cart:2.1.0 |'
    )

    const second = await deployPr('frontend=ghcr.io/acme/shop-frontend:1.6.0')
    expect(second.main.errors).toEqual([])
    expect(second.main.code).toBe(0)
    expect(second.main.outputs['pull-request-url']).toBe(
      'https://github.com/acme/shop-config/pull/1'
    )
    expect(sim.pulls).toHaveLength(1)
    // Title and body cover the whole branch: both services.
    expect(sim.pulls[0]!.title).toBe('deploy(prod): cart, frontend')
    expect(sim.pulls[0]!.body).toContain(
      '| cart | ghcr.io/acme/shop-cart:2.0.1 | ghcr.io/acme/shop-cart:2.1.0 |'
    )
    expect(sim.pulls[0]!.body).toContain(
      '| frontend | ghcr.io/acme/shop-frontend:1.4.2 | ghcr.io/acme/shop-frontend:1.6.0 |'
    )
    const file = sh(repo.origin, ['show', 'conveyor/deploy/prod:overlays/prod/kustomization.yaml'])
    expect(file).toContain('newTag: 2.1.0')
    expect(file).toContain('newTag: "1.6.0"')
    expect(sh(repo.origin, ['rev-parse', 'main'])).toBe(base)

    expect(sim.violations).toEqual([])
    const routes = sim.requests.map(r => `${r.method} ${r.path.split('?')[0]} ${r.status}`)
    expect(routes).toEqual([
      'GET /repos/acme/shop-config/pulls 200',
      'POST /repos/acme/shop-config/pulls 201',
      'POST /repos/acme/shop-config/issues/1/labels 200',
      'GET /repos/acme/shop-config/pulls 200',
      'GET /repos/acme/shop-config/pulls 200',
      'PATCH /repos/acme/shop-config/pulls/1 200',
      'POST /repos/acme/shop-config/issues/1/labels 200'
    ])
    for (const r of sim.requests) {
      expect(r.headers.authorization).toBe(`Bearer ${TOKEN}`)
      expect(r.headers['x-github-api-version']).toBe('2022-11-28')
    }
    for (const run of [first, second]) {
      expect(findLeaks(run.channels(), [{ value: TOKEN, user: 'x-access-token' }])).toEqual([])
    }

    // The pull request is closed without merging: the next run starts the branch again
    // from main (replacing it under a lease) and opens a new pull request.
    sim.pulls[0]!.state = 'closed'
    const third = await deployPr('checkout=ghcr.io/acme/shop-checkout:1.12')
    expect(third.main.errors).toEqual([])
    expect(third.main.code).toBe(0)
    expect(third.main.outputs['pull-request-url']).toBe(
      'https://github.com/acme/shop-config/pull/2'
    )
    expect(sh(repo.origin, ['rev-parse', 'conveyor/deploy/prod~1'])).toBe(base)
    const again = sh(repo.origin, ['show', 'conveyor/deploy/prod:overlays/prod/kustomization.yaml'])
    expect(again).toContain("newTag: '1.12'")
    expect(again).not.toContain('newTag: 2.1.0')
    expect(sim.pulls.map(p => p.state)).toEqual(['closed', 'open'])
    expect(sim.pulls[1]!.title).toBe('deploy(prod): checkout')
    expect(sim.violations).toEqual([])
  }, 120_000)
})
