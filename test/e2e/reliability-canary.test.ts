/**
 * Secret leak canaries: every action, on its success path and on failure paths (bad
 * input, a server answering 5xx, a timeout or dropped connections), with a canary in
 * every secret input, child processes sampled from /proc. Everything produced is
 * searched for each canary in every encoding (plain, base64 at three alignments,
 * double base64, URL, JSON-escaped, hex, user:secret base64): stdout/stderr (minus
 * ::add-mask::), outputs, state, env, summary, child argv/environ, files under
 * RUNNER_TEMP and the workspace, pushed commits (`git log -p --all` of the remote),
 * remote files (ssh) and the bodies the servers received other than the credential
 * exchange. The table action × channel × encoding is written to .tmp/leak-report.md.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { basename, dirname, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startArgoSim, type ArgoSim } from '../support/argocd-sim.js'
import { isolatedBuildahEnv, type BuildahEnv } from '../support/base-image.js'
import { canary, findLeaks } from '../support/canary.js'
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js'
import {
  makeConfigRemote,
  readTree,
  startGitHttp,
  type GitHttpServer
} from '../support/git-http.js'
import { checkoutLike, cleanup, makeRepo, sh, type TestRepo } from '../support/gitrepo.js'
import { ROOT, runAction, type ActionRun } from '../support/harness.js'
import { startRegistry, type TestRegistry } from '../support/registry.js'
import {
  channelFamily,
  emptyDir,
  leakTable,
  removeTempDirs,
  sampleAllArgv,
  startSilentServer,
  writeReport,
  type LeakRow
} from '../support/reliability-env.js'
import { generateKey, startSshd, type TestSshd } from '../support/sshd.js'

const rows: LeakRow[] = []

interface Canary {
  value: string
  user?: string
}

/**
 * The run's channels with two documented exceptions, both narrow:
 * - a sampled process whose argv is the step's own `node .../index.js` is either the
 *   step itself or a child between fork and exec (still the parent's image): its
 *   environment is the runner's INPUT_* (as on GitHub), not something the action passed;
 * - git's environment carries the token header by design (docs/architecture.md, "Secrets": `--config-env`,
 *   readable only by the same user; argv is world-readable): the one variable named in
 *   `--config-env=http[.<url>].extraheader=<VAR>` (plan scopes it to the GitHub server's
 *   URL) and git's own GIT_CONFIG_PARAMETERS copy of it are removed, every other
 *   variable of git's environment is still scanned.
 */
function channelsOf(run: ActionRun): Record<string, string> {
  const all = run.channels()
  for (const [label, step] of [
    ['main', run.main],
    ['post', run.post]
  ] as const) {
    step?.processes.forEach((p, i) => {
      const key = `${label}.process[${i}].environ`
      if (!(key in all)) return
      if (p.argv[0]?.endsWith('node') && p.argv[1]?.endsWith('index.js')) {
        delete all[key]
        return
      }
      const vars = new Set(
        p.argv
          .map(a => /^--config-env=http\.(?:[^=]*\.)?extraheader=(\w+)$/.exec(a)?.[1])
          .filter((v): v is string => v !== undefined)
      )
      const isGit = /(^|\/)git(-remote-https?)?$/.test(p.argv[0] ?? '')
      if (!isGit) return
      // Helpers git starts (remote-http, index-pack, send-pack) inherit the variable.
      vars.add('CONVEYOR_GIT_EXTRAHEADER')
      all[key] = all[key]!.split('\n')
        .filter(line => {
          const name = line.slice(0, line.indexOf('='))
          if (vars.has(name)) return false
          if (name === 'GIT_CONFIG_PARAMETERS') return !/http\.(?:[^=]*\.)?extraheader/i.test(line)
          return true
        })
        .join('\n')
    })
  }
  return all
}

/** Scan, record the row for the report, and return the leaks. */
function scan(
  action: string,
  scenario: string,
  run: ActionRun,
  canaries: Canary[],
  extra: Record<string, string> = {}
) {
  const channels = { ...channelsOf(run), ...extra }
  const leaks = findLeaks(channels, canaries)
  rows.push({
    action,
    scenario,
    families: new Set(Object.keys(channels).map(channelFamily)),
    leaks
  })
  return leaks.map(l => `${l.channel} (${l.encoding})`)
}

