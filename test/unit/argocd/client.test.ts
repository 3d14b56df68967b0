import http from 'node:http'
import net, { type AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { ArgoApiError, ArgoClient } from '../../../src/argocd/client.js'
import { syncApplication, type SyncSettings } from '../../../src/argocd/sync.js'
import type { Application } from '../../../src/argocd/application.js'
import { ConfigurationError } from '../../../src/core/errors.js'
import { HttpClient } from '../../../src/core/http/client.js'
import { memoryLogger } from '../../../src/core/logger.js'
import { startArgoSim, type ArgoSim } from '../../support/argocd-sim.js'

const TOKEN = 'client-test-token-12345'
const stops: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const s of stops.splice(0)) await s()
})

function clientFor(url: string): ArgoClient {
  const h = new HttpClient({ retries: 1, backoffMs: 5, timeoutMs: 15_000 })
  stops.push(() => h.close())
  const c = new ArgoClient(h, url)
  c.setToken(TOKEN)
  return c
}

async function sim(options: Parameters<typeof startArgoSim>[0] = {}): Promise<ArgoSim> {
  const s = await startArgoSim({
    tokens: [TOKEN],
    stepMs: 20,
    apps: [{ name: 'cart' }],
    ...options
  })
  stops.push(() => s.stop())
  return s
}

