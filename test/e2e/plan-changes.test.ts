/**
 * The plan action's committed bundle on what the changes themselves look like: renames
 * across services, deletions, hostile file names, a 40,000-file change, limits, the
 * empty plan, Dockerfile discovery, and bad services files with their precise errors.
 */
import { readFileSync } from 'node:fs'
import { afterAll, describe, expect, it } from 'vitest'
import {
  checkoutLike,
  cleanup,
  fastCommit,
  makeRepo,
  pushEvent,
  sh,
  type TestRepo
} from '../support/gitrepo.js'
import { runAction, type ActionRun } from '../support/harness.js'

const CONFIG = readFileSync(new URL('../fixtures/plan/conveyor.yml', import.meta.url), 'utf8')
const ALL = ['frontend', 'cart', 'checkout', 'payments']

afterAll(() => cleanup())

function monorepo(config: string | null = CONFIG, extra: Record<string, string> = {}): TestRepo {
  const files: Record<string, string> = {
    'protos/shop.proto': 'syntax = "proto3";\n',
    'libs/money/money.go': 'package money\n',
    'README.md': '# shop\n',
    ...extra
  }
  if (config !== null) files['.github/conveyor.yml'] = config
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
  outputs: Record<string, string>
  services: string[]
  deleted: string[]
  changed: { status: string; path: string; from?: string }[]
  error: string
}

/** Push what is committed in `repo` since `before` and plan it from a depth-1 checkout. */
async function planPush(
  repo: TestRepo,
  before: string,
  inputs: Record<string, string> = {}
): Promise<Plan> {
  const after = repo.sha()
  repo.push('main')
  const ws = checkoutLike(repo, after, 'main')
  const run = await runAction('plan', {
    workspace: ws,
    eventName: 'push',
    event: pushEvent({ ref: 'refs/heads/main', before, after }),
    sha: after,
    inputs,
    timeoutMs: 170_000
  })
  const o = run.main.outputs
  return {
    run,
    code: run.main.code,
    outputs: o,
    services: o.services ? (JSON.parse(o.services) as string[]) : [],
    deleted: o.deleted ? (JSON.parse(o.deleted) as string[]) : [],
    changed: o['changed-files-path']
      ? (JSON.parse(readFileSync(o['changed-files-path'], 'utf8')) as Plan['changed'])
      : [],
    error: run.main.errors.join('\n')
  }
}

function ok(p: Plan): Plan {
  if (p.code !== 0) throw new Error(`plan failed: ${p.error}\n${p.run.main.stdout}`)
  return p
}

