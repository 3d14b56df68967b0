/**
 * An Argo CD API simulator, faithful to shared/reference/argocd: the routes the
 * argocd-sync action uses, bearer and session auth, gRPC-gateway error bodies, the
 * 403 masking of missing apps, 415 without a JSON content type, the web UI's HTML
 * outside /api/, the operation life cycle (with retries, termination, auto-sync
 * races), and the watch stream in NDJSON or SSE framing with keep-alives, error
 * chunks and drops. Scenarios are scripted per app; step timings are configurable
 * so tests run in tens of milliseconds per step.
 *
 * Plain start/stop functions, no test framework import: tests, the demo and the
 * benchmarks share it.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import type { AddressInfo, Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { makeTestCa } from './registry.js'

/** The reference data directory (captured examples). */
export const REFERENCE_DIR = join(import.meta.dirname, '..', 'fixtures', 'argocd', 'reference')

/** What happens when an app is synced. */
export type Scenario =
  | 'healthy'
  | 'degraded-then-recovers'
  | 'degraded'
  | 'failed-hook'
  | 'slow'
  | 'stuck'
  | 'wrong-revision'
  | 'retry-then-succeeds'
  | 'missing-health'
  | 'suspended'

/** One app of the simulator. */
export interface SimAppSpec {
  name: string
  namespace?: string
  project?: string
  labels?: Record<string, string>
  scenario?: Scenario
  /** The commit HEAD resolves to (default: a fixed SHA per app). */
  head?: string
  /** An operation already running when the sim starts (finishes after `steps`, or never). */
  runningOperation?: { steps?: number; automated?: boolean }
  /** The first sync POST races an auto-sync that starts just before it. */
  autoSyncRace?: boolean
  /** A deny sync window blocks manual syncs (403 on POST .../sync). */
  syncWindow?: boolean
}

/** An injected fault: the next `times` API requests (matching) answer `status`. */
export interface SimFault {
  status: 429 | 502 | 503
  times: number
  retryAfter?: string
  match?: (method: string, path: string) => boolean
}

/** Simulator options. */
export interface SimOptions {
  apps?: SimAppSpec[]
  /** Accepted bearer tokens (API tokens). */
  tokens?: string[]
  /** Accepted username → password for POST /api/v1/session. */
  users?: Record<string, string>
  /** Headers every request must carry (like an access proxy in front of Argo CD). */
  requiredHeaders?: Record<string, string>
  /** Serve HTTPS with a throwaway CA (see `ca`). */
  tls?: boolean
  /** Milliseconds per life-cycle step (default 30). */
  stepMs?: number
  /** SSE keep-alive interval (default 1000 ms). */
  keepAliveMs?: number
  /**
   * Faults of the first watch streams, in order: stream i gets `kinds[i]` after
   * `afterEvents` events: `drop` closes the connection, `error` sends an error chunk
   * and ends the response, `freeze` keeps the connection open but sends nothing more
   * (a connection silently lost in a NAT or a proxy).
   */
  streamFaults?: { afterEvents: number; kinds: ('drop' | 'error' | 'freeze')[] }
  /** Steps Degraded lasts in `degraded-then-recovers` (default 4). */
  degradedSteps?: number
  /** Factor for `slow` (default 10). */
  slowFactor?: number
  faults?: SimFault[]
}

/** A request the simulator answered. */
export interface SimRequest {
  method: string
  path: string
  query: Record<string, string[]>
  app?: string
  status: number
  body: string
  headers: http.IncomingHttpHeaders
  at: number
}

/** A running simulator. */
export interface ArgoSim {
  url: string
  /** PEM of the CA that signed the TLS certificate (with `tls`). */
  ca?: string
  /** Every request, in order. */
  requests: SimRequest[]
  /** API calls per app name. */
  callsFor(app: string): number
  /** The current Application object. */
  app(name: string): Record<string, unknown> & AppObj
  /** Time (Date.now()) of each app's final state change of its last sync. */
  finalAt: Map<string, number>
  /** Called at each final state change. */
  onFinal?: (app: string, at: number) => void
  /** Tokens issued by POST /api/v1/session. */
  sessions: string[]
  /** Refresh requests seen (`app:normal`, `app:hard`). */
  refreshes: string[]
  /** Sync bodies received, per app. */
  syncs: { app: string; body: Record<string, unknown> }[]
  /** Add faults at run time. */
  addFault(fault: SimFault): void
  /** Start an operation (e.g. an auto-sync) on an app right now. */
  startOperation(name: string, options?: { steps?: number; automated?: boolean }): void
  stop(): Promise<void>
}

