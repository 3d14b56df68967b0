/**
 * argocd-sync end to end: preflight messages, auth, TLS, extra headers, a buffering
 * proxy, and canary secrets absent from every channel.
 */
import http from 'node:http'
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import { rmSync } from 'node:fs'
import { dirname } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { canary, findLeaks } from '../support/canary.js'
import { runAction, type ActionRun } from '../support/harness.js'
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js'
import { startArgoSim, type ArgoSim, type SimOptions } from '../support/argocd-sim.js'

const TOKEN = 'argocd-e2e-token-abcdefghij'
const cleanups: (() => Promise<void>)[] = []

async function sim(options: SimOptions): Promise<ArgoSim> {
  const s = await startArgoSim({
    tokens: [TOKEN],
    stepMs: 30,
    apps: [{ name: 'cart' }],
    ...options
  })
  cleanups.push(() => s.stop())
  return s
}

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** Remove the harness's temp dir of a run after the test. */
function track(run: ActionRun): ActionRun {
  cleanups.push(async () => rmSync(dirname(run.runnerTemp), { recursive: true, force: true }))
  return run
}

/** A minimal forward proxy (CONNECT tunnels), recording the targets it was asked for. */
async function forwardProxy(): Promise<{ url: string; targets: string[] }> {
  const targets: string[] = []
  const sockets = new Set<net.Socket>()
  const server = http.createServer((_req, res) => {
    res.writeHead(405)
    res.end()
  })
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    targets.push(req.url ?? '')
    const [host, port] = (req.url ?? '').split(':')
    const upstream = net.connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      upstream.write(head)
      upstream.pipe(client)
      client.pipe(upstream)
    })
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('error', () => undefined)
      s.on('close', () => sockets.delete(s))
    }
  })
  await new Promise<void>(r => server.listen(0, '127.0.0.1', r))
  cleanups.push(
    () =>
      new Promise<void>(r => {
        for (const s of sockets) s.destroy()
        server.close(() => r())
      })
  )
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, targets }
}

async function sync(
  server: string,
  inputs: Record<string, string>,
  extra: { sampleProcesses?: boolean; env?: Record<string, string> } = {}
): Promise<ActionRun> {
  return track(
    await runAction('argocd-sync', {
      inputs: {
        server,
        token: TOKEN,
        applications: 'cart',
        'poll-interval': '200ms',
        timeout: '20s',
        ...inputs
      },
      timeoutMs: 60_000,
      ...extra
    })
  )
}

const failure = (run: ActionRun): string => run.main.errors.join('\n')

/**
 * run.channels() without the action's own process: the harness's /proc sampler counts
 * the step's root process (which the runner gives its INPUT_* variables) among the
 * descendants. Processes the action started stay channels (argocd-sync starts none).
 */
function channels(run: ActionRun): Record<string, string> {
  const all = run.channels()
  run.main.processes.forEach((p, i) => {
    if (p.argv[1]?.endsWith('dist/argocd-sync/index.js')) {
      delete all[`main.process[${i}].argv`]
      delete all[`main.process[${i}].environ`]
    }
  })
  return all
}

