/**
 * An Argo CD API simulator, faithful to shared/reference/argocd and to Argo CD's own
 * code (argoproj/argo-cd at 37ee0097cf85, the commit of reference/argocd/swagger.json):
 * the routes the argocd-sync action uses, bearer and session auth, gRPC-gateway error
 * bodies, the 403 masking of missing apps, 415 without a JSON content type, the web
 * UI's HTML outside /api/, single- and multi-source applications, and the watch stream.
 * Which behaviour comes from where:
 *
 * | module | behaviour | Argo CD source |
 * |---|---|---|
 * | argocd-sim-server.ts | sync body decoding (`sourcePositions` must be JSON numbers) | util/grpc/json.go `JSONMarshaler` (Go encoding/json), application.pb.gw.go `request_ApplicationService_Sync_0` |
 * | argocd-sim-server.ts | sync refusals: sync window, auto-sync set to another revision, unresolvable revision, operation in progress | server/application/application.go `Sync`, `resolveSourceRevisions`, `resolveRevision`; util/argo/argo.go `SetAppOperation` |
 * | argocd-sim-server.ts | terminate with nothing started: InvalidArgument | server/application/application.go `TerminateOperation` |
 * | argocd-sim-repos.ts | revision resolution (full SHA, ref, truncated SHA, error) | util/git/client.go `lsRemote`, reposerver/repository/repository.go `ResolveRevision` |
 * | argocd-sim-controller.ts | life cycle, full SHAs in the result, partial syncs, PruneSkipped, history | controller/sync.go `SyncAppState`, gitops-engine/pkg/sync/sync_context.go `pruneObject` |
 * | argocd-sim-controller.ts | Synced against what targetRevision resolves to now | controller/state.go `CompareAppState` |
 * | argocd-sim-controller.ts | automated sync replacing the finished operation | controller/appcontroller.go `autoSync`, `alreadyAttemptedSync` |
 * | argocd-sim-stream.ts | NDJSON / SSE watch stream | server/application/application.go `Watch` (reference/argocd README) |
 * | argocd-sim-resources.ts | resource tree, live resource, actions list, run action (v1 query form, v2 JSON body, no v2 before 3.1), their errors | server/application/application.go `ResourceTree`, `GetResource`, `ListResourceActions`, `RunResourceAction(V2)`, `getAppLiveResource`; application.pb.gw.go; grpc-gateway v1 runtime/mux.go |
 * | argocd-sim-rollout-lua.ts | a Rollout's health, its actions and their `disabled` flags, what each action does | resource_customizations/argoproj.io/Rollout `health.lua`, `actions/discovery.lua`, `actions/<name>/action.lua` (tested against its health_test.yaml and action_test.yaml) |
 * | argocd-sim-rollout.ts | the Argo Rollouts controller: canary steps (setWeight, pause {}, pause {duration}), blue-green pre-promotion pause, abort, retry, promote-full, phase and message | argoproj/argo-rollouts rollout/canary.go, bluegreen.go, pause.go, utils/rollout/rolloututil.go `CalculateRolloutPhase`, utils/conditions/conditions.go |
 *
 * Scenarios are scripted per app; step timings are configurable so tests run in tens
 * of milliseconds per step. Plain start/stop functions, no test framework import:
 * tests, the demo and the benchmarks share it.
 */
import { randomBytes } from 'node:crypto'
import http from 'node:http'
import https from 'node:https'
import type { AddressInfo, Socket } from 'node:net'
import { iso, makeApp, simNow, sourcesOf, type AppObj, type AppState } from './argocd-sim-app.js'
import { SimController } from './argocd-sim-controller.js'
import { SimRepos, fakeSha } from './argocd-sim-repos.js'
import { resourceRoute, type SimAction } from './argocd-sim-resources.js'
import { attachRollout, rolloutImage } from './argocd-sim-rollout-app.js'
import { decodeSyncRequest, sync, terminate, type GrpcError } from './argocd-sim-server.js'
import { serveStream } from './argocd-sim-stream.js'
import {
  HTML,
  VERSION,
  grpcError,
  makeCert,
  safeJson,
  selectorMatch,
  sendJson,
  visible
} from './argocd-sim-http.js'
import type { ArgoSim, SimOptions, SimRequest } from './argocd-sim-types.js'

