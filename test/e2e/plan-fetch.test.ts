/**
 * plan against an origin that wants credentials: a real smart-HTTP git server (git
 * http-backend behind a token check) and a depth-1 checkout without persisted
 * credentials, as the reusable workflow makes it. Without a token the fetch of the base
 * fails and plan says so (never "force push ... every service"); with input `token` the
 * fetch authenticates through a header in git's environment, never in argv or
 * .git/config. Also: `base: HEAD~3` on a depth-1 checkout, a short secret that would
 * rewrite an output, and a services-file mistake as an annotation on the file.
 */
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { canary, findLeaks } from '../support/canary.js'
import { startGitHttp, type GitHttpServer } from '../support/git-http.js'
import {
  checkoutLike,
  cleanup,
  makeRepo,
  pushEvent,
  sh,
  type TestRepo
} from '../support/gitrepo.js'
import { runAction, type ActionRun } from '../support/harness.js'

const TOKEN = `ghs_${canary('PLANFETCH').replace(/-/g, '')}`

let repo: TestRepo
let server: GitHttpServer
let before: string
let after: string

beforeAll(async () => {
  repo = makeRepo({
    'services/cart/Dockerfile': 'FROM scratch\n',
    'services/web/Dockerfile': 'FROM scratch\n'
  })
  for (let i = 0; i < 5; i++) repo.commit({ [`services/web/f${i}.txt`]: `${i}\n` })
  before = repo.sha()
  after = repo.commit({ 'services/cart/main.go': 'package cart\n' })
  repo.push('main')
  server = await startGitHttp({ root: dirname(repo.origin), tokens: { [TOKEN]: 'read' } })
})
afterAll(async () => {
  await server?.stop()
  cleanup()
})

/** A depth-1 checkout of `after` whose origin is the HTTP server (no credentials kept). */
function workspace(): string {
  const ws = checkoutLike(repo, after, 'main')
  sh(ws, ['remote', 'set-url', 'origin', server.url(repo.origin.split('/').pop()!)])
  return ws
}

function plan(ws: string, inputs: Record<string, string> = {}): Promise<ActionRun> {
  return runAction('plan', {
    workspace: ws,
    sha: after,
    event: pushEvent({ ref: 'refs/heads/main', before, after }),
    inputs,
    // The server the token belongs to: the token goes to origin only when it is there.
    env: { GITHUB_SERVER_URL: new URL(server.url('x')).origin },
    sampleProcesses: true
  })
}

