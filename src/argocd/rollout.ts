/**
 * Argo Rollouts as argocd-sync sees them through Argo CD: the facts of one Rollout
 * read from its live object and the health Argo CD gives it, and the pure decisions
 * of the `rollout` / `rollout-pause-min` / `abort-on-degraded` inputs: which pause is
 * indefinite (`pause: {}` or blue-green's pre-promotion pause) and which is timed,
 * when to resume, never twice for one pause, when to abort. The fields read are
 * those Argo Rollouts writes (argoproj/argo-rollouts pkg/apis/rollouts/v1alpha1
 * types.go: `status.currentStepIndex`, `status.pauseConditions[].reason/startTime`,
 * `status.abort`, `status.stableRS`/`currentPodHash`, `status.canary.weights`),
 * the step weight as utils/replicaset `GetCurrentSetWeight` derives it. No I/O.
 */
import { parseDuration } from '../core/duration.js'

/** What to do at a pause without a duration. */
export type RolloutMode = 'wait' | 'promote' | 'succeed'

/** The inputs that steer Rollouts. */
export interface RolloutPolicy {
  mode: RolloutMode
  /** How long a pause must have lasted before `promote` resumes it (ms). */
  pauseMinMs: number
  abortOnDegraded: boolean
}

/** A Rollout as a resource request names it. */
export interface RolloutRef {
  group: string
  version: string
  kind: string
  namespace: string
  name: string
}

/** A pause the Rollout is in. */
export interface RolloutPause {
  /** `CanaryPauseStep`, `BlueGreenPause`, `InconclusiveAnalysisRun`, ... or `manual` (spec.paused). */
  reason: string
  /** ms since the epoch (the controller's clock, second resolution). */
  startedAt?: number
  /** Only a person (or `promote`) ends it. */
  indefinite: boolean
  /** The pause's own length (a timed pause), ms. */
  durationMs?: number
  /** One key per pause: revision, step and start (an action is sent at most once per key). */
  key: string
  /** Whether `promote` may resume it (pause {} or blue-green pre-promotion only). */
  promotable: boolean
}

/** What the live Rollout and Argo CD's health say. */
export interface RolloutFacts {
  ref: RolloutRef
  /** Argo CD's health of the Rollout (health.lua). */
  health: string
  healthMessage?: string
  strategy: 'canary' | 'blueGreen' | 'unknown'
  /** `rollout.argoproj.io/revision`. */
  revision: string
  /** 1-based step being run (canary); equals `steps` once all ran. */
  step?: number
  steps?: number
  /** What the current canary step does (`setWeight 25`, `pause`, `pause 30s`). */
  stepText?: string
  /** The canary weight (traffic routing's weights, else the steps' setWeight). */
  weight?: number
  pause?: RolloutPause
  aborted: boolean
  /** The new version is the stable one (nothing mid-way). */
  fullyPromoted: boolean
}

type Obj = Record<string, unknown>
const obj = (v: unknown): Obj => (v && typeof v === 'object' ? (v as Obj) : {})
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined)

/** A pause duration of a canary step (int seconds or a Go duration string), ms. */
export function pauseDurationMs(d: unknown): number | undefined {
  if (typeof d === 'number') return d * 1000
  if (typeof d !== 'string') return undefined
  return /^\d+$/.test(d) ? Number(d) * 1000 : parseDuration(d)
}

function describeStep(step: Obj): string {
  if ('setWeight' in step) return `setWeight ${String(step.setWeight)}`
  if ('pause' in step) {
    const ms = pauseDurationMs(obj(step.pause).duration)
    return ms === undefined ? 'pause' : `pause ${Math.round(ms / 1000)}s`
  }
  return Object.keys(step)[0] ?? 'step'
}

/** The weight of the steps up to `index` (Argo Rollouts' `GetCurrentSetWeight`). */
function stepWeight(steps: Obj[], index: number): number {
  if (index >= steps.length) return 100
  for (let i = index; i >= 0; i--) {
    const w = steps[i]?.setWeight
    if (typeof w === 'number') return w
  }
  return 0
}

