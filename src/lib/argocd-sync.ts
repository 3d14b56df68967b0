/**
 * Syncing one Argo CD application to the end: handle an operation already running,
 * request the sync (retrying "another operation is already in progress"), then
 * observe the app through the watch stream (reconnecting after drops, falling back
 * to polling when a proxy buffers the stream) until the pure verdict says done,
 * failed, or the deadline passes.
 */
import {
  ArgoApiError,
  GrpcCode,
  type AppScope,
  type ArgoClient,
  type SyncRequest
} from './argocd-client.js'
import {
  decide,
  operationInProgress,
  stateLine,
  unhealthyResources,
  type Application,
  type Expectation,
  type Verdict,
  type WaitFor
} from './argocd.js'
import { StreamDecoder } from './argocd-stream.js'
import { ConfigurationError, errorMessage } from './errors.js'
import { isDeadlineError } from './http.js'
import type { Logger } from './logger.js'

/** How to sync and when to call it done. */
export interface SyncSettings {
  scope: AppScope
  request: SyncRequest
  refresh?: 'normal' | 'hard'
  waitFor: WaitFor
  healthyStates: readonly string[]
  timeoutMs: number
  degradedGraceMs: number
  onTimeout: 'fail' | 'terminate'
  onRunningOperation: 'wait' | 'fail' | 'terminate'
  watch: 'stream' | 'poll'
  pollIntervalMs: number
  /** Ask for SSE framing instead of NDJSON. */
  sse?: boolean
  /** A GET while streaming after this long without events (default 30 s). */
  safetyPollMs?: number
  /** The time the report and the terminate after a timeout may take (default {@link CLEANUP_MS}). */
  cleanupMs?: number
}

/** The outcome for one application. */
export interface AppResult {
  name: string
  result: 'succeeded' | 'failed' | 'timed-out'
  /** The operation phase last seen. */
  phase: string
  sync: string
  health: string
  /** The revision Argo CD reports the app synced to (what the cluster runs). */
  revision: string
  /** The revision our sync asked for (resolved by the server), when known. */
  requested: string
  durationMs: number
  message: string
  /** Failed or unhealthy resources. */
  resources: string[]
  /** How the app was observed in the end. */
  observedBy: 'stream' | 'poll'
  terminated: boolean
}

/** How long the stream may stay silent at first before we call it buffered. */
export function firstEventWaitMs(pollIntervalMs: number): number {
  return Math.max(1000, Math.min(10_000, Math.round(pollIntervalMs * 2.5)))
}

const sleep = (ms: number): Promise<void> => new Promise(r => setTimeout(r, Math.max(0, ms)))

/** The time the report (resource tree) and the terminate after a timeout may take. */
export const CLEANUP_MS = 10_000

type Stop = (app: Application) => boolean

/** Watches one app and calls `onApp` with each new state until it returns true. */
class Observer {
  mode: 'stream' | 'poll'
  private warned = false

  constructor(
    private readonly client: ArgoClient,
    private readonly name: string,
    private readonly s: SyncSettings,
    private readonly log: Logger
  ) {
    this.mode = s.watch
  }

  /** Observe until `stop` returns true (returns the last app) or the deadline (undefined). */
  async until(stop: Stop, deadline: number): Promise<Application | undefined> {
    let failures = 0
    while (Date.now() < deadline) {
      if (this.mode === 'poll') return this.poll(stop, deadline)
      const outcome = await this.streamOnce(stop, deadline)
      if (outcome.kind === 'done') return outcome.app
      if (outcome.kind === 'deadline') return undefined
      if (outcome.kind === 'silent') {
        this.fallback(
          `the watch stream sent nothing within ${firstEventWaitMs(this.s.pollIntervalMs)}ms (a proxy buffering it?)`
        )
        continue
      }
      failures = outcome.gotEvents ? 1 : failures + 1
      if (failures >= 4) {
        this.fallback(`the watch stream failed ${failures} times in a row (${outcome.why})`)
        continue
      }
      this.log.info(`[${this.name}] watch stream ${outcome.why}; reconnecting`)
      await sleep(Math.min(2000, 100 * 2 ** failures))
    }
    return undefined
  }

