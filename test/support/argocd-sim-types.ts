/**
 * The public types of the Argo CD simulator: its options, the requests it records and
 * the handle a test gets (see argocd-sim.ts).
 */
import type http from 'node:http'
import type { AppObj, SimAppSpec } from './argocd-sim-app.js'
import type { SimCommit } from './argocd-sim-repos.js'
import type { SimAction } from './argocd-sim-resources.js'
import type { SimRollout } from './argocd-sim-rollout.js'
import type { StreamFaults } from './argocd-sim-stream.js'

/** An injected fault: the next `times` API requests (matching) answer `status`. */
export interface SimFault {
  status: 429 | 502 | 503
  times: number
  retryAfter?: string
  match?: (method: string, path: string) => boolean
  /** Handle the request, then answer `status` instead (the answer lost after the work). */
  afterHandling?: boolean
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
  streamFaults?: StreamFaults
  /** Steps Degraded lasts in `degraded-then-recovers` (default 4). */
  degradedSteps?: number
  /** Factor for `slow` (default 10). */
  slowFactor?: number
  faults?: SimFault[]
  /** Be an Argo CD before 3.1: no `POST .../resource/actions/v2` route. */
  noActionsV2?: boolean
  /** Resource actions the account may not run (RBAC denies `action/.../<name>`). */
  deniedActions?: string[]
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
  /** Resource actions run, in order. */
  actions: SimAction[]
  /** The Rollout of an app (its live object, its controller's history). */
  rollout(app: string): SimRollout
  /** Add faults at run time. */
  addFault(fault: SimFault): void
  /** Cut every open watch stream now (a proxy or NAT dropping them); returns how many. */
  dropStreams(): number
  /** Start an operation (e.g. an auto-sync) on an app right now. */
  startOperation(
    name: string,
    options?: { steps?: number; automated?: boolean; pendingSteps?: number }
  ): void
  /**
   * A push to a git repository (a commit on `main` by default), then a reconcile of
   * every app on it, as a webhook triggers. Returns the commit's SHA.
   */
  push(repoURL: string, commit: SimCommit, branch?: string): string
  /** What an app's source (by index, default its first git source) resolves to now. */
  head(app: string, source?: number): string
  stop(): Promise<void>
}
