/**
 * Fault injection: the fault proxy in front of the real registry, the Argo CD
 * simulator, the git smart-HTTP remote and the GitHub API simulator. Each action
 * either succeeds with nothing lost or fails with a clear message and no half state:
 * no tag pointing at a missing manifest, no pushed commit without its result (and the
 * diff printed when nothing landed), no pull request opened twice, no credentials file
 * left under RUNNER_TEMP after the post step, no operation left running unless asked.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { request } from 'node:https'
import { basename, dirname, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startArgoSim, type ArgoSim } from '../support/argocd-sim.js'
import { isolatedBuildahEnv, type BuildahEnv } from '../support/base-image.js'
import { canary, findLeaks } from '../support/canary.js'
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js'
import { makeConfigRemote, startGitHttp, type GitHttpServer } from '../support/git-http.js'
import { startGitHubSim, type GitHubSim } from '../support/github-sim.js'
import { checkoutLike, cleanup, makeRepo, sh, type TestRepo } from '../support/gitrepo.js'
import { runAction, type ActionRun } from '../support/harness.js'
import { startRegistry, type TestRegistry } from '../support/registry.js'
import {
  emptyDir,
  removeTempDirs,
  startBufferingProxy,
  startCuttingTcpProxy,
  startSilentServer
} from '../support/reliability-env.js'
import { generateKey, startSshd, type TestSshd } from '../support/sshd.js'

afterAll(() => {
  cleanup()
  removeTempDirs()
})

/** No file under RUNNER_TEMP holds any form of the secrets after the post step. */
function expectNoStrayCredentials(run: ActionRun, canaries: { value: string; user?: string }[]) {
  const files: Record<string, string> = {}
  for (const [path, content] of Object.entries(run.leftoverFiles())) files[`file:${path}`] = content
  expect(findLeaks(files, canaries)).toEqual([])
  expect(Object.keys(files).filter(p => /auth/i.test(basename(p)))).toEqual([])
}

