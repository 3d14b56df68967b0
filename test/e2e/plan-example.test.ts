/**
 * The plan action on examples/monorepo: the selections its README promises, both
 * as its own repository (the demo) and as a subdirectory of a larger one with
 * `working-directory` (this repository's dogfooding CI job).
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { loadServices } from '../../src/model/services/load.js'
import { checkoutLike, cleanup, makeRepo, pushEvent, type TestRepo } from '../support/gitrepo.js'
import { ROOT, runAction } from '../support/harness.js'

const EXAMPLE = join(ROOT, 'examples', 'monorepo')

afterAll(() => cleanup())

function exampleRepo(prefix = ''): TestRepo {
  const repo = makeRepo()
  cpSync(EXAMPLE, join(repo.dir, prefix), { recursive: true })
  if (prefix) writeFileSync(join(repo.dir, 'package.json'), '{}\n')
  repo.git('add', '-A')
  repo.commit({}, 'import the shop')
  repo.push('main')
  return repo
}

async function planPush(repo: TestRepo, before: string, wd?: string): Promise<string[]> {
  const after = repo.sha()
  repo.push('main')
  const ws = checkoutLike(repo, after, 'main')
  const run = await runAction('plan', {
    workspace: ws,
    eventName: 'push',
    event: pushEvent({ ref: 'refs/heads/main', before, after }),
    sha: after,
    inputs: wd ? { 'working-directory': wd } : {}
  })
  expect(run.main.code, run.main.errors.join('\n')).toBe(0)
  return JSON.parse(run.main.outputs.services!) as string[]
}

describe('examples/monorepo', () => {
  it('its services file loads: four services, the library is none of them', async () => {
    const c = await loadServices({ workspace: EXAMPLE })
    expect(c.file).toBe('.github/conveyor.yml')
    expect(c.global).toEqual(['protos/**'])
    expect(c.defaults.registry).toBe('ghcr.io/acme')
    expect(c.services.map(s => s.name)).toEqual(['frontend', 'cart', 'checkout', 'payments'])
    for (const s of c.services) {
      expect(s.deploy).toEqual({ kustomize: 'overlays/prod' })
      const dockerfile = readFileSync(join(EXAMPLE, s.dockerfile), 'utf8')
      expect(dockerfile).toMatch(/^FROM scratch$/m)
    }
  })

  const steps: [string, (r: TestRepo) => void, string[]][] = [
    ['a service file', r => void r.commit({ 'services/cart/app.txt': 'cart v2\n' }), ['cart']],
    [
      'the shared library',
      r => void r.commit({ 'libs/money/money.txt': 'rounding: bankers\n' }),
      ['cart', 'checkout']
    ],
    [
      'the protos (global)',
      r => void r.commit({ 'protos/shop.proto': 'syntax = "proto3";\n' }),
      ['frontend', 'cart', 'checkout', 'payments']
    ],
    [
      'a move across services',
      r => {
        r.git('mv', 'services/cart/app.txt', 'services/checkout/cart-app.txt')
        r.commit({}, 'move')
      },
      ['cart', 'checkout']
    ],
    [
      'docs only',
      r => void r.commit({ 'README.md': '# more\n', 'services/cart/README.md': '# cart\n' }),
      []
    ]
  ]
  for (const [name, change, want] of steps) {
    it(`selects what the README says for ${name}`, async () => {
      const repo = exampleRepo()
      const before = repo.sha()
      change(repo)
      expect(await planPush(repo, before)).toEqual(want)
    })
  }

  it('as a subdirectory with working-directory (the dogfooding job)', async () => {
    const repo = exampleRepo('examples/monorepo')
    const before = repo.sha()
    repo.commit({
      'examples/monorepo/libs/money/money.txt': 'x\n',
      'src/unrelated.ts': 'export {}\n'
    })
    expect(await planPush(repo, before, 'examples/monorepo')).toEqual(['cart', 'checkout'])
  })
})
