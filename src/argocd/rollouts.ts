/**
 * Following the Argo Rollouts of one application while argocd-sync waits for it:
 * the Rollouts come from the app's `status.resources` (group argoproj.io, kind
 * Rollout, with the health Argo CD gives each); whenever one's health changes, when a
 * wait it asked for has passed, and every poll interval while one is mid-way (a step
 * passes without the Application changing) its live object is read, the steps it passed
 * are logged and recorded with their times, and with `rollout: promote` an indefinite
 * pause is resumed through the resource action `resume` (rollout.ts decides when).
 * Before the step fails, `abortMidway` runs `abort` on every Rollout still mid-way.
 * An action is sent only when Argo CD lists it enabled, and only once per pause:
 * after a failed attempt the live object is read again and the action is sent again
 * only while the same pause is still there.
 */
import type { Application } from './application.js'
import type { AppScope } from './client.js'
import { resourceName, type ResourceCalls } from './client-resources.js'
import {
  decidePromote,
  isMidway,
  positionLine,
  readRollout,
  rolloutResult,
  transitions,
  type RolloutFacts,
  type RolloutPolicy,
  type RolloutRef
} from './rollout.js'
import { ConfigurationError, errorMessage } from '../core/errors.js'
import { isDeadlineError } from '../core/http/request.js'
import type { Logger } from '../core/logger.js'

/** One thing that happened to a Rollout. */
export interface RolloutEvent {
  /** ms since the epoch. */
  at: number
  text: string
}

/** What the action reports of one Rollout. */
export interface RolloutReport {
  name: string
  namespace: string
  result: ReturnType<typeof rolloutResult>
  /** 1-based step (canary), or undefined (blue-green). */
  step?: number
  steps?: number
  weight?: number
  events: RolloutEvent[]
}

/** The Rollouts among an app's resources, with the health Argo CD gives each. */
export function rolloutsOf(
  app: Application
): { ref: RolloutRef; health: { status?: string; message?: string } }[] {
  return (app.status?.resources ?? [])
    .filter(r => r.group === 'argoproj.io' && r.kind === 'Rollout' && r.name)
    .map(r => ({
      ref: {
        group: 'argoproj.io',
        version: r.version ?? 'v1alpha1',
        kind: 'Rollout',
        namespace: r.namespace ?? '',
        name: r.name!
      },
      health: r.health ?? {}
    }))
}

/** Whether every resource other than the Rollouts is healthy (or has no health). */
function othersHealthy(app: Application): boolean {
  return (app.status?.resources ?? []).every(
    r =>
      (r.group === 'argoproj.io' && r.kind === 'Rollout') ||
      r.health?.status === undefined ||
      r.health.status === 'Healthy'
  )
}

const keyOf = (ref: RolloutRef): string => `${ref.namespace}/${ref.name}`

/** The Rollouts of one app, followed (and promoted or aborted) while the sync waits. */
export class RolloutDriver {
  /** A mistake that fails the app (an action not available, RBAC). */
  failure?: Error
  private readonly facts = new Map<string, RolloutFacts>()
  private readonly events = new Map<string, RolloutEvent[]>()
  private readonly sent = new Set<string>()
  private readonly abortedByUs = new Set<string>()
  private busy: Promise<void> | undefined
  private pending: { app: Application; acting: boolean } | undefined
  private fingerprint = ''
  private nextLook = 0

  constructor(
    private readonly calls: ResourceCalls,
    private readonly app: string,
    private readonly scope: AppScope,
    private readonly policy: RolloutPolicy,
    private readonly log: Logger,
    /** How often to read a Rollout that is mid-way (a step passes without the app changing). */
    private readonly pollMs = 2000
  ) {}

  /**
   * Each app state the sync sees. `acting`: our sync landed and the health is what is
   * waited for (only then is a pause ours to resume). Starts the reading in the
   * background; returns at once.
   */
  observe(app: Application, acting: boolean, now = Date.now()): void {
    const found = rolloutsOf(app)
    if (found.length === 0) return
    const fp = `${acting}|${othersHealthy(app)}|${found.map(f => `${keyOf(f.ref)}=${f.health.status}:${f.health.message ?? ''}`).join(',')}`
    if (fp === this.fingerprint && (this.nextLook === 0 || now < this.nextLook)) return
    this.fingerprint = fp
    this.nextLook = 0
    if (this.busy) {
      this.pending = { app, acting }
      return
    }
    this.busy = this.look(app, acting)
      .catch(error => {
        if (error instanceof ConfigurationError) this.failure = error
        else if (!isDeadlineError(error)) {
          this.log.warning(`[${this.app}] reading the Rollouts failed: ${errorMessage(error)}`)
          this.fingerprint = '' // look again with the next state
        }
      })
      .finally(() => {
        this.busy = undefined
        const next = this.pending
        this.pending = undefined
        if (next && !this.failure) {
          this.fingerprint = ''
          this.observe(next.app, next.acting)
        }
      })
  }

  private lookAgainAt(at: number): void {
    this.nextLook = this.nextLook ? Math.min(this.nextLook, at) : at
  }

  /** Wait for a reading under way. */
  async settle(): Promise<void> {
    while (this.busy) await this.busy
  }