describe('build: registry faults', () => {
  const USER = 'ci-bot'
  const PASSWORD = canary('FAULTPASS')
  let registry: TestRegistry
  let proxy: FaultProxy
  let buildah: BuildahEnv
  let ws: string

  /** GET on the real registry (not through the proxy): status and body. */
  const api = (path: string, method = 'GET'): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const req = request(
        `${registry.url}${path}`,
        {
          method,
          ca: registry.caPem,
          headers: {
            authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`,
            accept: [
              'application/vnd.oci.image.manifest.v1+json',
              'application/vnd.oci.image.index.v1+json',
              'application/vnd.docker.distribution.manifest.v2+json',
              'application/vnd.docker.distribution.manifest.list.v2+json'
            ].join(', ')
          }
        },
        res => {
          let body = ''
          res.on('data', (c: Buffer) => (body += c.toString()))
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
        }
      )
      req.on('error', reject)
      req.end()
    })

  /** Every tag of `repo` resolves to a manifest whose config and layers exist. */
  async function expectNoDanglingTags(repo: string): Promise<string[]> {
    const list = await api(`/v2/${repo}/tags/list`)
    if (list.status === 404) return []
    expect(list.status).toBe(200)
    const tags = ((JSON.parse(list.body) as { tags: string[] | null }).tags ?? []).sort()
    for (const tag of tags) {
      const m = await api(`/v2/${repo}/manifests/${tag}`)
      expect(m.status, `${repo}:${tag}`).toBe(200)
      const manifest = JSON.parse(m.body) as {
        config?: { digest: string }
        layers?: { digest: string }[]
        manifests?: { digest: string }[]
      }
      for (const child of manifest.manifests ?? [])
        expect((await api(`/v2/${repo}/manifests/${child.digest}`, 'HEAD')).status).toBe(200)
      for (const blob of [manifest.config, ...(manifest.layers ?? [])].filter(Boolean))
        expect((await api(`/v2/${repo}/blobs/${blob!.digest}`, 'HEAD')).status).toBe(200)
    }
    return tags
  }

  beforeAll(async () => {
    registry = await startRegistry({ users: { [USER]: PASSWORD } })
    proxy = await startFaultProxy(registry.url, { ca: registry.caPem })
    buildah = isolatedBuildahEnv()
    ws = emptyDir('conveyor-rel-faults-ws-')
    mkdirSync(join(ws, 'svc'))
    writeFileSync(join(ws, 'svc', 'Dockerfile'), 'FROM scratch\nCOPY a.txt /a.txt\n')
    writeFileSync(join(ws, 'svc', 'a.txt'), 'faults\n')
    for (const args of [
      ['init', '-q', '-b', 'main'],
      ['add', '-A'],
      ['-c', 'user.name=t', '-c', 'user.email=t@e', 'commit', '-qm', 'init']
    ])
      execFileSync('git', args, { cwd: ws })
  }, 120_000)
  afterAll(async () => {
    await proxy?.close()
    await registry?.stop()
    buildah?.cleanup()
  })

  const build = (repo: string, inputs: Record<string, string>) =>
    runAction('build', {
      workspace: ws,
      sha: execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ws, encoding: 'utf8' }).trim(),
      event: { repository: { default_branch: 'main' } },
      env: buildah.env,
      timeoutMs: 180_000,
      inputs: {
        context: 'svc',
        image: `127.0.0.1:${proxy.port}/${repo}`,
        'registry-username': USER,
        'registry-password': PASSWORD,
        'registry-insecure': 'true',
        backend: 'buildah',
        cache: 'none',
        ...inputs
      }
    })

  it('429 with Retry-After on the reuse check, then success: builds, every tag whole', async () => {
    proxy.setRules([
      {
        match: r => r.method === 'GET' && r.url.includes('/manifests/ctx-'),
        times: 2,
        fault: { kind: 'status', status: 429, retryAfter: '1' }
      }
    ])
    const run = await build('acme/retry', { tags: 'type=raw,value=a\ntype=raw,value=b' })
    expect(run.main.code, run.main.errors.join('\n')).toBe(0)
    expect(proxy.seen.filter(r => r.status === 429).length).toBe(2)
    expect(run.main.stdout).toMatch(/HTTP 429; retrying in 1\.0s/)
    const tags = await expectNoDanglingTags('acme/retry')
    expect(tags).toEqual(expect.arrayContaining(['a', 'b']))
    expect(tags.some(t => t.startsWith('ctx-'))).toBe(true)
    expectNoStrayCredentials(run, [{ value: PASSWORD, user: USER }])
  }, 180_000)

  // Regression, fixed bug build-push-429 (found by this suite); it was: one transient 429
  // (Retry-After: 1) on a manifest PUT during the push failed the step: "buildah push
  // failed (buildah exited with code 125) ... uploading manifest a ...: StatusCode: 429".
  // buildah does not retry it and the action did not retry the push (its own HTTP client
  // does retry 429 on the promotion path). Now the action runs the push again.
  it('Regression, fixed bug build-push-429 (found by this suite): one 429 with Retry-After on the push, then success: succeeds', async () => {
    proxy.setRules([
      {
        match: r => r.method === 'PUT' && r.url.includes('/manifests/'),
        times: 1,
        fault: { kind: 'status', status: 429, retryAfter: '1' }
      }
    ])
    // proxy.seen holds the requests of every test so far: count only this build's.
    const from = proxy.seen.length
    const run = await build('acme/retry-push', { tags: 'type=raw,value=a', reuse: 'false' })
    expect(proxy.seen.slice(from).filter(r => r.status === 429).length).toBe(1)
    expect(run.main.code, run.main.errors.join('\n')).toBe(0)
    expect(run.main.stdout).toMatch(
      /buildah push failed with a transient registry error \(HTTP 429\); retrying in \d+\.\ds \(attempt 2 of 3\)/
    )
    expect(run.main.errors).toEqual([])
    expect(run.main.outputs.digest).toMatch(/^sha256:/)
    const tags = await expectNoDanglingTags('acme/retry-push')
    expect(tags).toContain('a')
    expect(tags.some(t => t.startsWith('ctx-'))).toBe(true)
    expectNoStrayCredentials(run, [{ value: PASSWORD, user: USER }])
  }, 180_000)

  it('persistent 503 on manifests: fails clearly, no tag points at a missing manifest, no ctx tag', async () => {
    proxy.setRules([
      {
        match: r => r.method === 'PUT' && r.url.includes('/manifests/'),
        fault: { kind: 'status', status: 503 }
      }
    ])
    const run = await build('acme/down', { tags: 'type=raw,value=a', reuse: 'false' })
    expect(run.main.code).toBe(1)
    // build prints the tool's output as one ::error:: and the step failure as another.
    expect(run.main.errors.length).toBeGreaterThan(0)
    expect(run.main.errors.join('\n')).toMatch(/503|unavailable/i)
    expect(run.main.outputs.digest).toBeUndefined()
    expect(run.main.outputs['result-file']).toBeUndefined()
    const tags = await expectNoDanglingTags('acme/down')
    expect(tags.filter(t => t.startsWith('ctx-'))).toEqual([])
    expectNoStrayCredentials(run, [{ value: PASSWORD, user: USER }])
  }, 180_000)

  it('a truncated manifest answer on the reuse check fails or rebuilds, never tags garbage', async () => {
    // Seed an image, then truncate the manifest GET of the reuse check.
    proxy.setRules([])
    const seed = await build('acme/trunc', { tags: 'type=raw,value=seed' })
    expect(seed.main.code, seed.main.errors.join('\n')).toBe(0)
    proxy.setRules([
      {
        match: r => r.method === 'GET' && r.url.includes('/manifests/ctx-'),
        fault: { kind: 'truncate', bytes: 40 }
      }
    ])
    const run = await build('acme/trunc', { tags: 'type=raw,value=after' })
    if (run.main.code === 0) {
      expect(run.main.outputs.digest).toMatch(/^sha256:/)
    } else {
      expect(run.main.errors).toHaveLength(1)
    }
    await expectNoDanglingTags('acme/trunc')
    expectNoStrayCredentials(run, [{ value: PASSWORD, user: USER }])
  }, 180_000)
})

describe('argocd-sync: simulator faults', () => {
  const TOKEN = canary('FAULTARGO')
  const sims: ArgoSim[] = []
  const closers: { close(): Promise<void> }[] = []
  afterAll(async () => {
    await Promise.all(closers.map(p => p.close()))
    await Promise.all(sims.map(s => s.stop()))
  })
  async function sim(options: Parameters<typeof startArgoSim>[0]): Promise<ArgoSim> {
    const s = await startArgoSim({ tokens: [TOKEN], stepMs: 30, ...options })
    sims.push(s)
    return s
  }
  const sync = (server: string, inputs: Record<string, string>) =>
    runAction('argocd-sync', {
      timeoutMs: 60_000,
      inputs: {
        server,
        token: TOKEN,
        timeout: '20s',
        'poll-interval': '200ms',
        ...inputs
      }
    })

  it('a burst of 502 after the preflight: the sync still succeeds', async () => {
    const s = await sim({
      apps: [{ name: 'shop' }],
      faults: [{ status: 502, times: 3, match: (_m, path) => path !== '/api/version' }]
    })
    const run = await sync(s.url, { applications: 'shop' })
    expect(run.main.code, run.main.errors.join('\n')).toBe(0)
    expect(run.main.outputs.result).toBe('succeeded')
    expect(s.requests.filter(r => r.status === 502).length).toBe(3)
    expect(s.syncs).toHaveLength(1)
  })

  // (3 × 502 then 2 × 429 on one request exhausts the client's 5 attempts and fails the
  // step: a bounded retry budget, not a bug; each burst alone is retried.)
  it('a 429 burst (Retry-After) after the preflight is retried', async () => {
    const s = await sim({
      apps: [{ name: 'shop' }],
      faults: [
        { status: 429, times: 2, retryAfter: '1', match: (_m, path) => path !== '/api/version' }
      ]
    })
    const run = await sync(s.url, { applications: 'shop' })
    expect(s.requests.filter(r => r.status === 429).length).toBe(2)
    expect(run.main.code, run.main.errors.join('\n')).toBe(0)
    expect(run.main.outputs.result).toBe('succeeded')
  })

  it('dropped watch streams: the verdict is still right (success and failure)', async () => {
    const s = await sim({
      apps: [{ name: 'good' }, { name: 'bad', scenario: 'failed-hook' }],
      streamFaults: { afterEvents: 1, kinds: ['drop', 'drop', 'drop', 'drop'] }
    })
    const good = await sync(s.url, { applications: 'good' })
    expect(good.main.code, good.main.errors.join('\n')).toBe(0)
    expect(good.main.outputs.result).toBe('succeeded')
    const bad = await sync(s.url, { applications: 'bad' })
    expect(bad.main.code).toBe(1)
    expect(bad.main.outputs.result).toBe('failed')
  })

  it('a 429 burst on the preflight: retried after Retry-After, the sync succeeds', async () => {
    const s = await sim({
      apps: [{ name: 'shop' }],
      faults: [{ status: 429, times: 2, retryAfter: '1' }]
    })
    const run = await sync(s.url, { applications: 'shop' })
    expect(s.requests.filter(r => r.status === 429).length).toBeGreaterThan(0)
    expect(run.main.code, run.main.errors.join('\n')).toBe(0)
  })

  it('a proxy that buffers the stream: falls back to polling and succeeds', async () => {
    const s = await sim({ apps: [{ name: 'shop', scenario: 'slow' }], slowFactor: 4 })
    const proxy = await startBufferingProxy(s.url)
    closers.push(proxy)
    const run = await sync(proxy.url, { applications: 'shop', 'poll-interval': '1s' })
    expect(run.main.code, run.main.errors.join('\n')).toBe(0)
    expect(run.main.outputs.result).toBe('succeeded')
    expect(proxy.buffered()).toBeGreaterThan(0)
    const polls = s.requests.filter(
      r => r.method === 'GET' && r.path === '/api/v1/applications/shop'
    )
    expect(polls.length).toBeGreaterThan(1)
  })

  it('timeout with on-timeout terminate leaves no operation running', async () => {
    const s = await sim({ apps: [{ name: 'stuck', scenario: 'stuck' }] })
    const run = await sync(s.url, {
      applications: 'stuck',
      timeout: '2s',
      'on-timeout': 'terminate'
    })
    expect(run.main.code).toBe(1)
    expect(run.main.outputs.result).toBe('timed-out')
    expect(s.requests.some(r => r.method === 'DELETE' && r.path.endsWith('/operation'))).toBe(true)
  })
})

describe('deploy gitops: smart-HTTP remote faults', () => {
  const TOKEN = canary('FAULTGIT')
  let repo: TestRepo
  let git: GitHttpServer
  let proxy: FaultProxy
  let n = 0

  beforeAll(async () => {
    repo = makeConfigRemote()
    git = await startGitHttp({ root: dirname(repo.origin), tokens: { [TOKEN]: 'write' } })
    proxy = await startFaultProxy(new URL(git.url(basename(repo.origin))).origin)
  })
  afterAll(async () => {
    await proxy?.close()
    await git?.stop()
  })

  const count = () => Number(sh(repo.origin, ['rev-list', '--count', 'main']))
  const deploy = (tag: string) =>
    runAction('deploy', {
      sha: `${String(++n).padStart(4, '0')}${'b'.repeat(36)}`,
      timeoutMs: 90_000,
      inputs: {
        repository: `${proxy.url}/${basename(repo.origin)}`,
        token: TOKEN,
        images: `checkout=ghcr.io/acme/shop-checkout:${tag}`,
        targets: 'kustomize:overlays/prod',
        'max-attempts': '3'
      }
    })

  /** Landed exactly once with the new tag, or failed with nothing pushed and the diff printed. */
  function expectAtomic(run: ActionRun, before: number, tag: string) {
    const file = sh(repo.origin, ['show', 'main:overlays/prod/kustomization.yaml'])
    if (run.main.code === 0) {
      expect(count()).toBe(before + 1)
      expect(file).toMatch(new RegExp(`newTag: '?${tag.replace(/\./g, '\\.')}'?\\s`))
      expect(run.main.outputs.commit).toBe(sh(repo.origin, ['rev-parse', 'main']))
    } else {
      expect(count()).toBe(before)
      expect(file).not.toContain(tag)
      expect(run.main.errors).toHaveLength(1)
      // The diff exists once the repository was read; a failed clone/fetch has none and
      // must name the remote problem instead.
      if (/could not read the config repository/.test(run.main.errors[0]!))
        expect(run.main.errors[0]).toMatch(/returned error: 5\d\d|Empty reply|reset/)
      else expect(run.main.stdout, 'the diff that did not land is printed').toContain(tag)
    }
    expectNoStrayCredentials(run, [{ value: TOKEN }])
  }

  it('a dropped push connection: lands exactly once or fails with nothing pushed', async () => {
    proxy.setRules([
      {
        match: r => r.method === 'POST' && r.url.includes('git-receive-pack'),
        times: 1,
        fault: { kind: 'drop' }
      }
    ])
    const before = count()
    const run = await deploy('3.0.1')
    expectAtomic(run, before, '3.0.1')
  })

  it('a 502 on the fetch: retried or failed cleanly', async () => {
    proxy.setRules([
      {
        match: r => r.url.includes('git-upload-pack'),
        times: 1,
        fault: { kind: 'status', status: 502 }
      }
    ])
    const before = count()
    const run = await deploy('3.0.2')
    expectAtomic(run, before, '3.0.2')
  })

  it('a persistent 500 on push: fails, nothing pushed, the diff printed', async () => {
    proxy.setRules([
      {
        match: r => r.url.includes('git-receive-pack'),
        fault: { kind: 'status', status: 500 }
      }
    ])
    const before = count()
    const run = await deploy('3.0.3')
    expect(run.main.code).toBe(1)
    expectAtomic(run, before, '3.0.3')
  })
})

describe('deploy gitops: GitHub API faults (pull-request mode)', () => {
  const TOKEN = canary('FAULTGH')
  let repo: TestRepo
  let gh: GitHubSim
  let proxy: FaultProxy

  beforeAll(async () => {
    repo = makeConfigRemote()
    const dir = repo.origin.replace(/origin\.git$/, '')
    sh(dir, ['clone', '-q', '--bare', repo.origin, `${dir}acme/shop-config.git`])
    repo.origin = `${dir}acme/shop-config.git`
    gh = await startGitHubSim({
      owner: 'acme',
      repo: 'shop-config',
      token: TOKEN,
      branchExists: b =>
        sh(repo.origin, ['for-each-ref', '--format=%(refname)', `refs/heads/${b}`]) !== ''
    })
    proxy = await startFaultProxy(gh.url)
  }, 60_000)
  afterAll(async () => {
    await proxy?.close()
    await gh?.stop()
  })

  it('502 then a dropped connection on the API: one pull request, or a clean failure', async () => {
    proxy.setRules([
      {
        match: r => r.method === 'POST' && r.url.endsWith('/pulls'),
        times: 1,
        fault: { kind: 'status', status: 502 }
      },
      { match: r => r.method === 'GET', times: 1, fault: { kind: 'drop' } }
    ])
    const run = await runAction('deploy', {
      timeoutMs: 90_000,
      inputs: {
        repository: 'acme/shop-config',
        token: TOKEN,
        images: 'cart=ghcr.io/acme/shop-cart:7.7.7',
        targets: 'kustomize:overlays/prod',
        'pull-request': 'true',
        environment: 'prod'
      },
      env: {
        GITHUB_SERVER_URL: `file://${repo.origin.replace(/\/acme\/shop-config\.git$/, '')}`,
        GITHUB_API_URL: proxy.url
      }
    })
    expect(proxy.seen.some(r => r.fault)).toBe(true)
    if (run.main.code === 0) {
      expect(gh.pulls).toHaveLength(1)
      expect(run.main.outputs['pull-request-url']).toMatch(/\/pull\/1$/)
    } else {
      expect(gh.pulls.length).toBeLessThanOrEqual(1)
      expect(run.main.errors).toHaveLength(1)
    }
    expect(gh.violations).toEqual([])
    expectNoStrayCredentials(run, [{ value: TOKEN }])
  })
})

