/**
 * Syncing one Argo CD application to the end: handle an operation already running,
 * request the sync for our source (retrying only "another operation is already in
 * progress"; any other refusal fails at once with Argo CD's message), then observe
 * the app (observer.ts) until the pure verdict (verdict.ts) says done,
 * failed, or the deadline passes.
 */
import { ArgoApiError, type AppScope, type ArgoClient, type SyncRequest } from './client.js'
import { ResourceCalls } from './client-resources.js'
import {
  matchesResource,
  operationInProgress,
  stateLine,
  unhealthyResources,
  type Application,
  type ResourceRef
} from './application.js'
import { Observer, type ObserveSettings } from './observer.js'
import { isNothingToTerminate, isOperationInProgress, syncRefusal } from './refusals.js'
import { resultOf, type AppResult, type RevisionFacts } from './result.js'
import type { RolloutPolicy } from './rollout.js'
import { RolloutDriver } from './rollouts.js'
import {
  chooseSource,
  expectedRevisions,
  liveRevisionsLine,
  revisionFields,
  revisionList
} from './sources.js'
import {
  decide,
  isOurOperation,
  remember,
  type Expectation,
  type Memory,
  type Verdict,
  type WaitFor
} from './verdict.js'
import { errorMessage } from '../core/errors.js'
import { isDeadlineError } from '../core/http/request.js'
import type { Logger } from '../core/logger.js'
import { backoffDelay, sleep } from '../core/retry.js'

export type { AppResult } from './result.js'

/** How to sync and when to call it done. */
export interface SyncSettings extends ObserveSettings {
  scope: AppScope
  /** The request body without its revision fields (those depend on each app's sources). */
  request: SyncRequest
  /** Input `revision`: what our source syncs to (default `request.revision`). */
  revision?: string
  /** Input `source`: the repoURL or name of the source `revision` belongs to. */
  source?: string
  refresh?: 'normal' | 'hard'
  waitFor: WaitFor
  healthyStates: readonly string[]
  timeoutMs: number
  degradedGraceMs: number
  onTimeout: 'fail' | 'terminate'
  onRunningOperation: 'wait' | 'fail' | 'terminate'
  /** The time the report and the terminate after a timeout may take (default {@link CLEANUP_MS}). */
  cleanupMs?: number
  /** How to treat Argo Rollouts (inputs `rollout`, `rollout-pause-min`, `abort-on-degraded`). */
  rollout?: RolloutPolicy
}

/** The time the report (resource tree) and the terminate after a timeout may take. */
export const CLEANUP_MS = 10_000

