/**
 * Token handling against a real smart-HTTP git server (git http-backend behind an
 * authenticating Node server): the token travels only as an Authorization header,
 * never in any child process's argv, .git/config, leftover files or output; a
 * read-only token fails and says it cannot push; a wrong token fails clearly.
 */
import { dirname } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { canary, encodingsOf, findLeaks } from '../support/canary.js'
import { cleanup, sh, type TestRepo } from '../support/gitrepo.js'
import { makeConfigRemote, startGitHttp, type GitHttpServer } from '../support/git-http.js'
import { runAction, type ActionRun } from '../support/harness.js'

const WRITE = canary('GITWRITE')
const READ = canary('GITREAD')
let server: GitHttpServer
let repo: TestRepo
let url: string

beforeAll(async () => {
  repo = makeConfigRemote()
  sh(repo.origin, ['config', 'http.receivepack', 'true'])
  server = await startGitHttp({
    root: dirname(repo.origin),
    tokens: { [WRITE]: 'write', [READ]: 'read' }
  })
  url = server.url('origin.git')
})
afterAll(async () => {
  await server?.stop()
  cleanup()
})

/** Every text that left the run, except child process environments (see below). */
function exposed(run: ActionRun): Record<string, string> {
  const ch = run.channels()
  const out: Record<string, string> = {}
  // The header reaches git through its environment (`--config-env`), readable only by
  // the same user, like the runner's own environment; argv is world-readable.
  for (const [k, v] of Object.entries(ch)) if (!k.endsWith('.environ')) out[k] = v
  for (const [p, c] of Object.entries(run.leftoverFiles())) out[`file ${p}`] = c
  for (const [p, c] of Object.entries(run.workspaceFiles())) out[`workspace ${p}`] = c
  return out
}

describe('deploy gitops over smart HTTP with a token', () => {
  it.each(['basic', 'bearer'] as const)(
    'pushes with the token as an %s Authorization header, never in argv or files',
    async scheme => {
      const before = server.requests.length
      const tag = `4.0.${scheme.length}`
      const run = await runAction('deploy', {
        inputs: {
          repository: url,
          token: WRITE,
          'token-auth': scheme,
          images: `cart=ghcr.io/acme/shop-cart:${tag}`,
          targets: 'kustomize:overlays/prod'
        },
        sampleProcesses: true
      })
      expect(run.main.errors).toEqual([])
      expect(run.main.code).toBe(0)
      expect(sh(repo.origin, ['show', 'main:overlays/prod/kustomization.yaml'])).toContain(
        `newTag: ${tag}`
      )
      const reqs = server.requests.slice(before)
      expect(reqs.some(r => r.url.includes('git-receive-pack') && r.status === 200)).toBe(true)
      const expected =
        scheme === 'basic'
          ? `basic ${Buffer.from(`x-access-token:${WRITE}`).toString('base64')}`
          : `bearer ${WRITE}`
      for (const r of reqs) expect(r.headers.authorization).toBe(expected)
      // git processes really ran and were sampled; none had the token in argv.
      const gits = run.main.processes.filter(p => p.argv[0]?.endsWith('git'))
      expect(gits.length).toBeGreaterThan(2)
      expect(
        gits.some(p => p.argv.includes('--config-env=http.extraheader=CONVEYOR_GIT_EXTRAHEADER'))
      ).toBe(true)
      const forms = Object.values(encodingsOf(WRITE, 'x-access-token')).flat()
      for (const p of run.main.processes) {
        for (const f of forms) expect(p.argv.join(' ')).not.toContain(f)
      }
      expect(findLeaks(exposed(run), [{ value: WRITE, user: 'x-access-token' }])).toEqual([])
      // The token is masked in every form the runner would not mask by itself.
      expect(run.main.masks).toContain(
        Buffer.from(Buffer.from(WRITE).toString('base64')).toString('base64')
      )
      // The remote's own config never saw it either.
      expect(sh(repo.origin, ['config', '--list'])).not.toContain(WRITE)
    }
  )

  it('a read-only token fails and says it cannot push, keeping the diff in the log', async () => {
    const tip = sh(repo.origin, ['rev-parse', 'main'])
    const run = await runAction('deploy', {
      inputs: {
        repository: url,
        token: READ,
        images: 'frontend=ghcr.io/acme/shop-frontend:9.9.9',
        targets: 'kustomize:overlays/prod'
      }
    })
    expect(run.main.code).toBe(1)
    expect(run.main.errors.join('\n')).toMatch(
      /may read the config repository but not push .*contents: write/
    )
    expect(run.main.errors.join('\n')).toContain('+    newTag: "9.9.9"')
    expect(sh(repo.origin, ['rev-parse', 'main'])).toBe(tip)
    expect(findLeaks(exposed(run), [{ value: READ, user: 'x-access-token' }])).toEqual([])
  })

  it('a wrong token fails clearly without echoing it', async () => {
    const wrong = canary('WRONG')
    const run = await runAction('deploy', {
      inputs: {
        repository: url,
        token: wrong,
        images: 'frontend=ghcr.io/acme/shop-frontend:9.9.9',
        targets: 'kustomize:overlays/prod'
      }
    })
    expect(run.main.code).toBe(1)
    expect(run.main.errors.join('\n')).toMatch(/token was not accepted|credentials/)
    expect(findLeaks(exposed(run), [{ value: wrong, user: 'x-access-token' }])).toEqual([])
  })

  it('no token at all: the server asks for credentials and the error says so', async () => {
    const run = await runAction('deploy', {
      inputs: {
        repository: url,
        images: 'frontend=ghcr.io/acme/shop-frontend:9.9.9',
        targets: 'kustomize:overlays/prod'
      }
    })
    expect(run.main.code).toBe(1)
    expect(run.main.errors.join('\n')).toMatch(/credentials/)
  })
})