interface AppObj {
  metadata: { name: string; namespace: string; labels?: Record<string, string> }
  spec: { project: string; source: { repoURL: string; path: string; targetRevision: string } }
  status: Record<string, unknown> & {
    operationState?: Record<string, unknown>
    sync: Record<string, unknown>
    health: Record<string, unknown>
    resources: Record<string, unknown>[]
    reconciledAt?: string
  }
  operation?: Record<string, unknown>
}

interface AppState {
  spec: SimAppSpec
  obj: AppObj
  timers: Set<NodeJS.Timeout>
  /** Increments on each new operation; stale timers check it. */
  generation: number
  raced: boolean
  watchers: Set<(type: string) => void>
}

const VERSION = {
  Version: 'v3.1.8+sim',
  BuildDate: '2025-09-01T00:00:00Z',
  GitCommit: '0000000000000000000000000000000000000000',
  GitTreeState: 'clean',
  GoVersion: 'go1.24.6',
  Compiler: 'gc',
  Platform: 'linux/amd64',
  KustomizeVersion: 'v5.7.0',
  HelmVersion: 'v3.18.4',
  KubectlVersion: 'v0.33.1',
  JsonnetVersion: 'v0.21.0'
}

const HTML =
  '<!doctype html><html lang="en"><head><meta charset="UTF-8"><title>Argo CD</title><base href="/"></head><body><noscript><p>Your browser does not support JavaScript.</p></noscript><div id="app"></div></body></html>'

/** The simulator's clock: real time plus an offset that only grows (see `bumpPast`). */
let clockOffset = 0
function simNow(): number {
  return Date.now() + clockOffset
}
/** Make the clock read at least `ms` (reconciledAt must land past finishedAt). */
function bumpPast(ms: number): void {
  if (simNow() < ms) clockOffset += ms - simNow()
}

function iso(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z')
}

function sha(seed: string): string {
  let out = ''
  let i = 0
  while (out.length < 40) out += Buffer.from(`${seed}:${i++}`).toString('hex')
  return out.slice(0, 40)
}

function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T
}

/** The captured GET body, used as the template of every app object. */
export function templateApp(): Record<string, unknown> {
  return JSON.parse(
    readFileSync(join(REFERENCE_DIR, 'captured_get-application-myapp.json'), 'utf8')
  ) as Record<string, unknown>
}

function makeApp(spec: SimAppSpec, now: number): AppObj {
  const t = templateApp() as unknown as AppObj & { metadata: Record<string, unknown> }
  const head = spec.head ?? sha(`${spec.name}-old`)
  t.metadata.name = spec.name
  t.metadata.namespace = spec.namespace ?? 'argocd'
  t.metadata.uid = randomUUID()
  if (spec.labels) t.metadata.labels = { ...spec.labels }
  t.spec.project = spec.project ?? 'default'
  t.spec.source = {
    repoURL: 'https://git.example.com/acme/shop-config.git',
    path: `apps/${spec.name}`,
    targetRevision: 'HEAD'
  }
  const status = t.status
  status.resources = [
    {
      version: 'v1',
      kind: 'Service',
      namespace: 'shop',
      name: spec.name,
      status: 'Synced',
      health: { status: 'Healthy' }
    },
    {
      group: 'apps',
      version: 'v1',
      kind: 'Deployment',
      namespace: 'shop',
      name: spec.name,
      status: 'Synced',
      health: { status: 'Healthy' }
    }
  ]
  status.sync = {
    status: 'Synced',
    comparedTo: {
      source: t.spec.source,
      destination: { server: 'https://kubernetes.default.svc', namespace: 'shop' }
    },
    revision: head
  }
  status.health = { status: 'Healthy', lastTransitionTime: iso(now - 3600_000) }
  const os = status.operationState as Record<string, unknown> & {
    operation: { sync: { revision: string } }
    syncResult: { revision: string; resources: Record<string, unknown>[]; source: unknown }
  }
  os.operation.sync.revision = head
  os.syncResult.revision = head
  os.syncResult.source = t.spec.source
  for (const r of os.syncResult.resources) {
    r.namespace = 'shop'
    r.name = spec.name
  }
  os.startedAt = iso(now - 3600_000)
  os.finishedAt = iso(now - 3599_000)
  status.reconciledAt = iso(now - 60_000)
  ;(status.history as Record<string, unknown>[])[0]!.revision = head
  ;(status.summary as { images: string[] }).images = [`registry.example.com/acme/${spec.name}:old`]
  return t
}