describe('deploy ssh: the connection dies in the middle of the upload', () => {
  let sshd: TestSshd
  beforeAll(async () => {
    sshd = await startSshd()
  })
  afterAll(async () => {
    await sshd?.stop()
  })

  const deploy = (port: number, version: string, timeoutMs = 90_000) => {
    const ws = emptyDir('conveyor-rel-cut-ws-')
    mkdirSync(join(ws, 'site'))
    writeFileSync(join(ws, 'site', 'index.html'), `<h1>${version}</h1>\n`)
    // Incompressible bulk, so the cut lands inside the upload.
    writeFileSync(join(ws, 'site', 'bulk.bin'), randomBytes(512 * 1024))
    return runAction('deploy', {
      workspace: ws,
      sha: version.padEnd(40, '0'),
      timeoutMs,
      inputs: {
        mode: 'ssh',
        hosts: `127.0.0.1:${port}`,
        username: sshd.username,
        key: sshd.userKey.privateKey,
        // Pinned by fingerprint: the proxy's port differs from the server's.
        fingerprints: sshd.fingerprint,
        source: 'site',
        target: join(sshd.remoteDir, 'app'),
        script: 'true',
        timeout: '10s'
      }
    })
  }

  let cut: ActionRun | undefined

  it('after a cut upload, `current` still points at the previous, complete release', async () => {
    const first = await deploy(sshd.port, 'a1')
    expect(first.main.code, first.main.errors.join('\n')).toBe(0)
    const current = join(sshd.remoteDir, 'app', 'current')
    const before = readlinkSync(current)
    expect(readFileSync(join(current, 'index.html'), 'utf8')).toBe('<h1>a1</h1>\n')
    const proxy = await startCuttingTcpProxy(sshd.port, 128 * 1024)
    try {
      cut = await deploy(proxy.port, 'b2', 30_000)
      expect(proxy.cuts()).toBeGreaterThan(0)
    } finally {
      await proxy.close()
    }
    expect(readlinkSync(current)).toBe(before)
    expect(readFileSync(join(current, 'index.html'), 'utf8')).toBe('<h1>a1</h1>\n')
    expect(readFileSync(join(current, 'bulk.bin')).length).toBe(512 * 1024)
  }, 90_000)

  // Regression, fixed bug deploy-ssh-hang-on-cut (found by this suite); it was: when the TCP
  // connection dies in the middle of the SFTP upload, the step never ends: its per-host
  // `timeout` (10s here) does not fire and the harness kills it (exit -1) after 30 s. On
  // GitHub it would hang until the job's timeout (6 h by default).
  it('the cut upload fails the step within its timeout', () => {
    expect(cut, 'the run above happened').toBeDefined()
    expect(cut!.main.code, 'exit code (-1: killed by the harness after 30 s)').toBe(1)
    expect(cut!.main.errors.join('\n')).toMatch(/127\.0\.0\.1/)
  })
})