/** Bodies a fault proxy forwarded, minus what `skip` calls the credential exchange. */
function proxyBodies(proxy: FaultProxy, skip: (url: string) => boolean = () => false) {
  const out: Record<string, string> = {}
  proxy.seen.forEach((r, i) => {
    if (!skip(r.url) && r.body.length > 0)
      out[`server:${i} ${r.method} ${r.url}`] = r.body.toString('latin1')
  })
  return out
}

afterAll(() => {
  const table = leakTable(rows)
  const text = `# Leak report\n\nHits per action × channel × encoding (every cell must be 0).\n\n${table}`
  const path = writeReport(ROOT, 'leak-report.md', text)
  console.log(`${text}\n(written to ${path})`)
  cleanup()
  removeTempDirs()
})

describe('plan', () => {
  const TOKEN = `ghs_${canary('PLANTOKEN').replace(/-/g, '')}`
  let repo: TestRepo
  let api: Server
  let proxy: FaultProxy

  beforeAll(async () => {
    repo = makeRepo({
      'src/cart/Dockerfile': 'FROM scratch\n',
      'src/web/Dockerfile': 'FROM scratch\n'
    })
    repo.push('main')
    const c0 = repo.sha()
    repo.commit({ 'src/cart/a.txt': 'a\n' })
    repo.push('main')
    api = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json')
      res.end(
        JSON.stringify({
          total_count: 1,
          workflow_runs: [{ id: 9, head_sha: c0, conclusion: 'success' }]
        })
      )
    })
    await new Promise<void>(r => api.listen(0, '127.0.0.1', r))
    proxy = await startFaultProxy(`http://127.0.0.1:${(api.address() as AddressInfo).port}`)
  })
  afterAll(async () => {
    await proxy?.close()
    api?.close()
  })

  const plan = (inputs: Record<string, string>) =>
    runAction('plan', {
      workspace: checkoutLike(repo, repo.sha(), 'main'),
      sha: repo.sha(),
      eventName: 'schedule',
      inputs: { 'base-from-last-success': 'true', token: TOKEN, ...inputs },
      env: {
        GITHUB_API_URL: proxy.url,
        GITHUB_WORKFLOW_REF: 'acme/shop/.github/workflows/ci.yml@refs/heads/main'
      },
      sampleProcesses: true
    })

  it('success: base from the last successful run', async () => {
    proxy.setRules([])
    const run = await plan({})
    expect(run.main.code, run.main.errors.join('\n')).toBe(0)
    expect(run.main.outputs.services).toBe('["cart"]')
    expect(proxy.seen.some(r => r.headers.authorization === `Bearer ${TOKEN}`)).toBe(true)
    expect(scan('plan', 'success', run, [{ value: TOKEN }], proxyBodies(proxy))).toEqual([])
  })

  it('bad input (max-jobs) with the token set', async () => {
    const run = await plan({ 'max-jobs': 'lots' })
    expect(run.main.code).toBe(1)
    expect(scan('plan', 'bad input', run, [{ value: TOKEN }])).toEqual([])
  })

  it('API answers 500', async () => {
    proxy.setRules([{ fault: { kind: 'status', status: 500, body: '{"message":"boom"}' } }])
    const run = await plan({})
    // An API failure warns and plans every service (documented behaviour).
    expect(run.main.warnings.join('\n')).toMatch(/500/)
    expect(scan('plan', 'server 500', run, [{ value: TOKEN }], proxyBodies(proxy))).toEqual([])
  })

  it('API never answers (timeout)', async () => {
    const silent = await startSilentServer()
    try {
      const run = await runAction('plan', {
        workspace: checkoutLike(repo, repo.sha(), 'main'),
        sha: repo.sha(),
        eventName: 'schedule',
        inputs: { 'base-from-last-success': 'true', token: TOKEN },
        env: {
          GITHUB_API_URL: `http://127.0.0.1:${silent.port}`,
          GITHUB_WORKFLOW_REF: 'acme/shop/.github/workflows/ci.yml@refs/heads/main'
        },
        sampleProcesses: true,
        timeoutMs: 60_000
      })
      expect(run.main.warnings.join('\n')).toMatch(/timed out/)
      expect(scan('plan', 'timeout', run, [{ value: TOKEN }])).toEqual([])
    } finally {
      await silent.close()
    }
  }, 60_000)

  it('API connection dropped', async () => {
    proxy.setRules([{ fault: { kind: 'drop' } }])
    const run = await plan({})
    expect(run.main.warnings.length + run.main.errors.length).toBeGreaterThan(0)
    expect(scan('plan', 'dropped', run, [{ value: TOKEN }], proxyBodies(proxy))).toEqual([])
  })
})

