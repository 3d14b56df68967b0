/**
 * The Argo CD simulator replayed against the reference data: field sets and types
 * of its answers compared with the captured examples, the error contract, the
 * stream framing and the operation life cycle of reference/argocd/README.md.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  REFERENCE_DIR,
  startArgoSim,
  type ArgoSim,
  type SimOptions
} from '../../support/argocd-sim.js'
import {
  TOKEN,
  call,
  events,
  notIn,
  post,
  ref,
  shape,
  watch,
  type Loose
} from '../../support/argocd-sim-calls.js'

const sims: ArgoSim[] = []
afterEach(async () => {
  await Promise.all(sims.splice(0).map(s => s.stop()))
})
async function sim(options: SimOptions = {}): Promise<ArgoSim> {
  const s = await startArgoSim({
    tokens: [TOKEN],
    stepMs: 20,
    apps: [{ name: 'cart', labels: { team: 'shop' } }],
    ...options
  })
  sims.push(s)
  return s
}

describe('argocd simulator: replay against the captured responses', () => {
  it('GET application has the captured field set and types', async () => {
    const s = await sim()
    const res = await call(s, '/api/v1/applications/cart?appNamespace=argocd')
    expect(res.status).toBe(200)
    const got = shape(res.json())
    const captured = shape(ref('captured_get-application-myapp.json'))
    expect(notIn(captured, got)).toEqual([])
    // Nothing the examples do not have (labels are in the roadie example).
    const all = new Map([...captured, ...shape(ref('roadie_sync-response.json'))])
    expect(notIn(got, all)).toEqual([])
    const app = res.json() as { metadata: Record<string, unknown> }
    expect(app).not.toHaveProperty('apiVersion')
    expect(app).not.toHaveProperty('kind')
    expect(typeof app.metadata.generation).toBe('number')
  })

  it('the sync response matches the roadie capture: operation set, revision resolved, operationState cleared', async () => {
    const s = await sim()
    const res = await post(s, '/api/v1/applications/cart/sync', {
      name: 'cart',
      revision: 'main',
      strategy: { hook: { force: true } },
      syncOptions: { items: ['CreateNamespace=false'] }
    })
    expect(res.status).toBe(200)
    const body = res.json() as Record<string, Loose>
    const roadie = ref('roadie_sync-response.json') as Record<string, Loose>
    expect(Object.keys(body).sort()).toEqual(Object.keys(roadie).sort())
    expect(body.status.operationState).toBeUndefined()
    expect(roadie.status.operationState).toBeUndefined()
    expect(body.operation.sync.revision).toMatch(/^[0-9a-f]{40}$/)
    expect(body.operation.sync.syncStrategy).toEqual({ hook: { force: true } })
    expect(notIn(shape(body.operation), shape(roadie.operation))).toEqual([])
  })

  it('the resource tree has the captured field set and types', async () => {
    const s = await sim()
    const res = await call(s, '/api/v1/applications/cart/resource-tree')
    expect(res.status).toBe(200)
    const captured = shape(ref('captured_resource-tree-myapp.json'))
    const got = shape(res.json())
    expect(notIn(captured, got)).toEqual([])
    expect(notIn(got, captured)).toEqual([])
  })

  it('the stream sends the captured NDJSON event shape, ADDED first', async () => {
    const s = await sim()
    const { text } = await watch(s, 'name=cart&appNamespace=argocd', {
      ms: 500,
      until: t => t.includes('\n')
    })
    const [first] = events(text)
    expect(first!.type).toBe('ADDED')
    const capturedLines = readFileSync(
      join(REFERENCE_DIR, 'captured_stream-applications-myapp.ndjson'),
      'utf8'
    )
      .split('\n')
      .filter(Boolean)
    const captured = shape(JSON.parse(capturedLines[0]!))
    expect(notIn(captured, shape(JSON.parse(text.split('\n')[0]!)))).toEqual([])
    expect(ref('captured_stream-applications-myapp.json')).toEqual(
      capturedLines.map(l => JSON.parse(l))
    )
  })

  it('frames SSE with keep-alives when asked, NDJSON without', async () => {
    const s = await sim({ keepAliveMs: 50 })
    const sse = await watch(s, 'name=cart', { sse: true, ms: 400 })
    expect(sse.text).toMatch(/^data: \{"result":\{"type":"ADDED"/)
    expect(sse.text).toContain('\n\n: keep-alive\n\n')
    const nd = await watch(s, 'name=cart', { ms: 300 })
    expect(nd.text).not.toContain('keep-alive')
    expect(nd.text.split('\n').filter(Boolean)).toHaveLength(1)
  })

  it('sends nothing at all for an unknown app', async () => {
    const s = await sim()
    const { text } = await watch(s, 'name=nope', { ms: 300 })
    expect(text).toBe('')
  })

  it('sends a mid-stream error chunk, or drops the connection, when scripted', async () => {
    const s = await sim({ streamFaults: { afterEvents: 1, kinds: ['error', 'drop'] } })
    const first = await watch(s, 'name=cart', { ms: 1000 })
    const lines = first.text
      .split('\n')
      .filter(Boolean)
      .map(l => JSON.parse(l) as Record<string, Loose>)
    expect(lines[1]!.error).toEqual({
      grpc_code: 14,
      http_code: 503,
      message: 'transport is closing',
      http_status: 'Service Unavailable'
    })
    expect(first.closedByServer).toBe(true)
    const swagger = ref('swagger-paths.json') as Record<string, Loose>
    const props =
      swagger.paths['/api/v1/stream/applications'].get.responses['200'].schema.properties
    expect(Object.keys(props).sort()).toEqual(['error', 'result'])
    const second = await watch(s, 'name=cart', { ms: 1000 })
    expect(second.closedByServer).toBe(true)
    expect(second.text.split('\n').filter(Boolean)).toHaveLength(1)
  })
})

describe('argocd simulator: errors and auth', () => {
  it('answers gRPC-gateway error bodies with the HTTP mapping of the gRPC code', async () => {
    const s = await sim()
    const none = await call(s, '/api/v1/applications/cart', { auth: false })
    expect([none.status, none.json()]).toEqual([
      401,
      { error: 'no session information', code: 16, message: 'no session information' }
    ])
    const bad = await call(s, '/api/v1/applications/cart', {
      headers: { authorization: 'Bearer nope' },
      auth: false
    })
    expect(bad.json()).toMatchObject({ code: 16 })
    const masked = await call(s, '/api/v1/applications/nope')
    expect([masked.status, masked.json().code]).toEqual([403, 7])
    const missing = await call(s, '/api/v1/applications/nope?project=default')
    expect([missing.status, missing.json().code, missing.json().message]).toEqual([
      404,
      5,
      'applications.argoproj.io "nope" not found'
    ])
    const wrongNs = await call(s, '/api/v1/applications/cart?appNamespace=other')
    expect(wrongNs.status).toBe(403)
  })

  it('answers 415 to a body without the JSON content type', async () => {
    const s = await sim()
    const res = await call(s, '/api/v1/applications/cart/sync', {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'text/plain' }
    })
    expect(res.status).toBe(415)
    expect(s.syncs).toHaveLength(0)
  })

  it('serves the web UI HTML outside /api/, and the version without auth', async () => {
    const s = await sim()
    const ui = await call(s, '/applications/cart', { auth: false })
    expect([ui.status, ui.type]).toEqual([200, 'text/html; charset=utf-8'])
    expect(ui.text).toMatch(/^<!doctype html>/)
    const version = await call(s, '/api/version', { auth: false })
    const allowed = Object.keys(
      (ref('swagger-paths.json') as Loose).paths['/api/version'].get.responses['200'].schema
        .properties ?? {}
    )
    const keys = Object.keys(version.json())
    if (allowed.length > 0) expect(keys.filter(k => !allowed.includes(k))).toEqual([])
    expect(version.json().Version).toMatch(/^v3\./)
  })

  it('logs in with a session and accepts the token as bearer or cookie', async () => {
    const s = await sim({ users: { admin: 'pw-123456' } })
    const wrong = await post(s, '/api/v1/session', { username: 'admin', password: 'nope' })
    expect([wrong.status, wrong.json().code]).toEqual([401, 16])
    const ok = await post(s, '/api/v1/session', { username: 'admin', password: 'pw-123456' })
    const token = ok.json().token as string
    expect(s.sessions).toEqual([token])
    const bearer = await call(s, '/api/v1/applications/cart', {
      headers: { authorization: `Bearer ${token}` },
      auth: false
    })
    expect(bearer.status).toBe(200)
    const cookie = await call(s, '/api/v1/applications/cart', {
      headers: { cookie: `argocd.token=${token}` },
      auth: false
    })
    expect(cookie.status).toBe(200)
  })

  it('lists by selector and project, filters by appNamespace, counts calls per app', async () => {
    const s = await sim({
      apps: [
        { name: 'cart', labels: { team: 'shop' } },
        { name: 'web', labels: { team: 'web' }, project: 'front' }
      ]
    })
    const names = async (q: string): Promise<string[]> =>
      (
        ((await call(s, `/api/v1/applications?${q}`)).json().items as
          { metadata: { name: string } }[] | undefined) ?? []
      ).map(a => a.metadata.name)
    expect(await names('')).toEqual(['cart', 'web'])
    expect(await names('selector=team%3Dshop')).toEqual(['cart'])
    expect(await names('projects=front')).toEqual(['web'])
    expect(await names('appNamespace=elsewhere')).toEqual([])
    await call(s, '/api/v1/applications/cart')
    expect(s.callsFor('cart')).toBe(1)
  })

  it('injects 429 with Retry-After and 502 bursts', async () => {
    const s = await sim({
      faults: [
        { status: 429, times: 1, retryAfter: '1' },
        { status: 502, times: 1 }
      ]
    })
    const a = await fetch(`${s.url}/api/version`)
    expect([a.status, a.headers.get('retry-after')]).toEqual([429, '1'])
    expect((await fetch(`${s.url}/api/version`)).status).toBe(502)
    expect((await fetch(`${s.url}/api/version`)).status).toBe(200)
  })
})

describe('argocd simulator: the operation life cycle', () => {
  it('follows the reference order: operation set, Running, completed, reconciled, healthy', async () => {
    const s = await sim()
    // The whole life cycle takes a few 20 ms steps.
    const stream = watch(s, 'name=cart', { ms: 800 })
    await new Promise(r => setTimeout(r, 50))
    await post(s, '/api/v1/applications/cart/sync', { name: 'cart' })
    const all = events((await stream).text).map(e => e.application)
    const after = all.slice(1)
    const idx = (pred: (a: Record<string, Loose>) => boolean): number => after.findIndex(pred)
    const set = idx(a => a.operation && !a.status.operationState)
    const running = idx(a => a.status.operationState?.phase === 'Running')
    const messages = new Set(
      after
        .filter(a => a.status.operationState?.phase === 'Running')
        .map(a => a.status.operationState.message)
    )
    const completed = idx(a => a.status.operationState?.phase === 'Succeeded')
    const reconciled = idx(
      a =>
        a.status.operationState?.phase === 'Succeeded' &&
        a.status.reconciledAt >= a.status.operationState.finishedAt &&
        a.status.sync.status === 'Synced'
    )
    // Health keeps its old value until the reconcile after the operation.
    const healthy = after.findIndex(
      (a, i) => i > reconciled && a.status.health.status === 'Healthy'
    )
    expect(set).toBe(0)
    expect(running).toBeGreaterThan(set)
    expect(messages.size).toBeGreaterThanOrEqual(2)
    expect(completed).toBeGreaterThan(running)
    expect(after[completed]!.operation).toBeUndefined()
    expect(after[completed]!.status.operationState.syncResult.revision).toMatch(/^[0-9a-f]{40}$/)
    expect(
      after[completed]!.status.reconciledAt < after[completed]!.status.operationState.finishedAt
    ).toBe(true)
    expect(reconciled).toBeGreaterThan(completed)
    expect(after[reconciled]!.status.health.status).toBe('Progressing')
    expect(healthy).toBeGreaterThan(reconciled)
    expect(s.finalAt.get('cart')).toBeGreaterThan(0)
  })

  it('shows a retry as Running with finishedAt and retryCount', async () => {
    const s = await sim({ apps: [{ name: 'cart', scenario: 'retry-then-succeeds' }] })
    const stream = watch(s, 'name=cart', { ms: 600 })
    await new Promise(r => setTimeout(r, 50))
    await post(s, '/api/v1/applications/cart/sync', { name: 'cart' })
    const retry = events((await stream).text).find(
      e => e.application.status.operationState?.retryCount === 1
    )
    expect(retry!.application.status.operationState).toMatchObject({
      phase: 'Running',
      retryCount: 1,
      finishedAt: expect.any(String)
    })
  })

  it('terminates via DELETE: Terminating, then Failed "Operation terminated"', async () => {
    const s = await sim({ apps: [{ name: 'cart', scenario: 'stuck' }] })
    // server/application/application.go TerminateOperation: InvalidArgument.
    const idle = await call(s, '/api/v1/applications/cart/operation', { method: 'DELETE' })
    expect([idle.status, idle.json()]).toEqual([
      400,
      {
        error: 'Unable to terminate operation. No operation is in progress',
        code: 3,
        message: 'Unable to terminate operation. No operation is in progress'
      }
    ])
    await post(s, '/api/v1/applications/cart/sync', { name: 'cart' })
    await new Promise(r => setTimeout(r, 100))
    const busy = await post(s, '/api/v1/applications/cart/sync', { name: 'cart' })
    expect([busy.status, busy.json()]).toEqual([
      400,
      {
        error: 'another operation is already in progress',
        code: 9,
        message: 'another operation is already in progress'
      }
    ])
    expect(
      (await call(s, '/api/v1/applications/cart/operation', { method: 'DELETE' })).status
    ).toBe(200)
    expect(s.app('cart').status.operationState!.phase).toBe('Terminating')
    await new Promise(r => setTimeout(r, 100))
    expect(s.app('cart').status.operationState).toMatchObject({
      phase: 'Failed',
      message: 'Operation terminated'
    })
    expect(s.app('cart').operation).toBeUndefined()
  })

  it('races an auto-sync against a manual sync', async () => {
    const s = await sim({ apps: [{ name: 'cart', autoSyncRace: true }] })
    const first = await post(s, '/api/v1/applications/cart/sync', { name: 'cart' })
    expect([first.status, first.json().code]).toEqual([400, 9])
    expect(s.app('cart').operation).toMatchObject({ initiatedBy: { automated: true } })
    await new Promise(r => setTimeout(r, 300))
    expect((await post(s, '/api/v1/applications/cart/sync', { name: 'cart' })).status).toBe(200)
  })

  it('refresh=normal|hard bumps reconciledAt and is recorded', async () => {
    const s = await sim()
    const before = s.app('cart').status.reconciledAt!
    await call(s, '/api/v1/applications/cart?refresh=normal')
    await call(s, '/api/v1/applications/cart?refresh=hard')
    expect(s.refreshes).toEqual(['cart:normal', 'cart:hard'])
    expect(s.app('cart').status.reconciledAt! > before).toBe(true)
  })

  it('a failed hook fails the operation and lists the hook', async () => {
    const s = await sim({ apps: [{ name: 'cart', scenario: 'failed-hook' }] })
    await post(s, '/api/v1/applications/cart/sync', { name: 'cart' })
    await new Promise(r => setTimeout(r, 300))
    const os = s.app('cart').status.operationState as Record<string, Loose>
    expect(os.phase).toBe('Failed')
    expect(os.syncResult.resources[0]).toMatchObject({
      kind: 'Job',
      hookType: 'PreSync',
      hookPhase: 'Failed'
    })
    expect(s.app('cart').status.sync.status).toBe('OutOfSync')
  })
})