/** The facts of one Rollout from its live object and Argo CD's health of it. */
export function readRollout(
  ref: RolloutRef,
  live: Obj,
  health: { status?: string; message?: string } = {}
): RolloutFacts {
  const spec = obj(live.spec)
  const status = obj(live.status)
  const strategy = obj(spec.strategy)
  const canary = strategy.canary ? obj(strategy.canary) : undefined
  const blueGreen = strategy.blueGreen ? obj(strategy.blueGreen) : undefined
  const revision = str(obj(obj(live.metadata).annotations)['rollout.argoproj.io/revision']) ?? ''
  const aborted = status.abort === true
  const current = str(status.currentPodHash)
  // Before Argo Rollouts v0.8 the stable ReplicaSet was `status.canary.stableRS`.
  const stable = str(status.stableRS) ?? str(obj(status.canary).stableRS)
  const fullyPromoted = current !== undefined && current === stable && !aborted
  const facts: RolloutFacts = {
    ref,
    health: health.status ?? 'Unknown',
    ...(health.message ? { healthMessage: health.message } : {}),
    strategy: canary ? 'canary' : blueGreen ? 'blueGreen' : 'unknown',
    revision,
    aborted,
    fullyPromoted
  }
  const steps = Array.isArray(canary?.steps) ? (canary.steps as unknown[]).map(obj) : undefined
  const index = typeof status.currentStepIndex === 'number' ? status.currentStepIndex : undefined
  // Until the controller observed the new spec, the step fields are the old update's
  // (health.lua `isGenerationObserved`: a non-numeric, pre-v0.10 value counts as observed).
  const observedGen = Number(status.observedGeneration)
  const generation = Number(obj(live.metadata).generation)
  const observed =
    status.observedGeneration === undefined ||
    String(status.observedGeneration).trim() === '' ||
    Number.isNaN(observedGen) ||
    observedGen >= generation
  if (steps && steps.length > 0 && observed) {
    facts.steps = steps.length
    const i = Math.min(index ?? 0, steps.length)
    facts.step = Math.min(i + 1, steps.length)
    if (i < steps.length) facts.stepText = describeStep(steps[i]!)
    const routed = obj(obj(obj(status.canary).weights).canary).weight
    facts.weight = typeof routed === 'number' ? routed : fullyPromoted ? 100 : stepWeight(steps, i)
  }
  const conditions = Array.isArray(status.pauseConditions)
    ? (status.pauseConditions as unknown[]).map(obj)
    : []
  const cond = conditions[0]
  if (cond) {
    const reason = str(cond.reason) ?? 'Paused'
    const startedAt = Date.parse(str(cond.startTime) ?? '')
    let indefinite = true
    let durationMs: number | undefined
    let promotable = false
    if (reason === 'CanaryPauseStep' && steps && index !== undefined && steps[index]) {
      durationMs = pauseDurationMs(obj(steps[index]!.pause).duration)
      indefinite = durationMs === undefined
      promotable = indefinite
    } else if (reason === 'BlueGreenPause' && blueGreen) {
      const seconds = blueGreen.autoPromotionSeconds
      if (typeof seconds === 'number' && seconds > 0) durationMs = seconds * 1000
      indefinite = durationMs === undefined
      promotable = indefinite
    }
    facts.pause = {
      reason,
      ...(Number.isNaN(startedAt) ? {} : { startedAt }),
      indefinite,
      ...(durationMs !== undefined ? { durationMs } : {}),
      key: `${revision}/${index ?? '-'}/${reason}/${str(cond.startTime) ?? ''}`,
      promotable
    }
  } else if (spec.paused === true) {
    facts.pause = {
      reason: 'manual',
      indefinite: true,
      key: `${revision}/${index ?? '-'}/manual`,
      promotable: false
    }
  }
  return facts
}

/** One line for the log: where the Rollout is. */
export function positionLine(f: RolloutFacts): string {
  const parts: string[] = []
  if (f.step !== undefined && f.steps !== undefined) {
    parts.push(`step ${f.step} of ${f.steps}${f.stepText ? ` (${f.stepText})` : ''}`)
  }
  if (f.weight !== undefined) parts.push(`canary weight ${f.weight}%`)
  if (f.pause) {
    const kind = f.pause.indefinite
      ? 'indefinite'
      : `timed ${Math.round((f.pause.durationMs ?? 0) / 1000)}s`
    parts.push(`paused (${f.pause.reason}, ${kind})`)
  }
  if (f.aborted) parts.push('aborted')
  const where = parts.length ? `: ${parts.join(', ')}` : ''
  return `${f.health}${where}${f.healthMessage ? ` (${f.healthMessage})` : ''}`
}

