/**
 * The plan action's committed bundle against real repositories: every row of the
 * base table, in workspaces made like actions/checkout makes them (depth 1, detached),
 * so every run must fetch and deepen from a real bare origin by itself.
 */
import { readFileSync } from 'node:fs'
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, describe, expect, it } from 'vitest'
import { findLeaks } from '../support/canary.js'
import {
  checkoutLike,
  cleanup,
  fullClone,
  makeRepo,
  pullRequestEvent,
  pushEvent,
  sh,
  ZERO,
  type TestRepo
} from '../support/gitrepo.js'
import { runAction, type ActionRun } from '../support/harness.js'

const CONFIG = readFileSync(new URL('../fixtures/plan/conveyor.yml', import.meta.url), 'utf8')
const ALL = ['frontend', 'cart', 'checkout', 'payments']

afterAll(() => cleanup())

/** The fixture monorepo, committed and pushed to main. */
function monorepo(): TestRepo {
  const files: Record<string, string> = {
    '.github/conveyor.yml': CONFIG,
    'protos/shop.proto': 'syntax = "proto3";\n',
    'libs/money/money.go': 'package money\n',
    'README.md': '# shop\n'
  }
  for (const s of ALL) {
    files[`services/${s}/Dockerfile`] = 'FROM scratch\nCOPY . /app\n'
    files[`services/${s}/main.go`] = `package ${s}\n`
  }
  const repo = makeRepo(files)
  repo.push('main')
  return repo
}

interface Plan {
  run: ActionRun
  code: number
  services: string[]
  matrix: { include: Record<string, unknown>[] }
  base: string
  head: string
  deleted: string[]
  changed: { status: string; path: string; from?: string }[]
  stdout: string
}

async function plan(
  ws: string,
  o: {
    eventName?: string
    event?: unknown
    sha?: string
    ref?: string
    inputs?: Record<string, string>
    env?: Record<string, string>
  } = {}
): Promise<Plan> {
  const sha = o.sha ?? sh(ws, ['rev-parse', 'HEAD'])
  const run = await runAction('plan', {
    workspace: ws,
    eventName: o.eventName ?? 'push',
    event: o.event ?? {},
    sha,
    ref: o.ref ?? 'refs/heads/main',
    inputs: o.inputs,
    env: o.env
  })
  const out = run.main.outputs
  const changedPath = out['changed-files-path']
  return {
    run,
    code: run.main.code,
    services: out.services ? (JSON.parse(out.services) as string[]) : [],
    matrix: out.matrix ? (JSON.parse(out.matrix) as Plan['matrix']) : { include: [] },
    base: out.base ?? '',
    head: out.head ?? '',
    deleted: out.deleted ? (JSON.parse(out.deleted) as string[]) : [],
    changed: changedPath ? (JSON.parse(readFileSync(changedPath, 'utf8')) as Plan['changed']) : [],
    stdout: run.main.stdout
  }
}

function ok(p: Plan): Plan {
  if (p.code !== 0)
    throw new Error(`plan failed (${p.code}): ${p.run.main.errors.join('\n')}\n${p.stdout}`)
  return p
}