  private fallback(why: string): void {
    this.mode = 'poll'
    if (!this.warned) {
      this.warned = true
      this.log.warning(
        `[${this.name}] ${why}; falling back to polling every ${this.s.pollIntervalMs}ms`
      )
    }
  }

  private async poll(stop: Stop, deadline: number): Promise<Application | undefined> {
    for (;;) {
      let app: Application
      try {
        app = await this.client.get(this.name, this.s.scope)
      } catch (error) {
        if (isDeadlineError(error)) return undefined
        throw error
      }
      if (stop(app)) return app
      const wait = Math.min(this.s.pollIntervalMs, deadline - Date.now())
      if (wait <= 0) return undefined
      await sleep(wait)
    }
  }

  private async streamOnce(
    stop: Stop,
    deadline: number
  ): Promise<
    | { kind: 'done'; app: Application }
    | { kind: 'deadline' }
    | { kind: 'silent' }
    | { kind: 'broken'; why: string; gotEvents: boolean }
  > {
    const firstWait = firstEventWaitMs(this.s.pollIntervalMs)
    const opened = Date.now()
    let stream
    try {
      stream = await this.client.watch(this.name, this.s.scope, {
        sse: this.s.sse,
        openTimeoutMs: Math.min(firstWait, Math.max(1, deadline - Date.now()))
      })
    } catch (error) {
      if (error instanceof ConfigurationError) throw error
      if (Date.now() >= deadline || isDeadlineError(error)) return { kind: 'deadline' }
      if (Date.now() - opened >= firstWait * 0.9) return { kind: 'silent' }
      return { kind: 'broken', why: errorMessage(error), gotEvents: false }
    }
    let gotEvent = false
    let ended: 'deadline' | 'silent' | undefined
    const decoder = new StreamDecoder()
    const silentTimer = setTimeout(
      () => {
        ended = 'silent'
        stream.close()
      },
      Math.max(0, firstWait - (Date.now() - opened))
    )
    const deadlineTimer = setTimeout(() => {
      ended = 'deadline'
      stream.close()
    }, deadline - Date.now())
    // Re-decide on a timer too: Degraded turns into a failure after the grace
    // period without any new event, and a quiet stream gets a safety GET.
    let found: Application | undefined
    let lastApp: Application | undefined
    const tick = setInterval(
      () => {
        if (lastApp && !found && stop(lastApp)) {
          found = lastApp
          stream.close()
        }
      },
      Math.min(1000, this.s.pollIntervalMs)
    )
    let safety: NodeJS.Timeout | undefined
    let frozen = false
    const armSafety = (): void => {
      if (safety) clearTimeout(safety)
      safety = setTimeout(() => {
        this.client.get(this.name, this.s.scope).then(
          app => {
            const streamed = lastApp?.metadata.resourceVersion
            const stale = streamed !== undefined && app.metadata.resourceVersion !== streamed
            lastApp = app
            if (!found && stop(app)) {
              found = app
              stream.close()
            } else if (stale) {
              // The app changed but the stream did not say so: it is dead without
              // having closed (a NAT or proxy dropped it). Reconnect.
              frozen = true
              stream.close()
            } else armSafety()
          },
          () => armSafety()
        )
      }, this.s.safetyPollMs ?? 30_000)
    }
    armSafety()
    try {
      for await (const chunk of stream.body) {
        for (const frame of decoder.push(chunk.toString('utf8'))) {
          if (frame.kind === 'event') {
            if (!gotEvent) {
              gotEvent = true
              clearTimeout(silentTimer)
            }
            armSafety()
            lastApp = frame.application
            if (stop(frame.application)) return { kind: 'done', app: frame.application }
          } else if (frame.kind === 'error') {
            return { kind: 'broken', why: `sent an error: ${frame.message}`, gotEvents: gotEvent }
          }
        }
      }
      if (found) return { kind: 'done', app: found }
      return { kind: 'broken', why: 'ended', gotEvents: gotEvent }
    } catch (error) {
      if (found) return { kind: 'done', app: found }
      if (ended === 'deadline') return { kind: 'deadline' }
      if (ended === 'silent') return { kind: 'silent' }
      if (frozen) {
        return { kind: 'broken', why: 'fell silent while the app changed', gotEvents: gotEvent }
      }
      return { kind: 'broken', why: `dropped (${errorMessage(error)})`, gotEvents: gotEvent }
    } finally {
      clearInterval(tick)
      clearTimeout(silentTimer)
      clearTimeout(deadlineTimer)
      if (safety) clearTimeout(safety)
      stream.close()
    }
  }
}