/** What `promote` does about one Rollout now. */
export type PromoteDecision =
  | { kind: 'resume'; key: string }
  | { kind: 'wait'; reason: string; untilMs?: number }
  | { kind: 'none' }

/**
 * Whether to resume a Rollout now. Only `promote` resumes, only an indefinite
 * pause of a canary step or blue-green's pre-promotion (a timed one is waited out,
 * an inconclusive analysis or a manual pause is left to people), only once every
 * other resource is healthy, once the pause has lasted `pauseMinMs` from its
 * `startTime`, and never twice for one pause (`sent` holds the keys acted on).
 */
export function decidePromote(
  f: RolloutFacts,
  policy: RolloutPolicy,
  ctx: { now: number; othersHealthy: boolean; sent: ReadonlySet<string> }
): PromoteDecision {
  if (policy.mode !== 'promote' || !f.pause || f.health !== 'Suspended') return { kind: 'none' }
  const p = f.pause
  if (ctx.sent.has(p.key)) return { kind: 'wait', reason: 'resumed; waiting for the controller' }
  if (!p.indefinite) {
    const end = p.startedAt !== undefined ? p.startedAt + (p.durationMs ?? 0) : undefined
    return {
      kind: 'wait',
      reason: 'a timed pause: waiting it out',
      ...(end ? { untilMs: end } : {})
    }
  }
  if (!p.promotable) {
    return { kind: 'wait', reason: `paused (${p.reason}): left to a person` }
  }
  if (!ctx.othersHealthy) return { kind: 'wait', reason: 'other resources are not healthy yet' }
  const since = p.startedAt ?? ctx.now
  if (ctx.now - since < policy.pauseMinMs) {
    return {
      kind: 'wait',
      reason: `paused for ${Math.round((ctx.now - since) / 1000)}s of rollout-pause-min ${Math.round(policy.pauseMinMs / 1000)}s`,
      untilMs: since + policy.pauseMinMs
    }
  }
  return { kind: 'resume', key: p.key }
}

/** Whether a Rollout is mid-way (an abort sends traffic back to stable). */
export function isMidway(f: RolloutFacts): boolean {
  return !f.fullyPromoted && !f.aborted && f.health !== 'Healthy'
}

/** The result of a Rollout as the `rollouts` output gives it. */
export function rolloutResult(
  f: RolloutFacts,
  abortedByUs: boolean
): 'promoted' | 'paused' | 'progressing' | 'degraded' | 'aborted' {
  if (abortedByUs || f.aborted) return 'aborted'
  if (f.health === 'Healthy') return 'promoted'
  if (f.health === 'Degraded') return 'degraded'
  if (f.health === 'Suspended') return 'paused'
  return 'progressing'
}

/**
 * What changed between two readings of a Rollout, as lines for the log and the step
 * summary (empty when nothing people care about did).
 */
export function transitions(before: RolloutFacts | undefined, now: RolloutFacts): string[] {
  const out: string[] = []
  if (!before || before.revision !== now.revision) {
    // A new update: its revision and health, then its position as steps from nothing.
    out.push(
      `revision ${now.revision || '?'}: ${now.health}${now.healthMessage ? ` (${now.healthMessage})` : ''}`
    )
    const { step: _s, weight: _w, pause: _p, ...rest } = now
    before = { ...rest, aborted: false }
  }
  if (now.step !== before.step && now.step !== undefined) {
    out.push(
      `step ${now.step} of ${now.steps}${now.stepText ? ` (${now.stepText})` : ''}${now.weight !== undefined ? `, canary weight ${now.weight}%` : ''}`
    )
  } else if (now.weight !== before.weight && now.weight !== undefined) {
    out.push(`canary weight ${now.weight}%`)
  }
  if (now.pause && now.pause.key !== before.pause?.key) {
    out.push(
      `paused (${now.pause.reason}, ${now.pause.indefinite ? 'indefinite' : `timed ${Math.round((now.pause.durationMs ?? 0) / 1000)}s`})`
    )
  } else if (!now.pause && before.pause) out.push(`pause ended (${before.pause.reason})`)
  if (now.aborted && !before.aborted) out.push('aborted')
  if (now.health !== before.health) {
    out.push(`${now.health}${now.healthMessage ? `: ${now.healthMessage}` : ''}`)
  }
  return out
}