describe('plan: the base table', () => {
  it('push to an existing branch compares with `before`, deepening a depth-1 clone', async () => {
    const repo = monorepo()
    const c0 = repo.sha()
    for (let i = 0; i < 40; i++) repo.commit({ [`services/frontend/f${i}.txt`]: `${i}` })
    const before = repo.sha()
    const after = repo.commit({ 'services/payments/pay.go': 'package payments // v2\n' })
    repo.push('main')
    const ws = checkoutLike(repo, after, 'main')
    expect(sh(ws, ['rev-parse', '--is-shallow-repository'])).toBe('true')
    const p = ok(
      await plan(ws, { event: pushEvent({ ref: 'refs/heads/main', before, after }), sha: after })
    )
    expect(p.base).toBe(before)
    expect(p.head).toBe(after)
    // payments changed; checkout depends on payments, frontend on checkout.
    expect(p.services).toEqual(['frontend', 'checkout', 'payments'])
    expect(p.changed).toEqual([{ status: 'A', path: 'services/payments/pay.go' }])
    expect(p.stdout).toMatch(/--filter=blob:none/)
    expect(p.stdout).toMatch(/--depth=32/)
    expect(p.base).not.toBe(c0)
    const legs = p.matrix.include
    expect(legs.map(l => l.service)).toEqual(p.services)
    expect(legs[2]).toMatchObject({
      service: 'payments',
      path: 'services/payments',
      context: 'services/payments',
      dockerfile: 'services/payments/Dockerfile',
      image: 'ghcr.io/acme/payments',
      platforms: 'linux/amd64,linux/arm64',
      'cache-scope': 'payments'
    })
    expect(legs[2]!.reasons).toEqual(['path services/payments/: "services/payments/pay.go"'])
    expect(legs[0]!.reasons).toEqual(['depends on checkout (chain payments -> checkout)'])
    // The summary names the base, the rule and the file, and draws the graph.
    const summary = p.run.main.summary
    expect(summary).toContain(before.slice(0, 12))
    expect(summary).toContain('`services/payments/pay.go`')
    expect(summary).toContain('```mermaid')
    expect(summary).toMatch(/class s_frontend,s_checkout,s_payments selected/)
    expect(summary).toMatch(/class s_cart skipped/)
  })

  it('force push to a branch: the merge base with the default branch, not `before`', async () => {
    const repo = monorepo()
    const c0 = repo.sha()
    repo.git('checkout', '-q', '-b', 'feature')
    const old = repo.commit({ 'services/cart/cart.go': 'package cart // old\n' })
    repo.push('feature')
    repo.git('reset', '-q', '--hard', c0)
    const now = repo.commit({ 'services/payments/p.go': 'package payments\n' })
    repo.push('feature')
    const ws = checkoutLike(repo, now, 'feature')
    const p = ok(
      await plan(ws, {
        event: pushEvent({ ref: 'refs/heads/feature', before: old, after: now, forced: true }),
        ref: 'refs/heads/feature',
        sha: now
      })
    )
    expect(p.base).toBe(c0)
    // `before..after` would select cart too (the dropped commit); the merge base does not.
    expect(p.services).toEqual(['frontend', 'checkout', 'payments'])
    expect(p.run.main.summary).toContain('force push to feature')
  })

  it('force push to the default branch: the merge base of the old and the new history', async () => {
    const repo = monorepo()
    const c0 = repo.sha()
    const old = repo.commit({ 'services/cart/cart.go': 'package cart // old\n' })
    repo.push('main')
    repo.git('reset', '-q', '--hard', c0)
    const now = repo.commit({ 'services/frontend/index.html': '<h1>shop</h1>\n' })
    repo.push('main')
    const ws = checkoutLike(repo, now, 'main')
    const p = ok(
      await plan(ws, {
        event: pushEvent({ ref: 'refs/heads/main', before: old, after: now, forced: true }),
        sha: now
      })
    )
    expect(p.base).toBe(c0)
    expect(p.services).toEqual(['frontend'])
  })

  it('a push whose `before` is already here: the diff begins while the base is confirmed', async () => {
    const repo = monorepo()
    const before = repo.sha()
    const after = repo.commit({
      'services/cart/cart.go': 'package cart // new\n',
      'services/cart/docs/a b.md': 'x\n'
    })
    repo.push('main')
    const ws = checkoutLike(repo, after, 'main', { depth: 2 })
    const p = ok(
      await plan(ws, { event: pushEvent({ ref: 'refs/heads/main', before, after }), sha: after })
    )
    expect(p.base).toBe(before)
    expect(p.stdout).toContain('begun while the base was confirmed')
    expect(p.services).toEqual(['cart'])
    expect(p.changed).toEqual([
      { status: 'A', path: 'services/cart/cart.go' },
      { status: 'A', path: 'services/cart/docs/a b.md' }
    ])
  })

  it('a force push whose old commit is still here: the diff begun from `before` is dropped for the merge base', async () => {
    const repo = monorepo()
    const c0 = repo.sha()
    const old = repo.commit({ 'services/cart/cart.go': 'package cart // old\n' })
    repo.push('main')
    // A tag keeps the dropped commit in every clone.
    repo.git('tag', 'keep', old)
    repo.git('push', '-q', 'origin', 'refs/tags/keep')
    repo.git('reset', '-q', '--hard', c0)
    const now = repo.commit({ 'services/frontend/index.html': '<h1>shop</h1>\n' })
    repo.git('push', '-q', '--force', 'origin', 'HEAD:refs/heads/main')
    const ws = fullClone(repo, now)
    expect(sh(ws, ['cat-file', '-t', old])).toBe('commit')
    const p = ok(
      await plan(ws, {
        event: pushEvent({ ref: 'refs/heads/main', before: old, after: now, forced: true }),
        sha: now
      })
    )
    expect(p.base).toBe(c0)
    expect(p.stdout).not.toContain('begun while the base was confirmed')
    // `old..now` would list cart's file as changed (deleted); the merge base does not.
    expect(p.services).toEqual(['frontend'])
    expect(p.changed).toEqual([{ status: 'A', path: 'services/frontend/index.html' }])
  })

  it('a new branch: the merge base with the default branch, deepening past 100 commits', async () => {
    const repo = monorepo()
    const c0 = repo.sha()
    repo.git('checkout', '-q', '-b', 'feature')
    const head = repo.commit({ 'services/checkout/c.go': 'package checkout // new\n' })
    repo.push('feature')
    repo.git('checkout', '-q', 'main')
    for (let i = 0; i < 100; i++) repo.commit({ [`services/cart/c${i}.txt`]: `${i}` })
    repo.push('main')
    const ws = checkoutLike(repo, head, 'feature')
    const p = ok(
      await plan(ws, {
        event: pushEvent({ ref: 'refs/heads/feature', before: ZERO, after: head }),
        ref: 'refs/heads/feature',
        sha: head
      })
    )
    expect(p.base).toBe(c0)
    expect(p.services).toEqual(['frontend', 'checkout'])
    // Depth 32 and 64 are too shallow on main's side; 128 reaches the fork point.
    expect(p.stdout).toMatch(/--depth=128/)
    expect(p.stdout).not.toMatch(/--depth=256/)
  })

  it('the first push of the default branch builds every service', async () => {
    const repo = monorepo()
    const head = repo.sha()
    const ws = checkoutLike(repo, head, 'main')
    const p = ok(
      await plan(ws, { event: pushEvent({ ref: 'refs/heads/main', before: ZERO, after: head }) })
    )
    expect(p.services).toEqual(ALL)
    expect(p.base).toBe('')
    expect(p.run.main.outputs['has-changes']).toBe('true')
    expect(p.matrix.include[0]!.reasons).toEqual([
      'first push of the default branch (main): every service'
    ])
  })

  it('a tag push builds every service (tags: all, the default)', async () => {
    const repo = monorepo()
    repo.git('tag', 'v1.0.0')
    const head = repo.commit({ 'services/cart/x.go': 'x' })
    repo.git('tag', 'v1.1.0')
    repo.push('main', '--tags')
    const ws = checkoutLike(repo, head)
    const p = ok(
      await plan(ws, {
        event: pushEvent({ ref: 'refs/tags/v1.1.0', before: ZERO, after: head }),
        ref: 'refs/tags/v1.1.0',
        sha: head
      })
    )
    expect(p.services).toEqual(ALL)
    expect(p.base).toBe('')
  })

  it('a tag push with tags: changed compares with the previous tag', async () => {
    const repo = monorepo()
    repo.git('tag', 'v1.0.0')
    const v1 = repo.sha()
    for (let i = 0; i < 5; i++) repo.commit({ [`services/cart/c${i}.go`]: `${i}` })
    const head = repo.sha()
    repo.git('tag', '-a', '-m', 'release', 'v1.1.0')
    repo.push('main', '--tags')
    const ws = checkoutLike(repo, head)
    const p = ok(
      await plan(ws, {
        event: pushEvent({ ref: 'refs/tags/v1.1.0', before: ZERO, after: head }),
        ref: 'refs/tags/v1.1.0',
        sha: head,
        inputs: { tags: 'changed' }
      })
    )
    expect(p.base).toBe(v1)
    expect(p.services).toEqual(['cart'])
    expect(p.run.main.summary).toContain('v1.0.0')
  })

  it('a first tag with tags: changed has no previous tag: every service', async () => {
    const repo = monorepo()
    repo.git('tag', 'v0.1.0')
    repo.push('main', '--tags')
    const head = repo.sha()
    const ws = checkoutLike(repo, head)
    const p = ok(
      await plan(ws, {
        event: pushEvent({ ref: 'refs/tags/v0.1.0', before: ZERO, after: head }),
        ref: 'refs/tags/v0.1.0',
        inputs: { tags: 'changed' }
      })
    )
    expect(p.services).toEqual(ALL)
  })

  /** main moved on (payments) after the PR branch forked (cart); M merges the PR. */
  function pullRequest(): {
    repo: TestRepo
    c0: string
    head: string
    mainTip: string
    merge: string
  } {
    const repo = monorepo()
    const c0 = repo.sha()
    repo.git('checkout', '-q', '-b', 'feature')
    const head = repo.commit({ 'services/cart/cart.go': 'package cart // pr\n' })
    repo.push('feature')
    repo.git('checkout', '-q', 'main')
    for (let i = 0; i < 3; i++) repo.commit({ [`services/payments/p${i}.go`]: `${i}` })
    const mainTip = repo.sha()
    repo.push('main')
    repo.git('merge', '-q', '--no-ff', '-m', 'Merge pull request #7', 'feature')
    const merge = repo.sha()
    repo.push(`${merge}:refs/pull/7/merge`, `${head}:refs/pull/7/head`)
    repo.git('reset', '-q', '--hard', mainTip)
    return { repo, c0, head, mainTip, merge }
  }

  it('pull_request: the merge base of the PR head and the base branch (three dots)', async () => {
    const { repo, c0, head, mainTip, merge } = pullRequest()
    const ws = checkoutLike(repo, merge)
    const p = ok(
      await plan(ws, {
        eventName: 'pull_request',
        event: pullRequestEvent({
          headSha: head,
          headRef: 'feature',
          baseRef: 'main',
          baseSha: mainTip
        }),
        ref: 'refs/pull/7/merge',
        sha: merge
      })
    )
    expect(p.base).toBe(c0)
    expect(p.head).toBe(head)
    // main's payments commits are not the PR's changes.
    expect(p.services).toEqual(['cart'])
  })

  it('pull_request_target: the same merge base, with the base branch checked out', async () => {
    const { repo, c0, head, mainTip } = pullRequest()
    const ws = checkoutLike(repo, mainTip, 'main')
    const p = ok(
      await plan(ws, {
        eventName: 'pull_request_target',
        event: pullRequestEvent({
          headSha: head,
          headRef: 'feature',
          baseRef: 'main',
          baseSha: mainTip
        }),
        sha: mainTip
      })
    )
    expect(p.base).toBe(c0)
    expect(p.head).toBe(head)
    expect(p.services).toEqual(['cart'])
  })

  it('merge_group: merge_group.base_sha', async () => {
    const repo = monorepo()
    const base = repo.commit({ 'services/payments/p.go': 'p' })
    repo.push('main')
    const head = repo.commit({ 'libs/money/round.go': 'package money\n' })
    repo.push(`${head}:refs/heads/gh-readonly-queue/main/pr-7-${base}`)
    repo.git('reset', '-q', '--hard', base)
    const ws = checkoutLike(repo, head, `gh-readonly-queue/main/pr-7-${base}`)
    const p = ok(
      await plan(ws, {
        eventName: 'merge_group',
        event: {
          merge_group: { base_sha: base, head_sha: head, base_ref: 'refs/heads/main' },
          repository: { default_branch: 'main' }
        },
        ref: `refs/heads/gh-readonly-queue/main/pr-7-${base}`,
        sha: head
      })
    )
    expect(p.base).toBe(base)
    // libs/money selects cart and checkout by `paths`; frontend depends on checkout.
    expect(p.services).toEqual(['frontend', 'cart', 'checkout'])
    expect(p.matrix.include.find(l => l.service === 'cart')!.reasons).toEqual([
      'paths libs/money/**: "libs/money/round.go"'
    ])
  })

  for (const eventName of ['workflow_dispatch', 'schedule', 'workflow_run']) {
    it(`${eventName} without a base input: every service`, async () => {
      const repo = monorepo()
      const head = repo.commit({ 'services/cart/x': 'x' })
      repo.push('main')
      const ws = checkoutLike(repo, head, 'main')
      const p = ok(await plan(ws, { eventName, event: { repository: { default_branch: 'main' } } }))
      expect(p.services).toEqual(ALL)
      expect(p.base).toBe('')
      expect(p.run.main.summary).toContain(`${eventName} without input "base"`)
    })
  }

  for (const eventName of ['workflow_dispatch', 'schedule']) {
    it(`${eventName} with a base input (a branch name)`, async () => {
      const repo = monorepo()
      const c0 = repo.sha()
      repo.git('branch', 'release')
      repo.push('release')
      const head = repo.commit({ 'services/frontend/app.js': 'x' })
      repo.push('main')
      const ws = checkoutLike(repo, head, 'main')
      const p = ok(await plan(ws, { eventName, inputs: { base: 'release' } }))
      expect(p.base).toBe(c0)
      expect(p.services).toEqual(['frontend'])
    })
  }

  it('an explicit base wins over the event', async () => {
    const repo = monorepo()
    const c0 = repo.sha()
    repo.commit({ 'services/cart/a.go': 'a' })
    const before = repo.sha()
    const after = repo.commit({ 'services/frontend/b.js': 'b' })
    repo.push('main')
    const ws = checkoutLike(repo, after, 'main')
    const p = ok(
      await plan(ws, {
        event: pushEvent({ ref: 'refs/heads/main', before, after }),
        sha: after,
        inputs: { base: c0 }
      })
    )
    expect(p.base).toBe(c0)
    expect(p.services).toEqual(['frontend', 'cart'])
    expect(p.run.main.summary).toContain('input "base"')
  })

  it('an explicit base that names nothing fails clearly', async () => {
    const repo = monorepo()
    const ws = checkoutLike(repo, repo.sha(), 'main')
    const p = await plan(ws, { eventName: 'workflow_dispatch', inputs: { base: 'no-such-branch' } })
    expect(p.code).toBe(1)
    expect(p.run.main.errors.join('\n')).toMatch(
      /input "base": got "no-such-branch", which names no commit/
    )
  })

  it('works the same on a full clone', async () => {
    const repo = monorepo()
    const before = repo.sha()
    const after = repo.commit({ 'protos/shop.proto': 'syntax = "proto3"; // v2\n' })
    repo.push('main')
    const ws = fullClone(repo, after)
    const p = ok(
      await plan(ws, { event: pushEvent({ ref: 'refs/heads/main', before, after }), sha: after })
    )
    expect(p.base).toBe(before)
    // protos/** is global: every service.
    expect(p.services).toEqual(ALL)
    expect(p.matrix.include[1]!.reasons).toEqual(['global protos/**: "protos/shop.proto"'])
    expect(sh(ws, ['rev-parse', '--is-shallow-repository'])).toBe('false')
    expect(p.stdout).not.toMatch(/--depth=/)
  })
})