describe('plan: what changed', () => {
  it('a git mv across services selects both sides', async () => {
    const repo = monorepo(CONFIG, { 'services/cart/pricing.go': 'package cart\n// pricing\n' })
    const before = repo.sha()
    repo.git('mv', 'services/cart/pricing.go', 'services/payments/pricing.go')
    repo.commit({})
    const p = ok(await planPush(repo, before))
    expect(p.changed).toEqual([
      {
        status: 'R',
        path: 'services/payments/pricing.go',
        from: 'services/cart/pricing.go'
      }
    ])
    // cart (old side), payments (new side), and what depends on payments.
    expect(p.services).toEqual(ALL)
    const matrix = JSON.parse(p.outputs.matrix!) as {
      include: { service: string; reasons: string[] }[]
    }
    expect(matrix.include.find(l => l.service === 'cart')!.reasons).toEqual([
      'path services/cart/: "services/cart/pricing.go"'
    ])
    expect(matrix.include.find(l => l.service === 'payments')!.reasons).toEqual([
      'path services/payments/: "services/payments/pricing.go"'
    ])
  })

  it('a deleted service is reported in `deleted` and never built', async () => {
    const repo = monorepo()
    const before = repo.sha()
    const config = CONFIG.replace(
      / {2}frontend:\n {4}path: services\/frontend\n {4}depends-on: \[checkout\]\n/,
      ''
    )
    expect(config).not.toContain('frontend')
    repo.commit({ 'services/frontend': null, '.github/conveyor.yml': config })
    const p = ok(await planPush(repo, before))
    expect(p.deleted).toEqual(['frontend'])
    expect(p.services).toEqual([])
    expect(p.outputs.count).toBe('0')
    expect(p.outputs.matrix).toBe('{"include":[]}')
    expect(p.run.main.summary).toContain('Deleted services (not built): `frontend`')
  })

  it('a deleted discovered service (no services file) is reported in `deleted`', async () => {
    const repo = monorepo(null)
    const before = repo.sha()
    repo.commit({ 'services/cart': null, 'services/checkout/x.go': 'x' })
    const p = ok(await planPush(repo, before))
    expect(p.deleted).toEqual(['cart'])
    expect(p.services).toEqual(['checkout'])
  })

  it('a sparse checkout without the Dockerfiles: services are not mistaken for deleted', async () => {
    const repo = monorepo()
    const before = repo.sha()
    const after = repo.commit({ 'services/cart/x.go': 'x' })
    repo.push('main')
    const ws = checkoutLike(repo, after, 'main', { sparse: ['/.github/'] })
    const run = await runAction('plan', {
      workspace: ws,
      eventName: 'push',
      event: pushEvent({ ref: 'refs/heads/main', before, after }),
      sha: after
    })
    expect(run.main.code, run.main.errors.join('\n')).toBe(0)
    expect(JSON.parse(run.main.outputs.services!)).toEqual(['cart'])
    expect(run.main.outputs.deleted).toBe('[]')
  })

  it('a deleted service in a working-directory subdirectory', async () => {
    const repo = makeRepo({
      'shop/.github/conveyor.yml': CONFIG,
      ...Object.fromEntries(ALL.map(s => [`shop/services/${s}/Dockerfile`, 'FROM scratch\n']))
    })
    repo.push('main')
    const before = repo.sha()
    const config = CONFIG.replace(/ {2}cart:\n(?: {4}.*\n)+/, '')
    expect(config).not.toMatch(/^ {2}cart:/m)
    const after = repo.commit({ 'shop/services/cart': null, 'shop/.github/conveyor.yml': config })
    repo.push('main')
    const ws = checkoutLike(repo, after, 'main')
    const run = await runAction('plan', {
      workspace: ws,
      eventName: 'push',
      event: pushEvent({ ref: 'refs/heads/main', before, after }),
      sha: after,
      inputs: { 'working-directory': 'shop' }
    })
    expect(run.main.code, run.main.errors.join('\n')).toBe(0)
    expect(run.main.outputs.deleted).toBe('["cart"]')
    expect(run.main.outputs.services).toBe('[]')
  })

  it('file names with spaces, quotes, newlines, non-ASCII and a leading dash', async () => {
    const repo = monorepo()
    const before = repo.sha()
    const names = [
      'services/cart/a file with spaces.txt',
      'services/cart/"quoted" \'both\'.txt',
      'services/cart/new\nline.txt',
      'services/cart/ünïcødé-名前.txt',
      'services/cart/-leading-dash.txt',
      'services/cart/tab\there.txt',
      'services/cart/back\\slash.txt',
      '-top-level dash.txt'
    ]
    repo.commit(Object.fromEntries(names.map(n => [n, n])))
    const p = ok(await planPush(repo, before))
    expect(p.changed.map(c => c.path).sort()).toEqual([...names].sort())
    expect(p.changed.every(c => c.status === 'A')).toBe(true)
    expect(p.services).toEqual(['cart'])
    const matrix = JSON.parse(p.outputs.matrix!) as { include: { reasons: string[] }[] }
    expect(matrix.include[0]!.reasons[0]).toMatch(/^path services\/cart\/: ".*" \(\+6 more\)$/)
  })

  it('a rename of a hostile name keeps both names exact', async () => {
    const repo = monorepo(CONFIG, { 'services/cart/-x "y"\n.txt': 'same content\n' })
    const before = repo.sha()
    repo.git('mv', '--', 'services/cart/-x "y"\n.txt', 'services/checkout/ü z.txt')
    repo.commit({})
    const p = ok(await planPush(repo, before))
    expect(p.changed).toEqual([
      { status: 'R', path: 'services/checkout/ü z.txt', from: 'services/cart/-x "y"\n.txt' }
    ])
    expect(p.services).toEqual(['frontend', 'cart', 'checkout'])
  })

  it('ignore: a README in cart selects nothing; an unrelated file neither', async () => {
    const repo = monorepo()
    const before = repo.sha()
    repo.commit({ 'services/cart/README.md': '# cart\n', 'docs/guide.md': 'guide\n' })
    const p = ok(await planPush(repo, before))
    expect(p.services).toEqual([])
    expect(p.outputs.count).toBe('0')
    expect(p.outputs['has-changes']).toBe('true')
    expect(p.outputs.matrix).toBe('{"include":[]}')
    expect(p.run.main.summary).toContain('Nothing to build.')
  })

  it('a push with no file change: empty matrix, has-changes false', async () => {
    const repo = monorepo()
    const before = repo.sha()
    repo.commit({}, 'empty commit')
    const p = ok(await planPush(repo, before))
    expect(p.outputs.count).toBe('0')
    expect(p.outputs.matrix).toBe('{"include":[]}')
    expect(p.outputs.services).toBe('[]')
    expect(p.outputs['has-changes']).toBe('false')
  })

  it('max-jobs: too many selected services fail with how to split', async () => {
    const repo = monorepo()
    const before = repo.sha()
    repo.commit({ 'protos/shop.proto': 'syntax = "proto3"; // v2\n' })
    const p = await planPush(repo, before, { 'max-jobs': '3' })
    expect(p.code).toBe(1)
    expect(p.error).toMatch(/4 services are selected but input "max-jobs" allows 3 matrix jobs/)
    expect(p.error).toMatch(/split the services across several services files/)
    expect(p.outputs.matrix).toBeUndefined()
  })

  it("max-jobs above GitHub's 256 is refused before any git command", async () => {
    const repo = monorepo()
    const p = await planPush(repo, repo.sha(), { 'max-jobs': '300' })
    expect(p.code).toBe(1)
    expect(p.error).toMatch(/input "max-jobs": got "300", expected an integer >= 1 and <= 256/)
    expect(p.run.main.stdout).not.toMatch(/git fetch/)
  })

  it('discovers services from Dockerfiles without a services file (generic dir names)', async () => {
    const repo = makeRepo({
      'src/cartservice/src/Dockerfile': 'FROM scratch\n',
      'src/cartservice/src/cart.cs': 'class Cart {}\n',
      'src/cartservice/tests/t.cs': 'class T {}\n',
      'src/frontend/Dockerfile': 'FROM scratch\n',
      'node_modules/pkg/Dockerfile': 'FROM scratch\n'
    })
    repo.push('main')
    const before = repo.sha()
    repo.commit({ 'src/cartservice/tests/t.cs': 'class T { }\n' })
    const p = ok(await planPush(repo, before))
    expect(p.services).toEqual(['cartservice'])
    const matrix = JSON.parse(p.outputs.matrix!) as { include: Record<string, unknown>[] }
    expect(matrix.include[0]).toMatchObject({
      service: 'cartservice',
      path: 'src/cartservice',
      context: 'src/cartservice/src',
      dockerfile: 'src/cartservice/src/Dockerfile',
      image: 'cartservice'
    })
    expect(p.run.main.summary).toContain('Services discovered from their Dockerfiles')
  })

  it('a 40,000-file change: every file listed, one service selected, outputs small', async () => {
    const repo = monorepo()
    const before = repo.sha()
    repo.push('main')
    const paths = Array.from({ length: 40_000 }, (_, i) => `services/cart/gen/${i % 100}/f${i}.txt`)
    const after = fastCommit(repo.origin, 'main', before, paths, p => `${p}\n`)
    // Blob-less and sparse, as actions/checkout can (checking out 40,000 files is not the point).
    const ws = checkoutLike(repo, after, 'main', {
      sparse: ['/.github/', '**/Dockerfile', '/services/*/*']
    })
    const started = Date.now()
    const run = await runAction('plan', {
      workspace: ws,
      eventName: 'push',
      event: pushEvent({ ref: 'refs/heads/main', before, after }),
      sha: after,
      timeoutMs: 170_000
    })
    const took = Date.now() - started
    expect(run.main.code, run.main.errors.join('\n')).toBe(0)
    const o = run.main.outputs
    expect(JSON.parse(o.services!)).toEqual(['cart'])
    const changed = JSON.parse(readFileSync(o['changed-files-path']!, 'utf8')) as { path: string }[]
    expect(changed).toHaveLength(40_000)
    expect(new Set(changed.map(c => c.path))).toEqual(new Set(paths))
    const total = Object.values(o).reduce((n, v) => n + Buffer.byteLength(v), 0)
    expect(total).toBeLessThan(4096)
    expect(JSON.parse(o.matrix!).include[0].reasons[0]).toMatch(/\(\+39999 more\)$/)
    expect(took).toBeLessThan(60_000)
  }, 180_000)
})