async function makeCert(): Promise<{ ca: string; cert: string; key: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'argocd-sim-tls-'))
  try {
    const made = makeTestCa(dir)
    return {
      ca: made.caPem,
      cert: readFileSync(made.cert, 'utf8'),
      key: readFileSync(made.key, 'utf8')
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const GRPC_HTTP: Record<number, number> = {
  3: 400,
  5: 404,
  7: 403,
  9: 400,
  16: 401,
  2: 500,
  14: 503
}

/** Start the simulator on 127.0.0.1 (a free port). */
export async function startArgoSim(options: SimOptions = {}): Promise<ArgoSim> {
  const stepMs = options.stepMs ?? 30
  const apps = new Map<string, AppState>()
  const faults = [...(options.faults ?? [])]
  const requests: SimRequest[] = []
  const sessions: string[] = []
  const refreshes: string[] = []
  const syncs: ArgoSim['syncs'] = []
  const finalAt = new Map<string, number>()
  const tokens = new Set(options.tokens ?? [])
  const sockets = new Set<Socket>()
  let streamsOpened = 0
  const now = simNow()
  for (const spec of options.apps ?? []) {
    apps.set(spec.name, {
      spec,
      obj: makeApp(spec, now),
      timers: new Set(),
      generation: 0,
      raced: false,
      watchers: new Set()
    })
  }

  const emit = (st: AppState, type = 'MODIFIED'): void => {
    const md = st.obj.metadata as Record<string, unknown>
    md.resourceVersion = String(Number(md.resourceVersion ?? 0) + 1)
    md.generation = Number(md.generation ?? 0) + 1
    for (const w of st.watchers) w(type)
  }
  const later = (st: AppState, steps: number, fn: () => void): void => {
    const gen = st.generation
    const t = setTimeout(() => {
      st.timers.delete(t)
      if (st.generation === gen) fn()
    }, steps * stepMs)
    st.timers.add(t)
  }

  const resourceResults = (st: AppState, hookFailed: boolean): Record<string, unknown>[] => {
    const out: Record<string, unknown>[] = [
      {
        group: '',
        version: 'v1',
        kind: 'Service',
        namespace: 'shop',
        name: st.spec.name,
        status: 'Synced',
        message: `service/${st.spec.name} unchanged`,
        hookPhase: 'Running',
        syncPhase: 'Sync'
      },
      {
        group: 'apps',
        version: 'v1',
        kind: 'Deployment',
        namespace: 'shop',
        name: st.spec.name,
        status: 'Synced',
        message: `deployment.apps/${st.spec.name} configured`,
        hookPhase: 'Running',
        syncPhase: 'Sync'
      }
    ]
    if (hookFailed) {
      out.unshift({
        group: 'batch',
        version: 'v1',
        kind: 'Job',
        namespace: 'shop',
        name: `${st.spec.name}-migrate`,
        message: 'Job has reached the specified backoff limit',
        hookType: 'PreSync',
        hookPhase: 'Failed',
        syncPhase: 'PreSync'
      })
    }
    return out
  }

  const setHealth = (st: AppState, health: string, message?: string): void => {
    const s = st.obj.status
    s.health = {
      status: health,
      lastTransitionTime: iso(simNow()),
      ...(message ? { message } : {})
    }
    const dep = s.resources.find(r => r.kind === 'Deployment')
    if (dep) dep.health = { status: health, ...(message ? { message } : {}) }
  }

  const final = (st: AppState): void => {
    const at = Date.now()
    finalAt.set(st.spec.name, at)
    sim.onFinal?.(st.spec.name, at)
  }

  /** Run one operation's life cycle. */
  const runOperation = (
    st: AppState,
    op: Record<string, unknown>,
    scenario: Scenario,
    opts: { steps?: number; forever?: boolean } = {}
  ): void => {
    st.generation++
    const s = st.obj.status
    const revision = (op.sync as { revision: string }).revision
    const f = scenario === 'slow' ? (options.slowFactor ?? 10) : 1
    // 1. operation set, operationState cleared
    st.obj.operation = op
    delete s.operationState
    emit(st)
    // 2. the controller starts
    later(st, 1 * f, () => {
      s.operationState = {
        operation: clone(op),
        phase: 'Running',
        message: 'one or more tasks are running',
        startedAt: iso(simNow())
      }
      emit(st)
    })
    if (scenario === 'stuck' || opts.forever) {
      later(st, 2 * f, () => {
        s.operationState!.message = `waiting for completion of hook batch/Job/${st.spec.name}-migrate`
        emit(st)
      })
      return
    }
    let step = 2 * f
    later(st, step, () => {
      s.operationState!.message = `waiting for healthy state of apps/Deployment/${st.spec.name}`
      emit(st)
    })
    if (scenario === 'retry-then-succeeds') {
      step += f
      later(st, step, () => {
        Object.assign(s.operationState!, {
          phase: 'Running',
          finishedAt: iso(simNow()),
          retryCount: 1,
          message: `one or more objects failed to apply, reason: Internal error occurred (retried 1 times). Retrying attempt #1 at ${new Date(simNow() + stepMs).toISOString().slice(11, 19)}.`
        })
        emit(st)
      })
      step += 2 * f
      later(st, step, () => {
        delete s.operationState!.finishedAt
        s.operationState!.message = 'one or more tasks are running'
        emit(st)
      })
    }
    step += (opts.steps ?? 1) * f
    const failed = scenario === 'failed-hook'
    const synced = scenario === 'wrong-revision' ? sha(`${st.spec.name}-someone-else`) : revision
    later(st, step, () => {
      Object.assign(s.operationState!, {
        phase: failed ? 'Failed' : 'Succeeded',
        message: failed
          ? 'one or more synchronization tasks completed unsuccessfully, reason: Job has reached the specified backoff limit'
          : 'successfully synced (all tasks run)',
        finishedAt: iso(simNow()),
        syncResult: {
          resources: resourceResults(st, failed),
          revision: synced,
          source: clone(st.obj.spec.source)
        }
      })
      delete st.obj.operation
      emit(st)
    })
    // 4. the next reconcile: reconciledAt past finishedAt, then sync and health.
    step += 1
    if ((op.sync as { dryRun?: boolean }).dryRun && !failed) {
      // A dry run applies nothing: the reconcile finds the live state unchanged.
      later(st, step, () => {
        bumpPast(Date.parse(String(s.operationState!.finishedAt)) + 1000)
        s.reconciledAt = iso(simNow())
        emit(st)
        final(st)
      })
      return
    }
    later(st, step, () => {
      // Second resolution: the reconcile after the operation reads a later second.
      bumpPast(Date.parse(String(s.operationState!.finishedAt)) + 1000)
      s.reconciledAt = iso(simNow())
      s.sync = {
        ...s.sync,
        status: failed ? 'OutOfSync' : 'Synced',
        revision: failed ? s.sync.revision : synced
      }
      if (failed) {
        for (const r of s.resources) r.status = 'OutOfSync'
      } else {
        for (const r of s.resources) r.status = 'Synced'
        ;(s.summary as { images: string[] }).images = [
          `registry.example.com/acme/${st.spec.name}:${synced.slice(0, 7)}`
        ]
        ;(s.history as Record<string, unknown>[]).push({
          revision: synced,
          deployedAt: s.operationState!.finishedAt,
          id: (s.history as unknown[]).length,
          source: clone(st.obj.spec.source),
          deployStartedAt: s.operationState!.startedAt,
          initiatedBy: clone((op as { initiatedBy: unknown }).initiatedBy)
        })
        setHealth(st, 'Progressing')
      }
      emit(st)
      if (failed) final(st)
    })
    if (failed) return
    step += 1
    if (scenario === 'degraded' || scenario === 'degraded-then-recovers') {
      later(st, step, () => {
        setHealth(
          st,
          'Degraded',
          'Deployment "' + st.spec.name + '" exceeded its progress deadline'
        )
        emit(st)
        if (scenario === 'degraded') final(st)
      })
      if (scenario === 'degraded') return
      step += options.degradedSteps ?? 4
    }
    later(st, step, () => {
      if (scenario === 'missing-health') setHealth(st, 'Missing')
      else if (scenario === 'suspended') setHealth(st, 'Suspended')
      else setHealth(st, 'Healthy')
      emit(st)
      final(st)
    })
  }

  const terminate = (st: AppState): boolean => {
    const os = st.obj.status.operationState
    if (!os || (os.phase !== 'Running' && os.phase !== 'Terminating')) return false
    st.generation++
    os.phase = 'Terminating'
    emit(st)
    later(st, 1, () => {
      Object.assign(os, {
        phase: 'Failed',
        message: 'Operation terminated',
        finishedAt: iso(simNow())
      })
      delete st.obj.operation
      emit(st)
    })
    return true
  }

  const startOperation = (name: string, o: { steps?: number; automated?: boolean } = {}): void => {
    const st = apps.get(name)
    if (!st) throw new Error(`no app ${name}`)
    const revision = st.spec.head ?? (st.obj.status.sync.revision as string)
    const op = {
      sync: { revision, syncStrategy: { hook: {} } },
      initiatedBy: o.automated ? { automated: true } : { username: 'someone-else' },
      retry: {}
    }
    runOperation(st, op, 'healthy', o.steps === undefined ? { forever: true } : { steps: o.steps })
  }

  // ---- HTTP ----
  const send = (res: http.ServerResponse, status: number, body: unknown): void => {
    const text = JSON.stringify(body)
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text)
    })
    res.end(text)
  }
  const grpcError = (res: http.ServerResponse, code: number, message: string): number => {
    const status = GRPC_HTTP[code] ?? 500
    send(res, status, { error: message, code, message })
    return status
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

  /**
   * Whether a request's scope shows the app. Routes naming one app (GET, sync, the
   * watch by name) default `appNamespace` to the control plane namespace `argocd`;
   * the list spans every namespace unless one is given.
   */
  const visible = (st: AppState | undefined, q: URLSearchParams, named = true): boolean => {
    if (!st) return false
    const ns = q.get('appNamespace') || (named ? 'argocd' : undefined)
    if (ns && ns !== st.obj.metadata.namespace) return false
    const projects = [...q.getAll('project'), ...q.getAll('projects')]
    if (projects.length > 0 && !projects.includes(st.obj.spec.project)) return false
    return true
  }

  const selectorMatch = (labels: Record<string, string> | undefined, selector: string): boolean => {
    for (const part of selector
      .split(',')
      .map(p => p.trim())
      .filter(Boolean)) {
      const m = /^([^!=]+?)\s*(!=|==|=)\s*(.*)$/.exec(part)
      if (m) {
        const v = labels?.[m[1]!]
        if (m[2] === '!=' ? v === m[3] : v !== m[3]) return false
      } else if (part.startsWith('!')) {
        if (labels?.[part.slice(1)] !== undefined) return false
      } else if (labels?.[part] === undefined) return false
    }
    return true
  }

  const handleStream = (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    q: URLSearchParams
  ): void => {
    const sse = (req.headers.accept ?? '').includes('text/event-stream')
    const index = streamsOpened++
    res.writeHead(200, {
      'content-type': sse ? 'text/event-stream' : 'application/json',
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff'
    })
    res.flushHeaders()
    const name = q.get('name')
    const selector = q.get('selector')
    const targets = [...apps.values()].filter(
      st =>
        visible(st, q, Boolean(name)) &&
        (name ? st.spec.name === name : true) &&
        (selector ? selectorMatch(st.obj.metadata.labels, selector) : true)
    )
    let sent = 0
    const faultKind = options.streamFaults?.kinds[index]
    const drop = faultKind === 'drop' ? options.streamFaults!.afterEvents : undefined
    const errorAfter = faultKind === 'error' ? options.streamFaults!.afterEvents : undefined
    const freezeAfter = faultKind === 'freeze' ? options.streamFaults!.afterEvents : undefined
    const cleanup: (() => void)[] = []
    const write = (text: string, then?: () => void): void => {
      if (res.writableEnded || res.destroyed) return
      res.write(sse ? `data: ${text}\n\n` : `${text}\n`, then)
    }
    const onEvent =
      (st: AppState) =>
      (type: string): void => {
        if (freezeAfter !== undefined && sent >= freezeAfter) return
        sent++
        const dropNow = drop !== undefined && sent >= drop && errorAfter === undefined
        // A server-side drop: the event goes out, then the connection is cut.
        write(
          JSON.stringify({ result: { type, application: st.obj } }),
          dropNow ? () => res.socket?.destroy() : undefined
        )
        if (errorAfter !== undefined && sent >= errorAfter) {
          write(
            JSON.stringify({
              error: {
                grpc_code: 14,
                http_code: 503,
                message: 'transport is closing',
                http_status: 'Service Unavailable'
              }
            })
          )
          res.end()
          done()
        } else if (dropNow) {
          done()
        }
      }
    const done = (): void => {
      for (const c of cleanup.splice(0)) c()
    }
    for (const st of targets) {
      const w = onEvent(st)
      st.watchers.add(w)
      cleanup.push(() => st.watchers.delete(w))
    }
    if (sse) {
      const t = setInterval(() => {
        if (!res.writableEnded) res.write(': keep-alive\n\n')
      }, options.keepAliveMs ?? 1000)
      cleanup.push(() => clearInterval(t))
    }
    res.on('close', done)
    // The initial state of every matching app.
    for (const st of targets) onEvent(st)('ADDED')
  }

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
      record.status = status
      send(res, status, value)
    }
    const err = (code: number, message: string): void => {
      record.status = grpcError(res, code, message)
    }

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
    const fault = faults.find(f => f.times > 0 && (!f.match || f.match(record.method, path)))
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
      return handleStream(req, res, q)
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
    const project = q.get('project') ?? (sub === '/sync' ? safeJson(body).project : undefined)
    const appNamespace =
      q.get('appNamespace') ?? (sub === '/sync' ? safeJson(body).appNamespace : undefined)
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
        st.obj.status.reconciledAt = iso(simNow())
        emit(st)
      }
      return reply(200, st.obj)
    }
    if (sub === '/resource-tree' && req.method === 'GET') {
      const tree = JSON.parse(
        readFileSync(join(REFERENCE_DIR, 'captured_resource-tree-myapp.json'), 'utf8')
      ) as { nodes: Record<string, unknown>[] }
      const health = (st.obj.status.health as { status?: string }).status ?? 'Healthy'
      for (const n of tree.nodes) {
        n.namespace = 'shop'
        if (n.kind === 'Pod' && health !== 'Healthy')
          n.health = { status: health, message: 'Back-off restarting failed container app' }
      }
      return reply(200, tree)
    }
    if (sub === '/operation' && req.method === 'DELETE') {
      if (!terminate(st))
        return err(9, 'Unable to terminate operation. No operation is in progress')
      return reply(200, {})
    }
    if (sub === '/sync' && req.method === 'POST') {
      const b = safeJson(body)
      syncs.push({ app: name, body: b })
      if (st.spec.syncWindow) return err(7, 'Cannot sync: Blocked by sync window')
      if (st.spec.autoSyncRace && !st.raced) {
        st.raced = true
        startOperation(name, { steps: 2, automated: true })
      }
      const os = st.obj.status.operationState
      if (st.obj.operation || (os && (os.phase === 'Running' || os.phase === 'Terminating'))) {
        return err(9, 'another operation is already in progress')
      }
      const requested = typeof b.revision === 'string' && b.revision !== '' ? b.revision : 'HEAD'
      const revision = /^[0-9a-f]{40}$/.test(requested)
        ? requested
        : (st.spec.head ?? sha(`${name}-${requested}`))
      const op: Record<string, unknown> = {
        sync: {
          revision,
          ...(b.prune ? { prune: true } : {}),
          ...(b.dryRun ? { dryRun: true } : {}),
          syncStrategy: (b.strategy as object | undefined) ?? { hook: {} },
          ...((b.syncOptions as { items?: string[] } | undefined)?.items
            ? { syncOptions: (b.syncOptions as { items: string[] }).items }
            : {}),
          ...(b.resources ? { resources: b.resources } : {})
        },
        initiatedBy: { username: user },
        retry: {}
      }
      runOperation(st, op, st.spec.scenario ?? 'healthy')
      return reply(200, st.obj)
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
    if (st.spec.runningOperation) startOperation(st.spec.name, st.spec.runningOperation)
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
    addFault: f => faults.push(f),
    startOperation,
    stop: () =>
      new Promise<void>(resolve => {
        for (const st of apps.values()) for (const t of st.timers) clearTimeout(t)
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      })
  }
  return sim
}

function safeJson(text: string): Record<string, unknown> {
  try {
    const v = JSON.parse(text) as unknown
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : {}
  } catch {
    return {}
  }
}

/** A sim app name → a deterministic fake commit SHA (what HEAD resolves to). */
export { sha as fakeSha }