describe('plan (the base fetched from a smart-HTTP origin with input token)', () => {
  const TOKEN = `ghs_${canary('PLANFETCH').replace(/-/g, '')}`
  let repo: TestRepo
  let server: GitHttpServer
  let before: string
  let after: string

  beforeAll(async () => {
    repo = makeRepo({
      'src/cart/Dockerfile': 'FROM scratch\n',
      'src/web/Dockerfile': 'FROM scratch\n'
    })
    before = repo.sha()
    after = repo.commit({ 'src/cart/a.txt': 'a\n' })
    repo.push('main')
    server = await startGitHttp({ root: dirname(repo.origin), tokens: { [TOKEN]: 'read' } })
  })
  afterAll(async () => {
    await server?.stop()
  })

  const plan = (token: string) => {
    const ws = checkoutLike(repo, after, 'main')
    sh(ws, ['remote', 'set-url', 'origin', server.url(basename(repo.origin))])
    return runAction('plan', {
      workspace: ws,
      sha: after,
      event: { ref: 'refs/heads/main', before, after, repository: { default_branch: 'main' } },
      inputs: { token },
      env: { GITHUB_SERVER_URL: new URL(server.url('x')).origin },
      sampleProcesses: true
    })
  }

  it("success: the fetch authenticates with the token (header in git's environment)", async () => {
    const run = await plan(TOKEN)
    expect(run.main.code, run.main.errors.join('\n')).toBe(0)
    expect(run.main.outputs.base).toBe(before)
    expect(run.main.processes.some(p => p.argv.some(a => a.includes('extraheader=')))).toBe(true)
    expect(
      scan('plan', 'fetch with token', run, [{ value: TOKEN, user: 'x-access-token' }])
    ).toEqual([])
  })

  it('refused: a wrong token is an authentication error, not "every service"', async () => {
    const wrong = `ghs_${canary('PLANWRONG').replace(/-/g, '')}`
    const run = await plan(wrong)
    expect(run.main.code).toBe(1)
    expect(run.main.errors.join('\n')).toMatch(/origin refused the credentials/)
    expect(
      scan('plan', 'fetch refused', run, [
        { value: wrong, user: 'x-access-token' },
        { value: TOKEN, user: 'x-access-token' }
      ])
    ).toEqual([])
  })
})

describe('build', () => {
  const USER = 'ci-bot'
  const PASSWORD = canary('BUILDPASS')
  let registry: TestRegistry
  let proxy: FaultProxy
  let buildah: BuildahEnv
  let ws: string

  beforeAll(async () => {
    registry = await startRegistry({ users: { [USER]: PASSWORD } })
    proxy = await startFaultProxy(registry.url, { ca: registry.caPem })
    buildah = isolatedBuildahEnv()
    ws = emptyDir('conveyor-rel-build-ws-')
    mkdirSync(join(ws, 'svc'))
    writeFileSync(join(ws, 'svc', 'Dockerfile'), 'FROM scratch\nCOPY a.txt /a.txt\n')
    writeFileSync(join(ws, 'svc', 'a.txt'), 'canary build\n')
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

  const build = (inputs: Record<string, string>) =>
    runAction('build', {
      workspace: ws,
      sha: execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ws, encoding: 'utf8' }).trim(),
      event: { repository: { default_branch: 'main' } },
      env: buildah.env,
      timeoutMs: 180_000,
      sampleProcesses: true,
      inputs: {
        context: 'svc',
        image: `127.0.0.1:${proxy.port}/acme/canary`,
        'registry-username': USER,
        'registry-password': PASSWORD,
        'registry-insecure': 'true',
        backend: 'buildah',
        cache: 'none',
        tags: 'type=raw,value=one',
        ...inputs
      }
    })
  const canaries = [{ value: PASSWORD, user: USER }]

  it('success: build and push through the registry', async () => {
    proxy.setRules([])
    proxy.seen.length = 0
    const run = await build({})
    expect(run.main.code, run.main.errors.join('\n')).toBe(0)
    expect(run.main.outputs.digest).toMatch(/^sha256:/)
    expect(run.main.processes.some(p => p.argv[0]?.endsWith('buildah'))).toBe(true)
    expect(scan('build', 'success', run, canaries, proxyBodies(proxy))).toEqual([])
  }, 180_000)

  it('bad input with the password set', async () => {
    const run = await build({ push: 'maybe' })
    expect(run.main.code).toBe(1)
    expect(scan('build', 'bad input', run, canaries)).toEqual([])
  })

  it('refused: build-args, labels and tags holding the password, before any request', async () => {
    const b64 = (x: string): string => Buffer.from(x).toString('base64')
    for (const [label, inputs] of [
      ['build-args', { 'build-args': `PW=${PASSWORD}` }],
      ['labels', { labels: `x=${b64(b64(PASSWORD))}` }],
      ['tags', { tags: `type=raw,value=${Buffer.from(PASSWORD).toString('hex')}` }]
    ] as const) {
      proxy.setRules([])
      proxy.seen.length = 0
      const run = await build(inputs)
      expect(run.main.code).toBe(1)
      expect(run.main.errors.join('\n')).toMatch(new RegExp(`input "${label}"`))
      expect(proxy.seen).toEqual([])
      expect(run.main.processes.filter(p => /buildah/.test(p.argv[0] ?? ''))).toEqual([])
      expect(scan('build', `refused: secret in ${label}`, run, canaries)).toEqual([])
    }
  })

  it('registry answers 500', async () => {
    proxy.setRules([{ match: r => r.url !== '/v2/', fault: { kind: 'status', status: 500 } }])
    proxy.seen.length = 0
    const run = await build({ tags: 'type=raw,value=two', reuse: 'false' })
    expect(run.main.code).toBe(1)
    expect(scan('build', 'server 500', run, canaries, proxyBodies(proxy))).toEqual([])
  }, 180_000)

  it('registry never answers (timeout)', async () => {
    const silent = await startSilentServer()
    try {
      const run = await build({ image: `127.0.0.1:${silent.port}/acme/canary` })
      expect(run.main.code).toBe(1)
      expect(run.main.errors.join('\n')).toMatch(/unreachable/)
      expect(scan('build', 'timeout', run, canaries)).toEqual([])
    } finally {
      await silent.close()
    }
  }, 60_000)

  it('registry drops every connection', async () => {
    proxy.setRules([{ fault: { kind: 'drop' } }])
    proxy.seen.length = 0
    const run = await build({ tags: 'type=raw,value=three' })
    expect(run.main.code).toBe(1)
    expect(scan('build', 'dropped', run, canaries, proxyBodies(proxy))).toEqual([])
  }, 180_000)
})