function isFailedPrecondition(error: unknown): boolean {
  return (
    error instanceof ArgoApiError &&
    (error.code === GrpcCode.FailedPrecondition ||
      /another operation is already in progress/i.test(error.message))
  )
}

function resultOf(
  name: string,
  app: Application | undefined,
  result: AppResult['result'],
  message: string,
  started: number,
  revision: string | undefined,
  observedBy: AppResult['observedBy'],
  resources: string[]
): AppResult {
  const s = app?.status ?? {}
  return {
    name,
    result,
    phase: s.operationState?.phase ?? 'None',
    sync: s.sync?.status ?? 'Unknown',
    health: s.health?.status ?? 'Unknown',
    revision: s.sync?.revision ?? '',
    requested: revision ?? '',
    durationMs: Date.now() - started,
    message,
    resources,
    observedBy,
    terminated: false
  }
}

/**
 * Sync one application and wait for its verdict. Failures of the app (Failed,
 * Degraded, timeout) are results; API errors throw. Every request ends by the
 * app's deadline (`timeoutMs` from the start): one that runs into it makes the
 * result "timed-out". The report and the terminate after a timeout get
 * `cleanupMs` of their own.
 */
export async function syncApplication(
  client: ArgoClient,
  name: string,
  s: SyncSettings,
  log: Logger,
  /** The app as a preflight already fetched it (with the refresh); fetched here otherwise. */
  initial?: Application
): Promise<AppResult> {
  const started = Date.now()
  const deadline = started + s.timeoutMs
  const api = client.withDeadline(deadline)
  let afterwards: ArgoClient | undefined
  const cleanup = (): ArgoClient =>
    (afterwards ??= client.withDeadline(
      Math.max(deadline, Date.now() + (s.cleanupMs ?? CLEANUP_MS))
    ))
  const observer = new Observer(api, name, s, log)
  const tag = `[${name}]`
  let last: Application | undefined
  let revision: string | undefined = s.request.revision
  let verdict: Verdict | undefined
  let lastReason = ''
  /** Sent the sync request without knowing whether the server acted on it. */
  let syncUnanswered = false

  const finish = async (
    result: AppResult['result'],
    message: string,
    resources: string[] = []
  ): Promise<AppResult> => {
    const r = resultOf(name, last, result, message, started, revision, observer.mode, resources)
    if (result !== 'succeeded') {
      try {
        const tree = await cleanup().resourceTree(name, s.scope)
        for (const n of tree.nodes ?? []) {
          const h = n.health?.status
          if (h && h !== 'Healthy') {
            const line = `${n.group ? `${n.group}/` : ''}${n.kind} ${n.namespace ? `${n.namespace}/` : ''}${n.name} ${h}${n.health?.message ? `: ${n.health.message}` : ''}`
            if (!r.resources.includes(line)) r.resources.push(line)
          }
        }
      } catch (error) {
        log.debug(`${tag} resource tree unavailable: ${errorMessage(error)}`)
      }
    }
    return r
  }

  /** The timeout verdict: the last state, and the terminate when asked. */
  const timedOut = async (what?: string): Promise<AppResult> => {
    if (syncUnanswered && s.onTimeout === 'terminate') {
      // The server may have started our operation without answering: look.
      try {
        last = await cleanup().get(name, s.scope)
      } catch (error) {
        log.debug(`${tag} state after the timeout unavailable: ${errorMessage(error)}`)
      }
    }
    const message = `timed out after ${Math.round(s.timeoutMs / 1000)}s${what ? ` (${what})` : ''}; last state: ${last ? stateLine(last) : 'unknown'}${lastReason ? ` (${lastReason})` : ''}`
    const result = await finish('timed-out', message, verdict?.resources ?? [])
    if (s.onTimeout === 'terminate' && last && operationInProgress(last)) {
      try {
        await cleanup().terminate(name, s.scope)
        result.terminated = true
        result.message += '; the operation was terminated'
      } catch (error) {
        result.message += `; terminating the operation failed: ${errorMessage(error)}`
      }
    }
    return result
  }

  try {
    return await observe()
  } catch (error) {
    // A request that ran into the deadline: the app timed out, the API did not fail.
    if (isDeadlineError(error)) return timedOut(errorMessage(error))
    throw error
  }

  async function observe(): Promise<AppResult> {
    // 1. Current state (refreshing first when asked).
    last = initial ?? (await api.get(name, s.scope, s.refresh))
    log.info(`${tag} ${stateLine(last)}; live revision ${last.status?.sync?.revision ?? 'unknown'}`)

    // 2. An operation already running.
    if (operationInProgress(last)) {
      const what =
        last.status?.operationState?.message ?? last.status?.operationState?.phase ?? 'requested'
      if (s.onRunningOperation === 'fail') {
        return finish(
          'failed',
          `an operation is already running (${what}); on-running-operation is "fail"`
        )
      }
      if (s.onRunningOperation === 'terminate') {
        log.info(`${tag} terminating the running operation (${what})`)
        try {
          await api.terminate(name, s.scope)
        } catch (error) {
          // It may have finished in the meantime: "No operation is in progress".
          if (!isFailedPrecondition(error)) throw error
          log.info(`${tag} the operation ended before it could be terminated`)
        }
      } else {
        log.info(`${tag} waiting for the running operation to finish (${what})`)
      }
      const idle = await observer.until(app => {
        last = app
        return !operationInProgress(app)
      }, deadline)
      if (!idle)
        return finish(
          'timed-out',
          `timed out waiting for the running operation to finish (${stateLine(last)})`
        )
    }

    // 3. Request the sync, retrying while another operation holds the app.
    let requestedAt = 0
    for (let attempt = 0; ; attempt++) {
      const before = Date.now()
      try {
        syncUnanswered = true
        const { app, serverDate } = await api.sync(name, s.scope, s.request)
        syncUnanswered = false
        last = app
        requestedAt = Math.min(before, serverDate ?? before)
        revision =
          app.operation?.sync?.revision || app.operation?.sync?.revisions?.[0] || s.request.revision
        log.info(`${tag} sync requested${revision ? ` at revision ${revision}` : ''}`)
        break
      } catch (error) {
        if (!(error instanceof ArgoApiError)) throw error
        syncUnanswered = false
        if (!isFailedPrecondition(error)) throw error
        const wait = Math.min(10_000, s.pollIntervalMs * 2 ** Math.min(attempt, 5))
        if (Date.now() + wait >= deadline) {
          return finish(
            'timed-out',
            `another operation kept the application busy until the timeout`
          )
        }
        log.info(`${tag} another operation is already in progress; retrying the sync in ${wait}ms`)
        await sleep(wait)
      }
    }

    // 4. Observe until the verdict.
    const exp: Expectation = {
      revision,
      requestedAt,
      waitFor: s.request.dryRun ? 'operation' : s.waitFor,
      healthyStates: s.healthyStates,
      degradedGraceMs: s.degradedGraceMs
    }
    let degradedSince: number | undefined
    const final = await observer.until(app => {
      last = app
      const now = Date.now()
      verdict = decide(app, exp, now, degradedSince)
      if (verdict.degraded) degradedSince ??= now
      else degradedSince = undefined
      if (verdict.reason !== lastReason) {
        lastReason = verdict.reason
        log.info(`${tag} ${verdict.reason}`)
      }
      return verdict.state !== 'waiting'
    }, deadline)

    if (final && verdict && verdict.state === 'succeeded') {
      return finish('succeeded', verdict.reason, unhealthyResources(final))
    }
    if (final && verdict && verdict.state === 'failed') {
      return finish('failed', verdict.reason, verdict.resources)
    }
    return timedOut()
  }
}
