/**
 * The Argo CD simulator against Argo CD's contract for multi-source apps and the edge
 * states: answers held against the swagger definitions, the sync body decoded as
 * Go's encoding/json decodes it (`sourcePositions` as strings refused), and each
 * refusal and controller behaviour with the message Argo CD's source writes
 * (server/application/application.go, controller/sync.go, controller/appcontroller.go).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { fakeSha, startArgoSim, type ArgoSim, type SimOptions } from '../../support/argocd-sim.js'
import type { SimAppSpec } from '../../support/argocd-sim.js'
import {
  TOKEN,
  call,
  post,
  ref,
  swaggerMismatches,
  type Loose
} from '../../support/argocd-sim-calls.js'

const CONFIG = 'https://github.com/acme/shop-config.git'
const WEB: SimAppSpec = {
  name: 'web',
  sources: [
    {
      repoURL: 'https://charts.example.com',
      chart: 'shop',
      targetRevision: '1.2.3',
      helm: { valueFiles: ['$values/helm/values-prod.yaml'] }
    },
    { repoURL: CONFIG, targetRevision: 'main', ref: 'values' }
  ]
}
const OURS = 'c0ffee'.padEnd(40, '1')

const sims: ArgoSim[] = []
afterEach(async () => {
  await Promise.all(sims.splice(0).map(s => s.stop()))
})
async function sim(apps: SimAppSpec[], options: SimOptions = {}): Promise<ArgoSim> {
  const s = await startArgoSim({ tokens: [TOKEN], stepMs: 20, apps, ...options })
  sims.push(s)
  return s
}
const syncPath = (name: string): string => `/api/v1/applications/${name}/sync`
/** Wait until `pred` holds for the app object (or fail after `ms`). */
async function until(
  s: ArgoSim,
  name: string,
  pred: (a: Loose) => boolean,
  ms = 3000
): Promise<Loose> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    const a = s.app(name) as Loose
    if (pred(a)) return a
    await new Promise(r => setTimeout(r, 10))
  }
  throw new Error(
    `${name}: condition not met; state ${JSON.stringify((s.app(name) as Loose).status.sync)}`
  )
}

describe('argocd simulator: multi-source applications', () => {
  it('serves spec.sources and per-source revisions that fit the swagger definitions', async () => {
    const s = await sim([WEB])
    const got = (await call(s, '/api/v1/applications/web')).json() as Loose
    expect(swaggerMismatches(got, 'v1alpha1Application')).toEqual([])
    expect(got.spec.source).toBeUndefined()
    expect(got.status.sync.revision).toBeUndefined()
    expect(got.status.sync.revisions).toEqual(['1.2.3', s.head('web')])
    expect(got.status.sync.comparedTo.sources).toHaveLength(2)
    expect(got.status.operationState.syncResult.revisions).toHaveLength(2)
    expect(got.status.history[0].revisions).toHaveLength(2)
    // The checker itself passes the captured single-source app.
    expect(
      swaggerMismatches(ref('captured_get-application-myapp.json'), 'v1alpha1Application')
    ).toEqual([])
  })

  it('syncs our source by revisions + sourcePositions; the reconcile compares with what main resolves to', async () => {
    const s = await sim([WEB])
    const old = s.head('web')
    const res = await post(s, syncPath('web'), {
      name: 'web',
      revisions: [OURS],
      sourcePositions: [2]
    })
    expect(res.status).toBe(200)
    const body = res.json() as Loose
    expect(swaggerMismatches(body, 'v1alpha1Application')).toEqual([])
    expect(body.operation.sync).toMatchObject({ revisions: ['1.2.3', OURS] })
    expect(body.operation.sync.revision).toBeUndefined()
    expect(body.operation.sync.sources).toHaveLength(2)
    // Our commit is not what main resolves to yet (no webhook): OutOfSync at the old one.
    const lagging = await until(
      s,
      'web',
      a =>
        a.status.operationState?.phase === 'Succeeded' &&
        a.status.sync.revisions?.[1] === old &&
        a.status.reconciledAt >= a.status.operationState.finishedAt
    )
    expect(lagging.status.operationState.syncResult.revisions).toEqual(['1.2.3', OURS])
    expect(lagging.status.sync.status).toBe('OutOfSync')
    // The push of our commit reaches Argo CD: Synced at it.
    s.push(CONFIG, { sha: OURS })
    const synced = await until(s, 'web', a => a.status.sync.revisions?.[1] === OURS)
    expect(synced.status.sync.status).toBe('Synced')
  })

  it('ignores the singular revision of a multi-source app', async () => {
    const s = await sim([WEB])
    const res = await post(s, syncPath('web'), { name: 'web', revision: OURS })
    expect((res.json() as Loose).operation.sync.revisions).toEqual(['1.2.3', s.head('web')])
  })

  it('refuses sourcePositions sent as strings, as Go encoding/json does (InvalidArgument)', async () => {
    // The swagger writes int64 as strings (protojson), but Argo CD's gateway decodes
    // with util/grpc/json.go (encoding/json) into []int64.
    const swagger = ref('swagger-definitions.json') as Loose
    expect(
      swagger.definitions.applicationApplicationSyncRequest.properties.sourcePositions.items
    ).toEqual({
      type: 'string',
      format: 'int64'
    })
    const s = await sim([WEB])
    const res = await post(s, syncPath('web'), {
      name: 'web',
      revisions: [OURS],
      sourcePositions: ['2']
    })
    const message =
      'json: cannot unmarshal string into Go struct field ApplicationSyncRequest.sourcePositions of type int64'
    expect([res.status, res.json()]).toEqual([400, { error: message, code: 3, message }])
    expect((s.app('web') as Loose).operation).toBeUndefined()
    const prune = await post(s, syncPath('web'), { name: 'web', prune: 'true' })
    expect(prune.json().message).toBe(
      'json: cannot unmarshal string into Go struct field ApplicationSyncRequest.prune of type bool'
    )
    // Keys match case-insensitively, as encoding/json matches them.
    const ok = await post(s, syncPath('web'), {
      name: 'web',
      Revisions: [OURS],
      SourcePositions: [2]
    })
    expect((ok.json() as Loose).operation.sync.revisions).toEqual(['1.2.3', OURS])
  })

  it('answers a source position out of range with Unknown (500)', async () => {
    const s = await sim([WEB])
    const res = await post(s, syncPath('web'), {
      name: 'web',
      revisions: [OURS],
      sourcePositions: [3]
    })
    expect([res.status, res.json().code, res.json().message]).toEqual([
      500,
      2,
      'source position is out of range'
    ])
  })
})