describe('deploy (gitops over smart HTTP)', () => {
  const TOKEN = canary('DEPLOYTOKEN')
  let repo: TestRepo
  let git: GitHttpServer
  let proxy: FaultProxy

  beforeAll(async () => {
    repo = makeConfigRemote()
    git = await startGitHttp({ root: dirname(repo.origin), tokens: { [TOKEN]: 'write' } })
    proxy = await startFaultProxy(new URL(git.url(basename(repo.origin))).origin)
  })
  afterAll(async () => {
    await proxy?.close()
    await git?.stop()
  })

  const deploy = (tag: string, inputs: Record<string, string> = {}) =>
    runAction('deploy', {
      sha: `c0ffee${'0'.repeat(33)}1`,
      sampleProcesses: true,
      timeoutMs: 90_000,
      inputs: {
        repository: `${proxy.url}/${basename(repo.origin)}`,
        token: TOKEN,
        images: `checkout=ghcr.io/acme/shop-checkout:${tag}`,
        targets: 'kustomize:overlays/prod',
        'max-attempts': '2',
        ...inputs
      }
    })
  /** Every pushed commit with its patch, and the refs. */
  const remote = () => ({
    'remote:git log -p --all': sh(repo.origin, ['log', '-p', '--all', '--format=%H%n%B']),
    'remote:refs': sh(repo.origin, ['show-ref'])
  })
  // Pack data is zlib-compressed, so pushed content is checked in `git log -p`; the
  // request bodies are still scanned for anything sent in clear.
  const bodies = () => proxyBodies(proxy)

  it('success: pushes the edit', async () => {
    proxy.setRules([])
    const before = sh(repo.origin, ['rev-parse', 'main'])
    const run = await deploy('2.0.1')
    expect(run.main.code, run.main.errors.join('\n')).toBe(0)
    expect(sh(repo.origin, ['rev-parse', 'main'])).not.toBe(before)
    expect(git.requests.some(r => r.status === 200)).toBe(true)
    expect(
      scan('deploy', 'gitops success', run, [{ value: TOKEN }], { ...remote(), ...bodies() })
    ).toEqual([])
  })

  it('bad input with the token set', async () => {
    const run = await deploy('2.0.2', { 'max-attempts': '0' })
    expect(run.main.code).toBe(1)
    expect(scan('deploy', 'gitops bad input', run, [{ value: TOKEN }], remote())).toEqual([])
  })

  it('refused: the token over http:// to another machine; a token in the URL query', async () => {
    const hidden = canary('DEPLOYURLTOKEN')
    for (const [scenario, repository] of [
      ['gitops refused: http elsewhere', 'http://git.example.com/acme/config.git'],
      ['gitops refused: token in query', `https://git.example.com/c.git?access_token=${hidden}`]
    ] as const) {
      const run = await deploy('2.0.9', { repository })
      expect(run.main.code).toBe(1)
      expect(run.main.errors.join('\n')).toMatch(/input "repository"/)
      expect(
        scan('deploy', scenario, run, [{ value: TOKEN }, { value: hidden }], remote())
      ).toEqual([])
    }
  })

  it('remote answers 500 on push', async () => {
    proxy.setRules([
      { match: r => r.url.includes('git-receive-pack'), fault: { kind: 'status', status: 500 } }
    ])
    const run = await deploy('2.0.3')
    expect(run.main.code).toBe(1)
    expect(
      scan('deploy', 'gitops server 500', run, [{ value: TOKEN }], { ...remote(), ...bodies() })
    ).toEqual([])
  })

  it('remote drops the connection', async () => {
    proxy.setRules([{ fault: { kind: 'drop' } }])
    const run = await deploy('2.0.4')
    expect(run.main.code).toBe(1)
    expect(
      scan('deploy', 'gitops dropped', run, [{ value: TOKEN }], { ...remote(), ...bodies() })
    ).toEqual([])
  })
})