  private record(ref: RolloutRef, text: string, at = Date.now()): void {
    const key = keyOf(ref)
    const list = this.events.get(key) ?? []
    list.push({ at, text })
    this.events.set(key, list)
    this.log.info(`[${this.app}] Rollout ${key}: ${text}`)
  }

  /** Read one Rollout's live object and record what changed. */
  private async read(
    calls: ResourceCalls,
    ref: RolloutRef,
    health: { status?: string; message?: string }
  ): Promise<RolloutFacts> {
    const live = await calls.live(this.app, this.scope, ref)
    const now = readRollout(ref, live, health)
    for (const line of transitions(this.facts.get(keyOf(ref)), now)) this.record(ref, line)
    this.facts.set(keyOf(ref), now)
    return now
  }

  private async look(app: Application, acting: boolean): Promise<void> {
    for (const { ref, health } of rolloutsOf(app)) {
      const f = await this.read(this.calls, ref, health)
      if (!f.fullyPromoted && f.health !== 'Degraded') this.lookAgainAt(Date.now() + this.pollMs)
      if (!acting) continue
      const d = decidePromote(f, this.policy, {
        now: Date.now(),
        othersHealthy: othersHealthy(app),
        sent: this.sent
      })
      if (d.kind === 'wait' && d.untilMs !== undefined) this.lookAgainAt(d.untilMs)
      if (d.kind === 'resume') await this.send(ref, 'resume', d.key, health)
    }
  }

  /**
   * Run `action` once for the pause `key`: only when Argo CD lists it enabled; after a
   * failure, again only while the live Rollout still shows that pause.
   */
  private async send(
    ref: RolloutRef,
    action: string,
    key: string,
    health: { status?: string; message?: string },
    calls = this.calls
  ): Promise<void> {
    const listed = await calls.actions(this.app, this.scope, ref)
    const entry = listed.find(a => a.name === action)
    if (!entry || entry.disabled) {
      const enabled = listed.filter(a => !a.disabled).map(a => a.name)
      throw new ConfigurationError(
        `${resourceName(ref)} in application "${this.app}": the action "${action}" is ${entry ? 'disabled' : 'not among its actions'}; Argo CD offers ${enabled.length ? enabled.join(', ') : 'no enabled action'} for it now${action === 'resume' ? ' (set input "rollout" to "wait" to leave the pause to a person)' : ''}`
      )
    }
    for (let attempt = 1; ; attempt++) {
      try {
        const via = await calls.run(this.app, this.scope, ref, action)
        this.sent.add(key)
        this.record(ref, `${action} sent (resource action, ${via})`)
        return
      } catch (error) {
        if (error instanceof ConfigurationError || isDeadlineError(error) || attempt >= 4) {
          throw error
        }
        this.log.warning(
          `[${this.app}] ${action} on ${resourceName(ref)} failed (${errorMessage(error)}); reading it again before another attempt`
        )
        await new Promise(r => setTimeout(r, 500 * attempt))
        const f = await this.read(calls, ref, health)
        const still = action === 'abort' ? isMidway(f) : f.pause?.key === key
        if (!still) {
          // The first attempt landed after all (or the Rollout moved on): nothing to send.
          this.sent.add(key)
          return
        }
      }
    }
  }

  /**
   * Before the step fails (`abort-on-degraded`): read each Rollout again and run
   * `abort` on those still mid-way. `calls` has time of its own (after a timeout).
   */
  async abortMidway(calls: ResourceCalls, app: Application | undefined): Promise<string[]> {
    await this.settle()
    const out: string[] = []
    const found = app ? rolloutsOf(app) : []
    for (const { ref, health } of found) {
      try {
        const f = await this.read(calls, ref, health)
        if (!isMidway(f)) continue
        await this.send(ref, 'abort', `abort/${f.revision}`, health, calls)
        this.abortedByUs.add(keyOf(ref))
        out.push(`aborted Rollout ${keyOf(ref)} (traffic back to the stable version)`)
      } catch (error) {
        out.push(`aborting Rollout ${keyOf(ref)} failed: ${errorMessage(error)}`)
      }
    }
    return out
  }

  /** Read every Rollout once more at the end (the report shows where each stopped). */
  async finalRead(calls: ResourceCalls, app: Application | undefined): Promise<void> {
    await this.settle()
    for (const { ref, health } of app ? rolloutsOf(app) : []) {
      try {
        await this.read(calls, ref, health)
      } catch (error) {
        this.log.debug(`[${this.app}] final read of ${keyOf(ref)}: ${errorMessage(error)}`)
      }
    }
  }

  /** What to report of each Rollout seen. */
  report(): RolloutReport[] {
    return [...this.facts.entries()].map(([key, f]) => ({
      name: f.ref.name,
      namespace: f.ref.namespace,
      result: rolloutResult(f, this.abortedByUs.has(key)),
      ...(f.step !== undefined ? { step: f.step, steps: f.steps } : {}),
      ...(f.weight !== undefined ? { weight: f.weight } : {}),
      events: this.events.get(key) ?? []
    }))
  }

  /** One line per Rollout for the log. */
  lines(): string[] {
    return [...this.facts.values()].map(f => `Rollout ${keyOf(f.ref)}: ${positionLine(f)}`)
  }
}