export { REFERENCE_DIR, templateApp } from './argocd-sim-app.js'
export { pauseSeconds } from './argocd-sim-rollout.js'
export type { Scenario, SimAppSpec, SimResourceSpec, SimSourceSpec } from './argocd-sim-app.js'
export type { SimCommit } from './argocd-sim-repos.js'
export type { ArgoSim, SimFault, SimOptions, SimRequest } from './argocd-sim-types.js'
export type { SimAction } from './argocd-sim-resources.js'
export type { SimCanaryStep, SimRolloutSpec } from './argocd-sim-rollout.js'

/** Start the simulator on 127.0.0.1 (a free port). */
export async function startArgoSim(options: SimOptions = {}): Promise<ArgoSim> {
  const apps = new Map<string, AppState>()
  const repos = new SimRepos()
  const faults = [...(options.faults ?? [])]
  const requests: SimRequest[] = []
  const sessions: string[] = []
  const refreshes: string[] = []
  const syncs: ArgoSim['syncs'] = []
  const finalAt = new Map<string, number>()
  const tokens = new Set(options.tokens ?? [])
  const sockets = new Set<Socket>()
  let streamsOpened = 0
  const openStreams = new Set<http.ServerResponse>()
  const ctrl = new SimController(
    {
      stepMs: options.stepMs ?? 30,
      degradedSteps: options.degradedSteps,
      slowFactor: options.slowFactor
    },
    repos,
    apps,
    name => {
      const at = Date.now()
      finalAt.set(name, at)
      sim.onFinal?.(name, at)
    }
  )
  const now = simNow()
  for (const spec of options.apps ?? []) apps.set(spec.name, makeApp(spec, now, repos))
  const actions: SimAction[] = []
  for (const st of apps.values()) {
    if (!st.spec.rollout) continue
    const key = [...st.applied.keys()].find(k => k.startsWith('argoproj.io/Rollout/'))!
    attachRollout(st, rolloutImage(st.spec.name, st.applied.get(key)!), options.stepMs ?? 30, {
      emit: () => ctrl.emit(st),
      settled: () => {
        finalAt.set(st.spec.name, Date.now())
        sim.onFinal?.(st.spec.name, Date.now())
      },
      now: simNow,
      iso
    })
  }
  // The state the controller last compared: each app against what its sources resolve to.
  for (const st of apps.values()) {
    ctrl.compare(st, now - 60_000)
  }

  const authUser = (req: http.IncomingMessage): string | undefined => {
    const auth = req.headers.authorization ?? ''
    const cookie = /(?:^|;\s*)argocd\.token=([^;]+)/.exec(req.headers.cookie ?? '')?.[1]
    const token = auth.startsWith('Bearer ') ? auth.slice(7) : cookie
    if (!token) return undefined
    if (tokens.has(token)) return 'ci-bot'
    if (sessions.includes(token)) return 'session-user'
    return undefined
  }

  // ---- HTTP ----
  const handler = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const body = Buffer.concat(chunks).toString('utf8')
    const url = new URL(req.url ?? '/', 'http://sim')
    const q = url.searchParams
    const path = url.pathname
    const record: SimRequest = {
      method: req.method ?? 'GET',
      path,
      query: Object.fromEntries([...new Set(q.keys())].map(k => [k, q.getAll(k)])),
      status: 0,
      body,
      headers: req.headers,
      at: Date.now()
    }
    const appMatch = /^\/api\/v1\/applications\/([^/]+)(\/.*)?$/.exec(path)
    record.app = appMatch ? decodeURIComponent(appMatch[1]!) : (q.get('name') ?? undefined)
    requests.push(record)
    const reply = (status: number, value: unknown): void => {
      // A fault after the work: the server acted, the answer is lost on the way back.
      const lost = faults.find(
        f => f.times > 0 && f.afterHandling && (!f.match || f.match(record.method, path))
      )
      if (lost) {
        lost.times--
        record.status = lost.status
        res.writeHead(lost.status, { 'content-type': 'text/plain' })
        res.end(lost.status === 502 ? 'Bad Gateway' : 'Service Unavailable')
        return
      }
      record.status = status
      sendJson(res, status, value)
    }
    const err = (code: number, message: string): void => {
      record.status = grpcError(res, code, message)
    }
    const grpc = (e: GrpcError): void => err(e.code, e.message)

    for (const [k, v] of Object.entries(options.requiredHeaders ?? {})) {
      if (req.headers[k.toLowerCase()] !== v) {
        record.status = 403
        res.writeHead(403, { 'content-type': 'text/html' })
        res.end(
          '<!doctype html><html><body><h1>Forbidden</h1><p>Sign in through the access proxy.</p></body></html>'
        )
        return
      }
    }
    if (!path.startsWith('/api/')) {
      record.status = 200
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      res.end(HTML)
      return
    }
    const fault = faults.find(
      f => f.times > 0 && !f.afterHandling && (!f.match || f.match(record.method, path))
    )
    if (fault) {
      fault.times--
      record.status = fault.status
      const headers: http.OutgoingHttpHeaders = {}
      if (fault.retryAfter !== undefined) headers['retry-after'] = fault.retryAfter
      if (fault.status === 429) {
        res.writeHead(429, { ...headers, 'content-type': 'text/plain' })
        res.end('Too Many Requests')
      } else {
        res.writeHead(fault.status, { ...headers, 'content-type': 'text/plain' })
        res.end(fault.status === 502 ? 'Bad Gateway' : 'Service Unavailable')
      }
      return
    }
    if (body !== '' && !(req.headers['content-type'] ?? '').includes('application/json')) {
      record.status = 415
      res.writeHead(415, { 'content-type': 'text/plain' })
      res.end('Unsupported Media Type')
      return
    }
    if (path === '/api/version' && req.method === 'GET') return reply(200, VERSION)
    if (path === '/api/v1/session' && req.method === 'POST') {
      let creds: { username?: string; password?: string } = {}
      try {
        creds = JSON.parse(body) as typeof creds
      } catch {
        return err(3, 'invalid request body')
      }
      const want = options.users?.[creds.username ?? '']
      if (want === undefined || want !== creds.password)
        return err(16, 'Invalid username or password')
      const token = `eyJhbGciOiJIUzI1NiJ9.${randomBytes(24).toString('base64url')}.${randomBytes(16).toString('base64url')}`
      sessions.push(token)
      return reply(200, { token })
    }
    const user = authUser(req)
    if (!user) {
      const hasAuth = Boolean(req.headers.authorization || req.headers.cookie)
      return err(
        16,
        hasAuth ? 'invalid session: token signature is invalid' : 'no session information'
      )
    }
    if (path === '/api/v1/stream/applications' && req.method === 'GET') {
      record.status = 200
      const name = q.get('name')
      const selector = q.get('selector')
      const targets = [...apps.values()].filter(
        st =>
          visible(st, q, Boolean(name)) &&
          (name ? st.spec.name === name : true) &&
          (selector ? selectorMatch(st.obj.metadata.labels, selector) : true)
      )
      openStreams.add(res)
      res.on('close', () => openStreams.delete(res))
      return serveStream(req, res, targets, {
        index: streamsOpened++,
        faults: options.streamFaults,
        keepAliveMs: options.keepAliveMs
      })
    }
    if (path === '/api/v1/applications' && req.method === 'GET') {
      const selector = q.get('selector')
      const items = [...apps.values()]
        .filter(
          st =>
            visible(st, q, false) && (!selector || selectorMatch(st.obj.metadata.labels, selector))
        )
        .filter(st => !q.get('name') || st.spec.name === q.get('name'))
        .map(st => st.obj)
      return reply(200, {
        metadata: { resourceVersion: String(Date.now() % 10_000_000) },
        ...(items.length ? { items } : {})
      })
    }
    if (!appMatch) return err(5, 'Not Found')
    const name = decodeURIComponent(appMatch[1]!)
    const sub = appMatch[2] ?? ''
    const st = apps.get(name)
    let body_: ReturnType<typeof decodeSyncRequest> = { value: {} }
    if (sub === '/sync' && req.method === 'POST') {
      // grpc-gateway decodes the body (Go encoding/json) before the handler runs.
      body_ = decodeSyncRequest(body)
      syncs.push({ app: name, body: safeJson(body) })
      if ('error' in body_) return grpc(body_.error)
    }
    const decoded = 'value' in body_ ? body_.value : {}
    const project = q.get('project') ?? decoded.project
    const appNamespace = q.get('appNamespace') ?? decoded.appNamespace
    const scope = new URLSearchParams()
    if (appNamespace) scope.set('appNamespace', String(appNamespace))
    if (project) scope.set('project', String(project))
    if (!visible(st, scope) || !st) {
      // A missing app looks like a forbidden one unless the project is given.
      if (project) return err(5, `applications.argoproj.io "${name}" not found`)
      return err(7, 'permission denied')
    }
    if (sub === '' && req.method === 'GET') {
      const refresh = q.get('refresh')
      if (refresh === 'normal' || refresh === 'hard') {
        refreshes.push(`${name}:${refresh}`)
        ctrl.reconcile(st)
      }
      return reply(200, st.obj)
    }
    const resource = resourceRoute(st, sub, req.method ?? 'GET', q, body, {
      noActionsV2: options.noActionsV2,
      deniedActions: options.deniedActions,
      record: actions,
      changed: () => undefined
    })
    if (resource && 'json' in resource) return reply(200, resource.json)
    if (resource && 'error' in resource) return grpc(resource.error)
    if (resource) {
      // grpc-gateway v1's ServeMux for a path no route matches: `http.Error`, plain text.
      record.status = 404
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' })
      res.end('Not Found\n')
      return
    }
    if (sub === '/operation' && req.method === 'DELETE') {
      const refused = terminate(ctrl, st)
      if (refused) return grpc(refused)
      return reply(200, {})
    }
    if (sub === '/sync' && req.method === 'POST') {
      if (st.spec.syncWindow) return err(7, 'cannot sync: blocked by sync window')
      if (st.spec.autoSyncRace && !st.raced) {
        st.raced = true
        ctrl.startOperation(name, { steps: 2, automated: true })
      }
      const done = sync(ctrl, st, decoded, user)
      if ('error' in done) return grpc(done.error)
      return reply(200, done.app)
    }
    return err(5, 'Not Found')
  }

  const tls = options.tls ? await makeCert() : undefined
  const listener = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    handler(req, res).catch(e => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: String(e), code: 2, message: String(e) }))
    })
  }
  const server = tls
    ? https.createServer({ cert: tls.cert, key: tls.key }, listener)
    : http.createServer(listener)
  server.on('connection', s => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  server.on('secureConnection', s => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>(r => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as AddressInfo).port

  for (const st of apps.values()) {
    if (st.spec.runningOperation) ctrl.startOperation(st.spec.name, st.spec.runningOperation)
  }

  const sim: ArgoSim = {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    ca: tls?.ca,
    requests,
    callsFor: name => requests.filter(r => r.app === name).length,
    app: name => {
      const st = apps.get(name)
      if (!st) throw new Error(`no app ${name}`)
      return st.obj as Record<string, unknown> & AppObj
    },
    finalAt,
    sessions,
    refreshes,
    syncs,
    actions,
    rollout: name => {
      const r = apps.get(name)?.rollout
      if (!r) throw new Error(`app ${name} has no Rollout`)
      return r
    },
    addFault: f => faults.push(f),
    dropStreams: () => {
      const n = openStreams.size
      for (const r of openStreams) r.socket?.destroy()
      return n
    },
    startOperation: (name, o) => ctrl.startOperation(name, o),
    push: (url, commit, branch) => ctrl.push(url, commit, branch),
    head: (name, source) => {
      const st = apps.get(name)
      if (!st) throw new Error(`no app ${name}`)
      const i = source ?? sourcesOf(st).findIndex(s => !s.chart)
      const targets = ctrl.targets(st)
      if (!targets) throw new Error(`app ${name}: a source does not resolve`)
      return targets[i]!
    },
    stop: () =>
      new Promise<void>(resolve => {
        for (const st of apps.values()) for (const t of st.timers) clearTimeout(t)
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      })
  }
  return sim
}

/** A sim app name → a deterministic fake commit SHA (what HEAD resolves to). */
export { fakeSha }