describe('deploy (ssh)', () => {
  const PASSPHRASE = canary('SSHPHRASE')
  const ENV_SECRET = canary('SSHENV')
  let sshd: TestSshd
  let key: string
  let n = 0

  beforeAll(async () => {
    sshd = await startSshd()
    const pair = generateKey(join(emptyDir(), 'id'), { passphrase: PASSPHRASE })
    sshd.authorize(pair.publicKey)
    key = pair.privateKey
  })
  afterAll(async () => {
    await sshd?.stop()
  })

  const deploy = (inputs: Record<string, string>) => {
    const ws = emptyDir('conveyor-rel-ssh-ws-')
    mkdirSync(join(ws, 'site'))
    writeFileSync(join(ws, 'site', 'index.html'), '<h1>canary</h1>\n')
    return runAction('deploy', {
      workspace: ws,
      sha: `${String(++n).padStart(2, '0')}${'a'.repeat(38)}`,
      sampleProcesses: true,
      timeoutMs: 90_000,
      env: { APP_SECRET: ENV_SECRET },
      inputs: {
        mode: 'ssh',
        hosts: `127.0.0.1:${sshd.port}`,
        username: sshd.username,
        key,
        passphrase: PASSPHRASE,
        'known-hosts': sshd.knownHostsLine,
        source: 'site',
        target: join(sshd.remoteDir, 'app'),
        env: 'APP_SECRET',
        script: 'test -n "$APP_SECRET"; echo deployed',
        timeout: '20s',
        ...inputs
      }
    })
  }
  const canaries = [{ value: PASSPHRASE }, { value: ENV_SECRET }]
  /** The files on the "remote host" (same machine): releases and anything left behind. */
  const remoteFiles = (): Record<string, string> => {
    const out: Record<string, string> = {}
    for (const [path, content] of Object.entries(readTree(sshd.remoteDir)))
      out[`server:remote file ${path}`] = content
    return out
  }

  it('success: uploads, runs the script with the env secret', async () => {
    // Every command line on the machine while it runs: the remote shell under sshd is
    // no descendant of the step, and remote `ps` must not show the secrets either.
    const ps = sampleAllArgv()
    const run = await deploy({ script: 'test -n "$APP_SECRET"; sleep 0.3; echo deployed' })
    const argv = ps.stop()
    expect(run.main.code, run.main.errors.join('\n')).toBe(0)
    expect(run.main.stdout).toContain('deployed')
    expect(argv.some(a => a.includes('sleep 0.3') || a.startsWith('sshd'))).toBe(true)
    const psChannel = { 'server:ps argv (whole machine)': argv.join('\n') }
    expect(
      scan('deploy', 'ssh success', run, canaries, { ...remoteFiles(), ...psChannel })
    ).toEqual([])
  })

  it('bad input with the secrets set', async () => {
    const run = await deploy({ keep: '0' })
    expect(run.main.code).toBe(1)
    expect(scan('deploy', 'ssh bad input', run, canaries)).toEqual([])
  })

  it('remote script fails (the ssh analogue of a 500)', async () => {
    const run = await deploy({ script: 'echo failing; exit 3' })
    expect(run.main.code).toBe(1)
    expect(scan('deploy', 'ssh script fails', run, canaries, remoteFiles())).toEqual([])
  })

  it('remote script times out', async () => {
    const run = await deploy({ script: 'sleep 30', timeout: '2s' })
    expect(run.main.code).toBe(1)
    expect(scan('deploy', 'ssh timeout', run, canaries, remoteFiles())).toEqual([])
  })
})