describe('argocd simulator: refusals, as server/application/application.go words them', () => {
  it('refuses another revision while auto-sync is on (dry runs excepted)', async () => {
    const s = await sim([
      { name: 'cart', autoSync: {}, upToDate: true },
      { ...WEB, autoSync: {}, upToDate: true }
    ])
    const single = await post(s, syncPath('cart'), { name: 'cart', revision: OURS })
    expect([single.status, single.json().code, single.json().message]).toEqual([
      400,
      9,
      `Cannot sync to ${OURS}: auto-sync currently set to HEAD`
    ])
    const multi = await post(s, syncPath('web'), {
      name: 'web',
      revisions: [OURS],
      sourcePositions: [2]
    })
    expect(multi.json().message).toBe(
      `Cannot sync source ${CONFIG} to ${OURS}: auto-sync currently set to main`
    )
    expect((await post(s, syncPath('cart'), { name: 'cart', revision: 'HEAD' })).status).toBe(200)
    expect(
      (
        await post(s, syncPath('web'), {
          name: 'web',
          revisions: [OURS],
          sourcePositions: [2],
          dryRun: true
        })
      ).status
    ).toBe(200)
  })

  it('refuses a revision the repo server cannot resolve, before looking at a running operation', async () => {
    const s = await sim([{ name: 'cart', runningOperation: {} }])
    const res = await post(s, syncPath('cart'), { name: 'cart', revision: 'no-such-branch' })
    expect([res.status, res.json().code, res.json().message]).toEqual([
      400,
      9,
      "error resolving repo revision: rpc error: code = Unknown desc = unable to resolve 'no-such-branch' to a commit SHA: revision not found"
    ])
    const busy = await post(s, syncPath('cart'), { name: 'cart', revision: 'main' })
    expect(busy.json().message).toBe('another operation is already in progress')
  })

  it('keeps a short or uppercase SHA as given; the controller records the full one', async () => {
    const head = `abcdef1${fakeSha('x').slice(7)}`
    const s = await sim([{ name: 'cart', head }])
    const res = await post(s, syncPath('cart'), { name: 'cart', revision: 'ABCDEF1' })
    expect((res.json() as Loose).operation.sync.revision).toBe('ABCDEF1')
    const done = await until(
      s,
      'cart',
      a => a.status.sync.status === 'Synced' && a.status.operationState?.phase === 'Succeeded'
    )
    expect(done.status.operationState.syncResult.revision).toBe(head)
    expect(done.status.operationState.operation.sync.revision).toBe('ABCDEF1')
    expect(done.status.sync.revision).toBe(head)
  })

  it('terminates only an operation the controller has started (else InvalidArgument)', async () => {
    const s = await sim([{ name: 'cart', runningOperation: { pendingSteps: 10 } }])
    expect((s.app('cart') as Loose).operation).toBeDefined()
    const early = await call(s, '/api/v1/applications/cart/operation', { method: 'DELETE' })
    expect([early.status, early.json().code]).toEqual([400, 3])
    await until(s, 'cart', a => a.status.operationState?.phase === 'Running')
    const late = await call(s, '/api/v1/applications/cart/operation', { method: 'DELETE' })
    expect(late.status).toBe(200)
    await until(s, 'cart', a => a.status.operationState?.message === 'Operation terminated')
  })
})