describe('plan: base-from-last-success', () => {
  it('asks the API for the last successful run of this workflow, with the token kept secret', async () => {
    const repo = monorepo()
    const c0 = repo.sha()
    const head = repo.commit({ 'services/checkout/c.go': 'c' })
    repo.push('main')
    const token = 'ghs_CanaryToken0123456789abcdefABCDEF'
    const seen: IncomingMessage[] = []
    const server = createServer((req, res) => {
      seen.push(req)
      res.setHeader('content-type', 'application/json')
      res.end(
        JSON.stringify({
          total_count: 1,
          workflow_runs: [{ id: 99, head_sha: c0, conclusion: 'success' }]
        })
      )
    })
    await new Promise<void>(r => server.listen(0, '127.0.0.1', r))
    try {
      const api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      const ws = checkoutLike(repo, head, 'main')
      const p = ok(
        await plan(ws, {
          eventName: 'schedule',
          inputs: { 'base-from-last-success': 'true', token },
          env: {
            GITHUB_API_URL: api,
            GITHUB_WORKFLOW_REF: 'acme/shop/.github/workflows/ci.yml@refs/heads/main'
          }
        })
      )
      expect(p.base).toBe(c0)
      expect(p.services).toEqual(['frontend', 'checkout'])
      expect(seen).toHaveLength(1)
      expect(seen[0]!.url).toBe(
        '/repos/acme/shop/actions/workflows/ci.yml/runs?status=success&per_page=1&branch=main'
      )
      expect(seen[0]!.headers.authorization).toBe(`Bearer ${token}`)
      expect(p.run.main.masks).toContain(token)
      expect(findLeaks(p.run.channels(), [{ value: token }])).toEqual([])
    } finally {
      server.close()
    }
  })

  it('an API failure warns and plans every service', async () => {
    const repo = monorepo()
    const server = createServer((_req, res) => {
      res.statusCode = 403
      res.end('{}')
    })
    await new Promise<void>(r => server.listen(0, '127.0.0.1', r))
    try {
      const ws = checkoutLike(repo, repo.sha(), 'main')
      const p = ok(
        await plan(ws, {
          eventName: 'workflow_dispatch',
          inputs: { 'base-from-last-success': 'true', token: 'ghs_x0123456789' },
          env: {
            GITHUB_API_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
            GITHUB_WORKFLOW_REF: 'acme/shop/.github/workflows/ci.yml@refs/heads/main'
          }
        })
      )
      expect(p.services).toEqual(ALL)
      expect(p.run.main.warnings.join('\n')).toMatch(
        /answered 403 \(does the token have actions: read\?\)/
      )
    } finally {
      server.close()
    }
  })

  it('needs a token', async () => {
    const repo = monorepo()
    const ws = checkoutLike(repo, repo.sha(), 'main')
    const p = await plan(ws, {
      eventName: 'schedule',
      inputs: { 'base-from-last-success': 'true' }
    })
    expect(p.code).toBe(1)
    expect(p.run.main.errors[0]).toMatch(/"base-from-last-success" needs input "token"/)
  })
})