/**
 * Sync one application and wait for its verdict. Failures of the app (Failed,
 * Degraded, refused, timeout) are results; other API errors throw. Every request
 * ends by the app's deadline (`timeoutMs` from the start): one that runs into it
 * makes the result "timed-out". The report and the terminate after a timeout get
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
  const rollouts = s.rollout
    ? new RolloutDriver(new ResourceCalls(api), name, s.scope, s.rollout, log, s.pollIntervalMs)
    : undefined
  const tag = `[${name}]`
  const base: SyncRequest = { ...s.request }
  delete base.revision
  const revision = s.revision ?? s.request.revision
  let last: Application | undefined
  const facts: RevisionFacts = { requested: [] }
  let verdict: Verdict | undefined
  let lastReason = ''
  /** Sent the sync request without knowing whether the server acted on it. */
  let syncUnanswered = false
  /** Our operation was seen started: what a Rollout runs mid-way may be ours to abort. */
  let oursSeen = false

  const finish = async (
    result: AppResult['result'],
    message: string,
    resources: string[] = []
  ): Promise<AppResult> => {
    const r = resultOf(name, last, result, message, started, facts, observer.mode, resources)
    if (rollouts) {
      // Abort what is mid-way before failing (abort-on-degraded), then where each stopped.
      // Only after our operation ran (never a Rollout a failed request left alone).
      if (result !== 'succeeded' && s.rollout?.abortOnDegraded && oursSeen && !s.request.dryRun) {
        const done = await rollouts.abortMidway(new ResourceCalls(cleanup()), last)
        if (done.length > 0) r.message += `; ${done.join('; ')}`
      }
      await rollouts.finalRead(new ResourceCalls(cleanup()), last)
      r.rollouts = rollouts.report()
    }
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

  /** Wait out (or terminate) an operation already running; false on the deadline. */
  async function settleRunning(app: Application): Promise<boolean> {
    const what =
      app.status?.operationState?.message ?? app.status?.operationState?.phase ?? 'requested'
    let terminated = false
    let attempts = 0
    const terminate = async (): Promise<void> => {
      attempts++
      log.info(`${tag} terminating the running operation (${what})`)
      try {
        await api.terminate(name, s.scope)
        terminated = true
      } catch (error) {
        // Argo CD: InvalidArgument "No operation is in progress" when none is set or
        // none has started yet. The first: nothing to do; the second: terminate it
        // once it runs.
        if (!isNothingToTerminate(error)) throw error
        log.info(
          `${tag} nothing to terminate (${(error as ArgoApiError).serverMessage}): the operation ended before it could be terminated, or has not started yet`
        )
      }
    }
    if (s.onRunningOperation === 'terminate') await terminate()
    else log.info(`${tag} waiting for the running operation to finish (${what})`)
    for (;;) {
      const seen = await observer.until(a => {
        last = a
        if (!operationInProgress(a)) return true
        return (
          s.onRunningOperation === 'terminate' && !terminated && attempts < 3 && startedRunning(a)
        )
      }, deadline)
      if (!seen) return false
      if (!operationInProgress(seen)) return true
      await terminate()
    }
  }

  async function observe(): Promise<AppResult> {
    // 1. Current state (refreshing first when asked), and which source is ours.
    last = initial ?? (await api.get(name, s.scope, s.refresh))
    const choice = chooseSource(last, s.source, revision)
    if ('error' in choice) return finish('failed', choice.error)
    if (choice.warning) log.warning(`${tag} ${choice.warning}`)
    facts.index = choice.index
    if (choice.index !== undefined && revision) facts.requested[choice.index] = revision
    log.info(`${tag} ${stateLine(last)}; ${liveRevisionsLine(last, choice.index)}`)

    // 2. An operation already running.
    if (operationInProgress(last)) {
      if (s.onRunningOperation === 'fail') {
        const what =
          last.status?.operationState?.message ?? last.status?.operationState?.phase ?? 'requested'
        return finish(
          'failed',
          `an operation is already running (${what}); on-running-operation is "fail"`
        )
      }
      if (!(await settleRunning(last))) {
        return finish(
          'timed-out',
          `timed out waiting for the running operation to finish (${stateLine(last)})`
        )
      }
    }
    const unknown = unmatchedResources(last, base.resources ?? [])
    if (unknown.length > 0 && unknown.length === base.resources?.length) {
      return finish(
        'failed',
        `input "resources": none of ${unknown.join(', ')} is a resource of the application (as the argocd CLI, a partial sync needs at least one); its resources: ${(last.status?.resources ?? []).map(r => `${r.group ?? ''}:${r.kind}:${r.namespace ? `${r.namespace}/` : ''}${r.name}`).join(', ') || 'none'}`
      )
    }
    for (const u of unknown)
      log.warning(`${tag} input "resources": ${u} is not a resource of the application`)

    // 3. Request the sync, retrying while another operation holds the app.
    const request = { ...base, ...revisionFields(last, choice.index, revision) }
    let requestedAt = 0
    for (let attempt = 0; ; attempt++) {
      const before = Date.now()
      try {
        syncUnanswered = true
        const { app, serverDate } = await api.sync(name, s.scope, request)
        syncUnanswered = false
        last = app
        requestedAt = Math.min(before, serverDate ?? before)
        const resolved = revisionList(app, app.operation?.sync)
        if (resolved.length > 0) facts.requested = resolved
        const asked = expectedRevisions(app, choice.index, revision).map(
          e => `${e.label ? `${e.label} ` : ''}at revision ${e.revision}`
        )
        log.info(`${tag} sync requested${asked.length ? `: ${asked.join('; ')}` : ''}`)
        break
      } catch (error) {
        if (!(error instanceof ArgoApiError)) throw error
        syncUnanswered = false
        const refused = syncRefusal(error)
        if (refused) return finish('failed', refused)
        if (!isOperationInProgress(error)) throw error
        const wait = backoffDelay(attempt, {
          baseMs: s.pollIntervalMs,
          capMs: Math.min(10_000, 32 * s.pollIntervalMs),
          jitter: [1, 1]
        })
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
      expected: expectedRevisions(last, choice.index, revision),
      requestedAt,
      waitFor: s.request.dryRun ? 'operation' : s.waitFor,
      healthyStates: s.healthyStates,
      degradedGraceMs: s.degradedGraceMs,
      resources: base.resources,
      dryRun: s.request.dryRun
    }
    let memory: Memory = {}
    const final = await observer.until(app => {
      last = app
      const now = Date.now()
      verdict = decide(app, exp, now, memory)
      memory = remember(memory, app, exp, verdict, now)
      if (memory.ours) oursSeen = true
      const state = app.status?.operationState
      if (state?.phase === 'Succeeded' && isOurOperation(state, exp, app)) {
        facts.synced = revisionList(app, state.syncResult)
      }
      if (verdict.reason !== lastReason) {
        lastReason = verdict.reason
        log.info(`${tag} ${verdict.reason}`)
      }
      rollouts?.observe(app, verdict.state === 'waiting' && verdict.awaitingHealth === true, now)
      return verdict.state !== 'waiting' || rollouts?.failure !== undefined
    }, deadline)

    if (rollouts?.failure) return finish('failed', rollouts.failure.message)

    if (final && verdict && verdict.state === 'succeeded') {
      if (verdict.notice) log.notice(`${name}: ${verdict.notice}`)
      return finish('succeeded', verdict.reason, unhealthyResources(final, exp.resources))
    }
    if (final && verdict && verdict.state === 'failed') {
      return finish('failed', verdict.reason, verdict.resources)
    }
    return timedOut()
  }
}

/** An operation the controller has started (it can be terminated). */
function startedRunning(app: Application): boolean {
  const state = app.status?.operationState
  return Boolean(app.operation && state?.startedAt && state.phase === 'Running')
}

/** The resources of a partial sync that name no resource of the app (`GROUP:KIND:NS/NAME`). */
function unmatchedResources(app: Application, selected: readonly ResourceRef[]): string[] {
  const have = app.status?.resources ?? []
  return selected
    .filter(s => !have.some(r => matchesResource(r, s)))
    .map(s => `${s.group ?? ''}:${s.kind}:${s.namespace ? `${s.namespace}/` : ''}${s.name}`)
}