describe('argocd simulator: the controller', () => {
  it('leaves a resource that requires pruning with prune off (PruneSkipped), deletes it with prune on', async () => {
    const app: SimAppSpec = {
      name: 'cart',
      extraResources: [{ kind: 'ConfigMap', name: 'legacy', extraneous: true }]
    }
    const s = await sim([app])
    expect((s.app('cart') as Loose).status.resources[2]).toMatchObject({
      kind: 'ConfigMap',
      requiresPruning: true,
      status: 'OutOfSync'
    })
    await post(s, syncPath('cart'), { name: 'cart' })
    const kept = await until(
      s,
      'cart',
      a =>
        a.status.operationState?.phase === 'Succeeded' &&
        a.status.reconciledAt >= a.status.operationState.finishedAt &&
        a.status.health.status === 'Healthy'
    )
    expect(kept.status.operationState.syncResult.resources).toContainEqual(
      expect.objectContaining({
        kind: 'ConfigMap',
        name: 'legacy',
        status: 'PruneSkipped',
        message: 'ignored (requires pruning)'
      })
    )
    expect(kept.status.sync.status).toBe('OutOfSync')
    await post(s, syncPath('cart'), { name: 'cart', prune: true })
    const pruned = await until(
      s,
      'cart',
      a =>
        a.status.operationState?.syncResult?.resources?.some((r: Loose) => r.status === 'Pruned') &&
        a.status.sync.status === 'Synced'
    )
    expect(pruned.status.resources.map((r: Loose) => r.kind)).toEqual(['Service', 'Deployment'])
  })

  it('applies only the resources of a partial sync and records no history', async () => {
    const s = await sim([
      { name: 'cart', extraResources: [{ kind: 'ConfigMap', name: 'settings', drifted: true }] }
    ])
    await post(s, syncPath('cart'), {
      name: 'cart',
      resources: [{ group: 'apps', kind: 'Deployment', name: 'cart' }]
    })
    const done = await until(
      s,
      'cart',
      a =>
        a.status.operationState?.phase === 'Succeeded' &&
        a.status.reconciledAt >= a.status.operationState.finishedAt
    )
    expect(done.status.operationState.syncResult.resources.map((r: Loose) => r.kind)).toEqual([
      'Deployment'
    ])
    const status = Object.fromEntries(done.status.resources.map((r: Loose) => [r.kind, r.status]))
    expect(status).toEqual({ Service: 'Synced', Deployment: 'Synced', ConfigMap: 'OutOfSync' })
    expect(done.status.history).toHaveLength(1)
  })

  it('an automated sync takes the place of the finished operation when a later commit changes the app', async () => {
    const s = await sim([{ name: 'cart', autoSync: {}, landsDuringSync: { touches: true } }])
    const ours = s.head('cart')
    await post(s, syncPath('cart'), { name: 'cart' })
    const auto = await until(s, 'cart', a => a.operation?.initiatedBy?.automated === true)
    expect(auto.operation.sync.revision).toBe(fakeSha('cart-newer-1'))
    expect(auto.status.operationState).toBeUndefined()
    expect(auto.status.history.at(-1)).toMatchObject({
      revision: ours,
      initiatedBy: { username: 'ci-bot' }
    })
  })

  it('shows the app Synced at a later commit that does not change it', async () => {
    const s = await sim([{ name: 'cart', landsDuringSync: { touches: false } }])
    const ours = s.head('cart')
    await post(s, syncPath('cart'), { name: 'cart' })
    const done = await until(
      s,
      'cart',
      a =>
        a.status.health.status === 'Healthy' &&
        a.status.operationState?.phase === 'Succeeded' &&
        a.status.reconciledAt >= a.status.operationState.finishedAt
    )
    expect(done.status.operationState.syncResult.revision).toBe(ours)
    expect(done.status.sync).toMatchObject({ status: 'Synced', revision: fakeSha('cart-newer-1') })
  })
})