describe('argocd-sync preflight and errors', () => {
  it('detects HTML instead of the API (wrong base URL)', async () => {
    const s = await sim({})
    const run = await sync(`${s.url}/applications`, {})
    expect(run.main.code).toBe(1)
    expect(run.main.outputs.result).toBe('failed')
    expect(failure(run)).toMatch(
      /answered with an HTML page \(status 200\), not the Argo CD API. Set input "server" to the Argo CD base URL/
    )
  })

  it('says what to fix on 401', async () => {
    const s = await sim({})
    const run = await sync(s.url, { token: 'not-the-right-token' })
    expect(run.main.code).toBe(1)
    expect(failure(run)).toMatch(
      /rejected the credentials \(401 invalid session.*Check input "token"/
    )
  })

  it('explains the 403 of a missing app, and gives 404 with a project', async () => {
    const s = await sim({})
    const denied = await sync(s.url, { applications: 'nope' })
    expect(failure(denied)).toMatch(
      /permission denied for application "nope" \(403: permission denied\). Argo CD answers 403 both when the application does not exist.*set input "project"/
    )
    const missing = await sync(s.url, { applications: 'nope', project: 'default' })
    expect(failure(missing)).toMatch(/application "nope" not found in project "default"/)
  })

  it('rejects a glob that matches nothing, naming the input', async () => {
    const s = await sim({})
    const run = await sync(s.url, { applications: 'shop-*' })
    expect(failure(run)).toMatch(
      /no application matched input "applications" \(shop-\*\); the account sees 1 application/
    )
  })

  it('validates inputs before any request', async () => {
    const s = await sim({})
    const run = await sync(s.url, { timeout: 'soon' })
    expect(failure(run)).toMatch(/input "timeout": got "soon", expected a duration/)
    const none = await sync(s.url, { token: '' })
    expect(failure(none)).toMatch(/no credentials/)
    expect(s.requests).toHaveLength(0)
  })
})

describe('argocd-sync transport', () => {
  it('falls back to polling when a proxy buffers the stream', async () => {
    const s = await sim({})
    const proxy: FaultProxy = await startFaultProxy(s.url, {
      rules: [{ match: r => r.url.startsWith('/api/v1/stream/'), fault: { kind: 'buffer' } }]
    })
    cleanups.push(() => proxy.close())
    const run = await sync(proxy.url, {})
    expect(run.main.code, run.main.stdout).toBe(0)
    expect(run.main.warnings.join('\n')).toMatch(
      /the watch stream sent nothing within 1000ms \(a proxy buffering it\?\); falling back to polling every 200ms/
    )
    expect(proxy.seen.some(r => r.url.startsWith('/api/v1/stream/') && r.fault === 'buffer')).toBe(
      true
    )
    // Polling happened: several GETs of the app after the sync.
    const gets = s.requests.filter(
      r => r.method === 'GET' && r.path === '/api/v1/applications/cart'
    )
    expect(gets.length).toBeGreaterThanOrEqual(2)
  })

  it('goes through the proxy from HTTPS_PROXY, stream included, unless NO_PROXY says otherwise', async () => {
    const s = await sim({ tls: true })
    const proxy = await forwardProxy()
    const host = new URL(s.url).host
    const run = await sync(s.url, { 'ca-cert': s.ca! }, { env: { HTTPS_PROXY: proxy.url } })
    expect(run.main.code, run.main.stdout).toBe(0)
    // At least two tunnels: the API calls and the long-lived watch stream.
    expect(proxy.targets.length).toBeGreaterThanOrEqual(2)
    expect(new Set(proxy.targets)).toEqual(new Set([host]))
    expect(s.requests.some(r => r.path === '/api/v1/stream/applications')).toBe(true)
    const before = proxy.targets.length
    const direct = await sync(
      s.url,
      { 'ca-cert': s.ca! },
      { env: { HTTPS_PROXY: proxy.url, NO_PROXY: '127.0.0.1' } }
    )
    expect(direct.main.code, direct.main.stdout).toBe(0)
    expect(proxy.targets.length).toBe(before)
  })

  it('trusts a private CA from ca-cert, fails without it, and warns on insecure', async () => {
    const s = await sim({ tls: true })
    expect(s.url).toMatch(/^https:/)
    const ok = await sync(s.url, { 'ca-cert': s.ca! })
    expect(ok.main.code, ok.main.stdout).toBe(0)
    const bad = await sync(s.url, {})
    expect(bad.main.code).toBe(1)
    expect(failure(bad)).toMatch(
      /TLS verification of https:\/\/127\.0\.0\.1:\d+ failed .*Set input "ca-cert"/
    )
    const insecure = await sync(s.url, { insecure: 'true' })
    expect(insecure.main.code, insecure.main.stdout).toBe(0)
    expect(insecure.main.warnings.join('\n')).toMatch(/input "insecure" is true/)
  })

  it('sends the extra headers an access proxy requires, masking their values', async () => {
    const secret = canary('CFSECRET')
    const s = await sim({
      requiredHeaders: { 'CF-Access-Client-Id': 'ci.access', 'CF-Access-Client-Secret': secret }
    })
    const without = await sync(s.url, {})
    expect(failure(without)).toMatch(
      /HTML page \(status 403\).*pass its credentials through input "headers"/
    )
    const run = await sync(
      s.url,
      { headers: `CF-Access-Client-Id: ci.access\nCF-Access-Client-Secret: ${secret}` },
      { sampleProcesses: true }
    )
    expect(run.main.code, run.main.stdout).toBe(0)
    expect(run.main.masks).toContain(secret)
    expect(findLeaks(channels(run), [{ value: secret }])).toEqual([])
  })
})

describe('argocd-sync secrets', () => {
  it('keeps a canary token out of every channel and of every request body', async () => {
    const token = canary('ARGOTOKEN')
    const s = await startArgoSim({
      tokens: [token],
      stepMs: 30,
      apps: [{ name: 'cart', scenario: 'failed-hook' }]
    })
    cleanups.push(() => s.stop())
    const run = await sync(s.url, { token }, { sampleProcesses: true })
    expect(run.main.code).toBe(1)
    expect(run.main.masks).toContain(token)
    expect(s.requests.some(r => r.headers.authorization === `Bearer ${token}`)).toBe(true)
    expect(findLeaks(channels(run), [{ value: token }])).toEqual([])
    const bodies = s.requests.map(r => r.body).join('\n')
    expect(findLeaks({ bodies }, [{ value: token }])).toEqual([])
  })

  it('keeps a canary password and the session token out of every channel', async () => {
    const password = canary('ARGOPASS')
    const s = await startArgoSim({
      users: { deployer: password },
      stepMs: 30,
      apps: [{ name: 'cart' }]
    })
    cleanups.push(() => s.stop())
    const run = await sync(
      s.url,
      { token: '', username: 'deployer', password },
      { sampleProcesses: true }
    )
    expect(run.main.code, run.main.stdout).toBe(0)
    expect(s.sessions).toHaveLength(1)
    const session = s.sessions[0]!
    expect(run.main.masks).toEqual(expect.arrayContaining([password, session]))
    expect(run.main.processes.length).toBeGreaterThan(0)
    const leaks = findLeaks(channels(run), [
      { value: password, user: 'deployer' },
      { value: session }
    ])
    expect(leaks).toEqual([])
    // The password travels only in the session exchange; the session token only in headers.
    const sessionBodies = s.requests.filter(r => r.path === '/api/v1/session').map(r => r.body)
    expect(sessionBodies.join()).toContain(password)
    const other = s.requests
      .filter(r => r.path !== '/api/v1/session')
      .map(r => r.body)
      .join('\n')
    expect(findLeaks({ other }, [{ value: password }, { value: session }])).toEqual([])
    expect(
      s.requests
        .filter(r => r.path !== '/api/v1/session' && r.path !== '/api/version')
        .every(r => r.headers.authorization === `Bearer ${session}`)
    ).toBe(true)
  })

  it('says so when the password is wrong', async () => {
    const s = await startArgoSim({
      users: { deployer: 'right-password' },
      apps: [{ name: 'cart' }]
    })
    cleanups.push(() => s.stop())
    const run = await sync(s.url, { token: '', username: 'deployer', password: 'wrong-password' })
    expect(failure(run)).toMatch(/rejected username "deployer" and the password \(401\)/)
    expect(run.channels()['main.stdout']).not.toContain('wrong-password')
  })
})