describe('plan: fetching the base from an origin that wants credentials', () => {
  it('without a token: an error that says authentication failed, not "every service"', async () => {
    const ws = workspace()
    const run = await plan(ws)
    expect(run.main.code).toBe(1)
    const error = run.main.errors.join('\n')
    expect(run.main.errors).toHaveLength(1)
    expect(error).toMatch(
      /fetching from origin http:\/\/127\.0\.0\.1:\d+\/origin\.git failed: origin refused the credentials, or asked for some and got none \(git said "fatal: could not read Username for 'http:\/\/127\.0\.0\.1:\d+': terminal prompts disabled"\)/
    )
    expect(error).toContain('input "token"')
    expect(error).not.toMatch(/force push|no common history|: every service/)
    expect(run.main.outputs.matrix).toBeUndefined()
    expect(server.requests.some(r => r.status === 401)).toBe(true)
  })

  it('with input token: the fetch authenticates by a header in the environment, and plans from `before`', async () => {
    const ws = workspace()
    const seen = server.requests.length
    const run = await plan(ws, { token: TOKEN })
    expect(run.main.errors).toEqual([])
    expect(run.main.code).toBe(0)
    expect(run.main.outputs.base).toBe(before)
    expect(JSON.parse(run.main.outputs.services!)).toEqual(['cart'])
    expect(run.main.stdout).toMatch(
      /authenticate with input "token" \(an HTTP header passed to git/
    )
    // The server saw the token as HTTP Basic (x-access-token), as GitHub expects it.
    const auth = server.requests.slice(seen).map(r => r.headers.authorization)
    expect(auth).toContain(`basic ${Buffer.from(`x-access-token:${TOKEN}`).toString('base64')}`)
    // Never in argv, never in .git/config (or anywhere in the workspace), never logged.
    const git = run.main.processes.filter(p => /(^|\/)git$/.test(p.argv[0] ?? ''))
    expect(git.some(p => p.argv.some(a => a.startsWith('--config-env=http.')))).toBe(true)
    const argv = run.main.processes.map(p => p.argv.join(' ')).join('\n')
    expect(findLeaks({ argv }, [{ value: TOKEN, user: 'x-access-token' }])).toEqual([])
    expect(readFileSync(join(ws, '.git', 'config'), 'utf8')).not.toMatch(/extraheader/i)
    const channels = run.channels()
    for (const key of Object.keys(channels)) if (key.endsWith('.environ')) delete channels[key]
    expect(findLeaks(channels, [{ value: TOKEN, user: 'x-access-token' }])).toEqual([])
  })

  it('the token is not sent to an origin on another server', async () => {
    const ws = workspace()
    const seen = server.requests.length
    const run = await runAction('plan', {
      workspace: ws,
      sha: after,
      event: pushEvent({ ref: 'refs/heads/main', before, after }),
      inputs: { token: TOKEN }
      // GITHUB_SERVER_URL stays https://github.com
    })
    expect(run.main.code).toBe(1)
    expect(run.main.stdout).toMatch(
      /input "token" is not sent: origin 127\.0\.0\.1:\d+ is not the GitHub server github\.com/
    )
    expect(server.requests.slice(seen).every(r => r.headers.authorization === undefined)).toBe(true)
  })
})

describe('plan: first use', () => {
  it('base: HEAD~3 resolves on a depth-1 checkout (history deepened until it does)', async () => {
    const ws = checkoutLike(repo, after, 'main')
    expect(sh(ws, ['rev-parse', '--is-shallow-repository'])).toBe('true')
    const run = await runAction('plan', {
      workspace: ws,
      sha: after,
      eventName: 'workflow_dispatch',
      inputs: { base: 'HEAD~3' }
    })
    expect(run.main.errors).toEqual([])
    expect(run.main.outputs.base).toBe(repo.sha('HEAD~3'))
    // web changed in HEAD~2 and HEAD~1, cart in HEAD
    expect(JSON.parse(run.main.outputs.services!)).toEqual(['cart', 'web'])
  })

  it('a revision that names nothing is an error naming input "base"', async () => {
    const ws = checkoutLike(repo, after, 'main')
    const run = await runAction('plan', {
      workspace: ws,
      sha: after,
      eventName: 'workflow_dispatch',
      inputs: { base: 'HEAD~999' }
    })
    expect(run.main.code).toBe(1)
    expect(run.main.errors.join('\n')).toMatch(
      /input "base": got "HEAD~999", which names no commit here or on origin; expected a revision git can resolve/
    )
  })

  it('a short secret that an output would hold fails the step naming the output, with a warning', async () => {
    const ws = checkoutLike(repo, after, 'main')
    const run = await runAction('plan', {
      workspace: ws,
      sha: after,
      eventName: 'workflow_dispatch',
      inputs: { base: before, token: 'cart' }
    })
    expect(run.main.warnings.join('\n')).toMatch(
      /a secret of 4 characters \(input "token"\) is shorter than 8 characters/
    )
    expect(run.main.code).toBe(1)
    // The first machine-readable value that holds it: the changed-files list, then the
    // outputs (matrix, services) would be.
    expect(run.main.errors).toHaveLength(1)
    expect(run.main.errors[0]).toMatch(
      /(data file plan-changed-files-plan\.json|output "matrix") holds a secret of 4 characters \(input "token"\) or one of its encodings: masking would rewrite it to "\*\*\*"/
    )
    expect(run.main.stderr).not.toMatch(/MaskedValueError|at .*index\.js/)
    expect(JSON.stringify(run.main.outputs)).not.toContain('***')
  })

  it('a mistake in the services file is an annotation on its file, line and column', async () => {
    const mono = makeRepo({
      'shop/.github/conveyor.yml': 'services:\n  cart:\n    path: cart\n    imgae: x\n',
      'shop/cart/Dockerfile': 'FROM scratch\n'
    })
    mono.push('main')
    const ws = checkoutLike(mono, mono.sha(), 'main')
    const run = await runAction('plan', {
      workspace: ws,
      sha: mono.sha(),
      eventName: 'workflow_dispatch',
      inputs: { 'working-directory': 'shop' }
    })
    expect(run.main.code).toBe(1)
    const error = run.main.commands.find(c => c.name === 'error')!
    expect(error.props).toMatchObject({ file: 'shop/.github/conveyor.yml', line: '4', col: '5' })
    expect(error.message).toMatch(
      /services\.cart\.imgae: unknown key "imgae" \(did you mean "image"\?\)/
    )
  })
})