async function raw(status: number, type: string, body: string): Promise<string> {
  const server = http.createServer((_req, res) => {
    res.writeHead(status, { 'content-type': type })
    res.end(body)
  })
  await new Promise<void>(r => server.listen(0, '127.0.0.1', r))
  stops.push(() => new Promise(r => server.close(() => r())))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

const settings = (over: Partial<SyncSettings> = {}): SyncSettings => ({
  scope: {},
  request: {},
  waitFor: 'health',
  healthyStates: ['Healthy'],
  // Generous: two shared cores under the whole suite; the life cycle itself takes ~0.2 s.
  timeoutMs: 30_000,
  degradedGraceMs: 1000,
  onTimeout: 'fail',
  onRunningOperation: 'wait',
  watch: 'stream',
  pollIntervalMs: 100,
  ...over
})

describe('ArgoClient', () => {
  it.each([
    [
      415,
      'text/plain',
      'Unsupported Media Type',
      /415 Unsupported Media Type: the server did not accept "Content-Type: application\/json"/
    ],
    [200, 'text/html', '<!doctype html><html></html>', /answered with an HTML page \(status 200\)/],
    [
      404,
      'text/plain',
      '404 page not found',
      /answered 404: input "server" does not point at an Argo CD API/
    ],
    [
      401,
      'application/json',
      '{"error":"no session information","code":16,"message":"no session information"}',
      /401 no session information/
    ]
  ])(
    'maps HTTP %i (%s) to a message that says what to fix',
    async (status, type, body, message) => {
      const c = clientFor(await raw(status, type, body))
      const error = await c.version().catch((e: unknown) => e)
      expect(error).toBeInstanceOf(ConfigurationError)
      expect(String(error)).toMatch(message)
    }
  )

  it('keeps other API errors as ArgoApiError with the gRPC code', async () => {
    const c = clientFor(
      await raw(
        400,
        'application/json',
        '{"error":"x","code":9,"message":"another operation is already in progress"}'
      )
    )
    const error = (await c.sync('cart', {}, {}).catch((e: unknown) => e)) as ArgoApiError
    expect(error).toBeInstanceOf(ArgoApiError)
    expect([error.status, error.code]).toEqual([400, 9])
  })

  it('lists nothing when the server omits items', async () => {
    const s = await sim()
    expect(await clientFor(s.url).list({ selector: 'team=none' })).toEqual([])
  })
})

describe('syncApplication (in process)', () => {
  it('observes through SSE framing with keep-alives', async () => {
    const s = await sim({ keepAliveMs: 20 })
    const log = memoryLogger()
    const r = await syncApplication(clientFor(s.url), 'cart', settings({ sse: true }), log)
    expect(r, log.text()).toMatchObject({
      result: 'succeeded',
      health: 'Healthy',
      sync: 'Synced',
      observedBy: 'stream'
    })
    const streams = s.requests.filter(x => x.path === '/api/v1/stream/applications')
    expect(streams.map(x => x.headers.accept)).toEqual(['text/event-stream'])
  })

  it('reconnects when the stream freezes while the app changes (safety GET)', async () => {
    const s = await sim({
      apps: [{ name: 'cart', scenario: 'slow' }],
      slowFactor: 10,
      streamFaults: { afterEvents: 2, kinds: ['freeze'] }
    })
    const log = memoryLogger()
    const r = await syncApplication(clientFor(s.url), 'cart', settings({ safetyPollMs: 200 }), log)
    expect(r.result, log.text()).toBe('succeeded')
    expect(log.text()).toMatch(/watch stream fell silent while the app changed; reconnecting/)
    expect(s.requests.filter(x => x.path === '/api/v1/stream/applications')).toHaveLength(2)
  })

  it('goes on when the running operation ends before it could be terminated', async () => {
    const s = await sim({ apps: [{ name: 'cart', runningOperation: { steps: 2 } }] })
    const c = clientFor(s.url)
    const terminate = c.terminate.bind(c)
    c.terminate = async (name, scope) => {
      await new Promise(r => setTimeout(r, 300))
      return terminate(name, scope)
    }
    const log = memoryLogger()
    const r = await syncApplication(c, 'cart', settings({ onRunningOperation: 'terminate' }), log)
    expect(r.result, log.text()).toBe('succeeded')
    expect(log.text()).toMatch(/the operation ended before it could be terminated/)
    expect(s.requests.find(x => x.method === 'DELETE')!.status).toBe(400)
  })

  it('a server that stops answering: every step ends by the timeout, as "timed-out"', async () => {
    const sockets = new Set<net.Socket>()
    const silent = net.createServer(socket => {
      sockets.add(socket)
      socket.on('error', () => undefined)
    })
    await new Promise<void>(r => silent.listen(0, '127.0.0.1', r))
    stops.push(async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise(r => silent.close(r))
    })
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`
    const quick = settings({ timeoutMs: 1000, cleanupMs: 300, onTimeout: 'terminate' })
    const app: Application = {
      metadata: { name: 'cart' },
      status: { sync: { status: 'OutOfSync' }, health: { status: 'Healthy' } }
    }
    for (const [what, initial, request] of [
      ['the first GET', undefined, 'GET'],
      ['the sync request', app, 'POST']
    ] as const) {
      const log = memoryLogger()
      const started = Date.now()
      const r = await syncApplication(clientFor(url), 'cart', quick, log, initial)
      const took = Date.now() - started
      expect(r.result, `${what}: ${r.message}`).toBe('timed-out')
      expect(r.message).toMatch(
        new RegExp(
          `^timed out after 1s \\(${request} ${url}/api/v1/applications/cart\\S*: timed out after \\d+ms \\(the time limit ran out\\)\\)`
        )
      )
      // The timeout, then at most the cleanup time (resource tree, terminate), plus slack.
      expect(took, what).toBeGreaterThanOrEqual(900)
      expect(took, what).toBeLessThan(1000 + 300 + 1500)
    }
  })

  it.each(['poll', 'stream'] as const)(
    'a server that answers the sync, then nothing: %s ends by the timeout',
    async watch => {
      const hanging = new Set<http.ServerResponse>()
      const server = http.createServer((req, res) => {
        if (req.method === 'POST') {
          res.writeHead(200, { 'content-type': 'application/json' })
          res.end(
            JSON.stringify({
              metadata: { name: 'cart' },
              operation: { sync: { revision: 'a'.repeat(40) } },
              status: { sync: { status: 'OutOfSync' }, health: { status: 'Healthy' } }
            })
          )
        } else hanging.add(res)
      })
      await new Promise<void>(r => server.listen(0, '127.0.0.1', r))
      stops.push(async () => {
        for (const res of hanging) res.destroy()
        server.closeAllConnections()
        await new Promise(r => server.close(r))
      })
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      const log = memoryLogger()
      const started = Date.now()
      const r = await syncApplication(
        clientFor(url),
        'cart',
        settings({ timeoutMs: 1500, cleanupMs: 300, watch, pollIntervalMs: 100 }),
        log,
        { metadata: { name: 'cart' }, status: { sync: { status: 'OutOfSync' } } }
      )
      const took = Date.now() - started
      expect(r.result, log.text()).toBe('timed-out')
      expect(r.message).toMatch(/^timed out after 2s; last state: /)
      expect(took).toBeGreaterThanOrEqual(1400)
      expect(took).toBeLessThan(1500 + 300 + 1500)
    }
  )

  it('polls with a bounded number of calls', async () => {
    const s = await sim()
    const log = memoryLogger()
    const r = await syncApplication(
      clientFor(s.url),
      'cart',
      settings({ watch: 'poll', pollIntervalMs: 50 }),
      log
    )
    expect(r.result, log.text()).toBe('succeeded')
    // One GET per interval over a ~200 ms life cycle: well under 20.
    expect(s.callsFor('cart')).toBeLessThan(20)
    expect(r.observedBy).toBe('poll')
  })

  it('falls back to polling when the stream stays silent (keep-alives only)', async () => {
    // An SSE stream for an app the stream does not match sends keep-alives but no event.
    const s = await sim({ keepAliveMs: 50 })
    const log = memoryLogger()
    const r = await syncApplication(
      clientFor(s.url),
      'cart',
      settings({ sse: true, scope: { project: 'default' } }),
      log
    )
    expect(r.result, log.text()).toBe('succeeded')
    expect(r.observedBy).toBe('stream')
    // Now a stream that never matches: projects=other hides the app from the watch only.
    const other = await sim({ keepAliveMs: 50, apps: [{ name: 'cart', project: 'p1' }] })
    const c = clientFor(other.url)
    const origWatch = c.watch.bind(c)
    c.watch = (name, scope, o) => origWatch(name, { ...scope, project: 'elsewhere' }, o)
    const log2 = memoryLogger()
    const r2 = await syncApplication(c, 'cart', settings({ sse: true, pollIntervalMs: 100 }), log2)
    expect(r2.result, log2.text()).toBe('succeeded')
    expect(r2.observedBy).toBe('poll')
    expect(log2.text()).toMatch(/the watch stream sent nothing within 1000ms/)
  })
})