describe('argocd-sync', () => {
  const TOKEN = canary('ARGOTOKEN')
  const PASSWORD = canary('ARGOPASS')
  const HEADER = canary('ARGOHDR')
  let sim: ArgoSim

  beforeAll(async () => {
    sim = await startArgoSim({
      tokens: [TOKEN],
      users: { admin: PASSWORD },
      requiredHeaders: { 'cf-access-client-secret': HEADER },
      stepMs: 30,
      apps: [{ name: 'shop' }, { name: 'stuck', scenario: 'stuck' }]
    })
  })
  afterAll(async () => {
    await sim?.stop()
  })

  const sync = (inputs: Record<string, string>) =>
    runAction('argocd-sync', {
      sampleProcesses: true,
      timeoutMs: 60_000,
      inputs: {
        server: sim.url,
        token: TOKEN,
        applications: 'shop',
        headers: `CF-Access-Client-Secret: ${HEADER}`,
        timeout: '20s',
        'poll-interval': '200ms',
        ...inputs
      }
    })
  const canaries = [{ value: TOKEN }, { value: PASSWORD, user: 'admin' }, { value: HEADER }]
  /** Request bodies the simulator received, minus the session login (the credential exchange). */
  const bodies = (): Record<string, string> => {
    const out: Record<string, string> = {}
    sim.requests.forEach((r, i) => {
      if (r.path !== '/api/v1/session' && r.body) out[`server:${i} ${r.method} ${r.path}`] = r.body
    })
    return out
  }

  it('success with a token', async () => {
    const run = await sync({})
    expect(run.main.code, run.main.errors.join('\n')).toBe(0)
    expect(scan('argocd-sync', 'success (token)', run, canaries, bodies())).toEqual([])
  })

  it('success with username/password (the session token is masked too)', async () => {
    const run = await sync({ token: '', username: 'admin', password: PASSWORD })
    expect(run.main.code, run.main.errors.join('\n')).toBe(0)
    expect(sim.sessions.length).toBeGreaterThan(0)
    const session = sim.sessions.map(value => ({ value }))
    expect(
      scan('argocd-sync', 'success (session)', run, [...canaries, ...session], bodies())
    ).toEqual([])
  })

  it('bad input with every secret set', async () => {
    const run = await sync({ concurrency: '0' })
    expect(run.main.code).toBe(1)
    expect(run.main.outputs.result).toBe('failed')
    expect(scan('argocd-sync', 'bad input', run, canaries)).toEqual([])
  })

  it('refused: a token in the server query; credentials over http:// to another machine', async () => {
    const hidden = canary('ARGOURLTOKEN')
    const requests = sim.requests.length
    for (const [scenario, server] of [
      ['refused: token in query', `${sim.url}/?token=${hidden}`],
      ['refused: http elsewhere', 'http://argocd.example.com']
    ] as const) {
      const run = await sync({ server })
      expect(run.main.code).toBe(1)
      expect(run.main.outputs.result).toBe('failed')
      expect(run.main.errors.join('\n')).toMatch(/input "server"/)
      expect(scan('argocd-sync', scenario, run, [...canaries, { value: hidden }])).toEqual([])
    }
    expect(sim.requests.length).toBe(requests)
  })

  it('server answers 503 for good', async () => {
    const fault = { status: 503 as const, times: 1000 }
    sim.addFault(fault)
    const run = await sync({})
    fault.times = 0 // the simulator keeps the object: this ends the fault
    expect(run.main.code).toBe(1)
    expect(scan('argocd-sync', 'server 503', run, canaries, bodies())).toEqual([])
  })

  it('times out on a stuck operation', async () => {
    const run = await sync({ applications: 'stuck', timeout: '2s', 'on-timeout': 'terminate' })
    expect(run.main.code).toBe(1)
    expect(run.main.outputs.result).toBe('timed-out')
    expect(scan('argocd-sync', 'timeout', run, canaries, bodies())).toEqual([])
  })
})