describe('plan: bad services files fail with file:line:col and the key', () => {
  const cases: { name: string; file: string; error: RegExp }[] = [
    {
      name: 'unknown key with a hint',
      file: 'services:\n  cart:\n    path: services/cart\n    dependson: [payments]\n  payments:\n    path: services/payments\n',
      error:
        /\.github\/conveyor\.yml:4:5: services\.cart\.dependson: unknown key "dependson" \(did you mean "depends-on"\?\)/
    },
    {
      name: 'a dependency cycle, named',
      file: 'services:\n  cart:\n    path: services/cart\n    depends-on: [checkout]\n  checkout:\n    path: services/checkout\n    depends-on: [cart]\n',
      error:
        /\.github\/conveyor\.yml:7:18: services\.checkout\.depends-on: dependency cycle cart -> checkout -> cart/
    },
    {
      name: 'an unknown dependency',
      file: 'services:\n  cart:\n    path: services/cart\n    depends-on: [paymnets]\n  payments:\n    path: services/payments\n',
      error:
        /\.github\/conveyor\.yml:4:18: services\.cart\.depends-on: unknown service "paymnets" \(did you mean "payments"\?\)/
    },
    {
      name: 'a wrong type',
      file: 'services:\n  cart:\n    path: services/cart\n    platforms: 42\n',
      error:
        /\.github\/conveyor\.yml:4:16: services\.cart\.platforms: expected a list, got number 42/
    },
    {
      name: 'a path outside the repository',
      file: 'services:\n  cart:\n    path: ../cart\n',
      error:
        /\.github\/conveyor\.yml:3:11: services\.cart\.path: got "\.\.\/cart", expected a path relative to the repository root/
    },
    {
      name: 'YAML that does not parse',
      file: 'services:\n  cart: {path: services/cart\n',
      error: /\.github\/conveyor\.yml:\d+:\d+: not valid YAML/
    },
    {
      name: 'a top-level typo',
      file: 'global: [protos/**]\nservice:\n  cart: {path: services/cart}\n',
      error:
        /\.github\/conveyor\.yml:2:1: service: unknown key "service" \(did you mean "services"\?\)/
    }
  ]
  for (const c of cases) {
    it(c.name, async () => {
      const repo = monorepo(c.file)
      const p = await planPush(repo, repo.sha())
      expect(p.code).toBe(1)
      expect(p.error).toMatch(/^plan failed: /)
      expect(p.error).toMatch(c.error)
      expect(p.outputs.matrix).toBeUndefined()
    })
  }

  it('a config input naming a missing file is an error (the default path falls back to discovery)', async () => {
    const repo = monorepo()
    const p = await planPush(repo, repo.sha(), { config: 'ci/services.yml' })
    expect(p.code).toBe(1)
    expect(p.error).toMatch(
      /input "config": got "ci\/services\.yml", expected the path of an existing services file/
    )
    expect(p.run.main.stdout).not.toMatch(/git fetch/)
  })

  it('the working-directory input: a checkout in a subdirectory', async () => {
    const repo = monorepo()
    const before = repo.sha()
    repo.commit({ 'services/cart/x.go': 'x' })
    const after = repo.sha()
    repo.push('main')
    const ws = checkoutLike(repo, after, 'main')
    const parent = sh(ws, ['rev-parse', '--show-toplevel']).replace(/\/ws$/, '')
    const run = await runAction('plan', {
      workspace: parent,
      eventName: 'push',
      event: pushEvent({ ref: 'refs/heads/main', before, after }),
      sha: after,
      inputs: { 'working-directory': 'ws' }
    })
    expect(run.main.code, run.main.errors.join('\n')).toBe(0)
    expect(JSON.parse(run.main.outputs.services!)).toEqual(['cart'])
  })
})