describe.concurrent('a server that accepts and never answers: every action ends on its own', () => {
  let silent: { port: number; close(): Promise<void> }
  beforeAll(async () => {
    silent = await startSilentServer()
  })
  afterAll(async () => {
    await silent?.close()
  })
  /** The harness kills a step after this long; a step that ends by itself is faster. */
  const KILL_MS = 40_000

  it('deploy ssh: fails within its timeout', async () => {
    const ws = emptyDir('conveyor-rel-silent-ssh-')
    mkdirSync(join(ws, 'site'))
    writeFileSync(join(ws, 'site', 'index.html'), 'x\n')
    const key = generateKey(join(emptyDir(), 'id'))
    const run = await runAction('deploy', {
      workspace: ws,
      timeoutMs: KILL_MS,
      inputs: {
        mode: 'ssh',
        hosts: `127.0.0.1:${silent.port}`,
        username: 'deploy',
        key: key.privateKey,
        fingerprints: key.fingerprint,
        source: 'site',
        target: '/srv/app',
        script: 'true',
        timeout: '5s'
      }
    })
    expect(run.main.code).toBe(1)
    expect(run.main.durationMs).toBeLessThan(20_000)
    expect(run.main.errors.join('\n')).toMatch(new RegExp(`127\\.0\\.0\\.1:${silent.port}`))
  }, 60_000)

  it('build: the registry check gives up and names the registry', async () => {
    const ws = emptyDir('conveyor-rel-silent-build-')
    mkdirSync(join(ws, 'svc'))
    writeFileSync(join(ws, 'svc', 'Dockerfile'), 'FROM scratch\nCOPY a.txt /a.txt\n')
    writeFileSync(join(ws, 'svc', 'a.txt'), 'a\n')
    sh(ws, ['init', '-q', '-b', 'main'])
    sh(ws, ['add', '-A'])
    sh(ws, ['commit', '-qm', 'init'])
    const run = await runAction('build', {
      workspace: ws,
      timeoutMs: KILL_MS,
      inputs: {
        context: 'svc',
        image: `127.0.0.1:${silent.port}/acme/x`,
        'registry-insecure': 'true',
        backend: 'buildah',
        cache: 'none'
      }
    })
    expect(run.main.code).toBe(1)
    expect(run.main.errors.join('\n')).toMatch(
      new RegExp(`registry 127\\.0\\.0\\.1:${silent.port} unreachable`)
    )
  }, 60_000)

  it('plan: base-from-last-success against a silent API warns and plans every service', async () => {
    const repo = makeRepo({ 'src/cart/Dockerfile': 'FROM scratch\n' })
    repo.push('main')
    const run = await runAction('plan', {
      workspace: checkoutLike(repo, repo.sha(), 'main'),
      sha: repo.sha(),
      eventName: 'schedule',
      timeoutMs: KILL_MS,
      inputs: { 'base-from-last-success': 'true', token: 'silent-token-123' },
      env: {
        GITHUB_API_URL: `http://127.0.0.1:${silent.port}`,
        GITHUB_WORKFLOW_REF: 'acme/shop/.github/workflows/ci.yml@refs/heads/main'
      }
    })
    expect(run.main.code, run.main.errors.join('\n')).toBe(0)
    expect(run.main.warnings.join('\n')).toMatch(/base-from-last-success: .*timed out/)
    expect(run.main.outputs.services).toBe('["cart"]')
  }, 60_000)

  // Regression, fixed bug argocd-silent-server-hang (found by this suite); it was: with
  // timeout: 5s, a server that accepts the connection and never answers keeps the step
  // running past 40 s (killed by the harness, exit -1): the preflight request is not
  // bounded by a short timeout.
  it('Regression, fixed bug argocd-silent-server-hang: argocd-sync fails within a bounded time', async () => {
    const run = await runAction('argocd-sync', {
      timeoutMs: KILL_MS,
      inputs: {
        server: `http://127.0.0.1:${silent.port}`,
        token: 'silent-token-123',
        applications: 'shop',
        timeout: '5s'
      }
    })
    expect(run.main.code, 'exit code (-1: killed by the harness)').toBe(1)
    expect(run.main.durationMs).toBeLessThan(20_000)
    expect(run.main.errors.join('\n')).toMatch(
      new RegExp(`no answer from http://127\\.0\\.0\\.1:${silent.port} .*timed out`)
    )
  }, 60_000)

  // Regression, fixed bug deploy-gitops-silent-remote-hang (found by this suite); it was: git
  // talks to a remote that never answers with no time limit (no http.lowSpeedLimit/
  // lowSpeedTime, no exec timeout): the step runs until it is killed (here after 40 s; on
  // GitHub until the job times out).
  it('deploy gitops fails within a bounded time', async () => {
    const run = await runAction('deploy', {
      timeoutMs: KILL_MS,
      inputs: {
        repository: `http://127.0.0.1:${silent.port}/config.git`,
        token: 'silent-token-123',
        images: 'checkout=ghcr.io/acme/shop-checkout:1.0.0',
        targets: 'kustomize:overlays/prod'
      }
    })
    expect(run.main.code, 'exit code (-1: killed by the harness)').toBe(1)
    expect(run.main.errors.join('\n')).toMatch(/127\.0\.0\.1/)
  }, 60_000)
})
