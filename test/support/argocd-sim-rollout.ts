/**
 * Argo Rollouts in the Argo CD simulator: one Rollout per app that asks for one, with
 * the live object the Argo Rollouts controller keeps (argoproj/argo-rollouts at
 * 9f8d111d8f8e), moved along on a timer:
 *
 * - a new pod template (the sync applied a new image) bumps `metadata.generation`;
 *   the controller observes it a tick later (`status.observedGeneration`, a numeric
 *   string), sets `currentPodHash`, and keeps `stableRS` until the update is done;
 * - canary (rollout/canary.go): `setWeight` scales the canary ReplicaSet (basic
 *   canary: ceil(replicas × weight / 100)) and, with traffic routing, writes
 *   `status.canary.weights`; `pause` adds the pause condition `CanaryPauseStep` with
 *   its `startTime` (rollout/pause.go `CalculatePauseConditions`) and sets
 *   `controllerPause`; a pause with a duration ends once `startTime + duration` has
 *   passed, any pause once someone removed the condition (`CompletedCanaryPauseStep`);
 *   after the last step the canary becomes `stableRS`;
 * - blue-green (rollout/bluegreen.go): the preview ReplicaSet comes up, then the
 *   pre-promotion pause `BlueGreenPause` when `autoPromotionEnabled: false` (until
 *   resumed) or `autoPromotionSeconds` is set (that long), then the active selector
 *   switches (`CompletedBlueGreenPause`);
 * - `status.phase` and `message` as utils/rollout/rolloututil.go `CalculateRolloutPhase`
 *   writes them (Paused with the pause reason, Degraded "RolloutAborted: Rollout aborted
 *   update to revision N" or "ProgressDeadlineExceeded: ReplicaSet ... has timed out
 *   progressing.", "more replicas need to be updated", ...), with the condition messages
 *   of utils/conditions/conditions.go;
 * - `status.abort` (the abort action, or a failed analysis) scales the new version
 *   down and sends all traffic back to stable; removing it (retry) starts the steps
 *   again; `status.promoteFull` skips the remaining steps; `spec.paused` holds it.
 *
 * The health Argo CD shows and the actions it lists come from argocd-sim-rollout-lua.ts.
 */
import { condition, pauseSeconds, podHash, weights } from './argocd-sim-rollout-fields.js'
import { rolloutActions, rolloutHealth, runRolloutAction } from './argocd-sim-rollout-lua.js'
import type { LuaAction, LuaHealth, RolloutObj } from './argocd-sim-rollout-lua.js'

/** One canary step. */
export type SimCanaryStep = { setWeight: number } | { pause: { duration?: number | string } }

/** A Rollout of a simulated app (instead of its Deployment). */
export interface SimRolloutSpec {
  /** Default: the app's name. */
  name?: string
  /** Default 4. */
  replicas?: number
  canary?: { steps: SimCanaryStep[]; trafficRouting?: boolean }
  blueGreen?: { autoPromotionEnabled?: boolean; autoPromotionSeconds?: number }
  /**
   * The update goes bad at this step (1-based; blue-green: 1 is the preview): the new
   * pods never become ready (`progress-deadline`: Degraded, not aborted), or an
   * analysis fails and the controller aborts by itself (`analysis`).
   */
  degradeAtStep?: { step: number; how: 'progress-deadline' | 'analysis' }
  /**
   * argocd-cm `resource.customizations.actions.argoproj.io_Rollout` without
   * `mergeBuiltinActions`: its discovery replaces the built-in one, and the API lists
   * these actions instead (util/lua/lua.go `GetResourceActionDiscovery`).
   */
  customActions?: LuaAction[]
}

export { pauseSeconds }

/** The canary steps when a spec gives none: 25 %, an indefinite pause, 75 %. */
export const DEFAULT_STEPS: SimCanaryStep[] = [{ setWeight: 25 }, { pause: {} }, { setWeight: 75 }]

const isoSec = (ms: number): string =>
  new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z')

/** The simulated Rollout of one app and its controller. */
export class SimRollout {
  /** Transitions since the last revision (what tests may assert). */
  readonly history: string[] = []
  /** The `startTime` of every pause since the last revision. */
  readonly pauses: string[] = []
  private revision = 1

  constructor(
    readonly spec: SimRolloutSpec,
    /** The live object (see `newRolloutObject`). */
    readonly obj: RolloutObj,
    /** Called after every change of the live object. */
    private readonly changed: () => void
  ) {}

  /** The steps of a canary (undefined for blue-green). */
  get steps(): SimCanaryStep[] | undefined {
    return this.obj.spec.strategy.canary?.steps as SimCanaryStep[] | undefined
  }

  /** The health Argo CD shows for it (health.lua). */
  health(): LuaHealth {
    return rolloutHealth(this.obj)
  }

  /** The actions Argo CD lists for it. */
  actions(): LuaAction[] {
    return this.spec.customActions ?? rolloutActions(this.obj)
  }

  /** Whether the controller has nothing left to do until something changes it. */
  settled(): boolean {
    const h = this.health().status
    return h === 'Healthy' || h === 'Degraded' || h === 'Suspended'
  }

  /** Run a resource action (its action.lua), as the API server patches the live object. */
  run(action: string, now: number): void {
    const before = JSON.stringify(this.obj.spec)
    const next = runRolloutAction(this.obj, action, new Date(now))
    this.obj.spec = next.spec
    this.obj.status = next.status
    if (JSON.stringify(this.obj.spec) !== before) this.obj.metadata.generation++
    this.history.push(`action ${action}`)
    this.touch()
  }

  /** A new pod template: the image the sync applied. */
  update(image: string): void {
    this.revision++
    const md = this.obj.metadata
    md.generation++
    md.annotations['rollout.argoproj.io/revision'] = String(this.revision)
    this.obj.spec.template.spec.containers[0].image = image
    this.history.length = 0
    this.pauses.length = 0
    this.history.push(`revision ${this.revision}`)
    this.touch()
  }

  /** One reconcile of the Argo Rollouts controller; returns whether anything changed. */
  tick(now: number): boolean {
    const before = JSON.stringify(this.obj)
    this.reconcile(now)
    const moved = JSON.stringify(this.obj) !== before
    if (moved) this.touch()
    return moved
  }

  private touch(): void {
    this.obj.metadata.resourceVersion = String(Number(this.obj.metadata.resourceVersion) + 1)
    this.changed()
  }

  private reconcile(now: number): void {
    const o = this.obj
    const st = o.status
    const name = o.metadata.name as string
    const image = o.spec.template.spec.containers[0].image as string
    const hash = podHash(image)
    const replicas = o.spec.replicas as number
    if (st.observedGeneration !== String(o.metadata.generation)) {
      st.observedGeneration = String(o.metadata.generation)
      if (st.currentPodHash !== hash) {
        st.currentPodHash = hash
        st.updatedReplicas = 0
        st.availableReplicas = replicas
        delete st.pauseConditions
        st.controllerPause = false
        delete st.abort
        delete st.abortedAt
        if (this.steps) st.currentStepIndex = 0
        this.progressing('more replicas need to be updated')
      }
      return
    }
    if (o.spec.restartAt && st.restartedAt !== o.spec.restartAt) st.restartedAt = o.spec.restartAt
    if (st.currentPodHash === st.stableRS) return
    const revision = o.metadata.annotations['rollout.argoproj.io/revision'] as string
    if (st.abort) {
      if (!st.abortedAt) {
        st.abortedAt = isoSec(now)
        delete st.pauseConditions
        st.controllerPause = false
        st.updatedReplicas = 0
        st.availableReplicas = replicas
        st.replicas = replicas
        if (st.canary.weights) st.canary.weights = weights(name, 0, hash, st.stableRS as string)
        if (st.blueGreen.previewSelector) delete st.blueGreen.previewSelector
        const reason = (st.abortMessage as string | undefined) ?? ''
        delete st.abortMessage
        this.degraded('RolloutAborted', `Rollout aborted update to revision ${revision}${reason}`)
        this.history.push('aborted')
      }
      return
    }
    if (st.abortedAt) {
      // retry: the abort was removed; the update starts over.
      delete st.abortedAt
      if (this.steps) st.currentStepIndex = 0
      this.progressing(
        'more replicas need to be updated',
        'RolloutRetry',
        'Retrying Rollout after abort'
      )
      return
    }
    if (st.phase === 'Degraded') return
    if (o.spec.paused) {
      st.phase = 'Paused'
      st.message = 'manually paused'
      return
    }
    if (st.promoteFull) {
      delete st.promoteFull
      delete st.pauseConditions
      st.controllerPause = false
      if (this.steps) st.currentStepIndex = this.steps.length
    }
    if (this.steps) this.canary(now, hash, revision)
    else this.blueGreen(now, hash, revision)
  }

  private degradeHere(step: number, hash: string): boolean {
    const bad = this.spec.degradeAtStep
    if (!bad || bad.step !== step) return false
    const st = this.obj.status
    if (bad.how === 'analysis') {
      st.abort = true
      st.abortMessage = `: Metric "success-rate" assessed Failed due to failed (1) > failureLimit (0)`
      this.history.push(`analysis failed at step ${step}`)
    } else {
      this.degraded(
        'ProgressDeadlineExceeded',
        `ReplicaSet "${this.obj.metadata.name}-${hash}" has timed out progressing.`
      )
      this.history.push(`progress deadline exceeded at step ${step}`)
    }
    return true
  }

  private canary(now: number, hash: string, revision: string): void {
    const st = this.obj.status
    const steps = this.steps!
    const replicas = this.obj.spec.replicas as number
    const i = st.currentStepIndex as number
    if (i >= steps.length) {
      st.stableRS = hash
      st.updatedReplicas = replicas
      st.availableReplicas = replicas
      st.replicas = replicas
      if (st.canary.weights) st.canary.weights = weights(this.obj.metadata.name, 0, hash, hash)
      this.healthy(revision)
      return
    }
    if (this.degradeHere(i + 1, hash)) return
    const step = steps[i]!
    if ('setWeight' in step) {
      const want = Math.ceil((replicas * step.setWeight) / 100)
      if (st.updatedReplicas !== want) {
        st.updatedReplicas = want
        st.replicas = replicas + want
        if (st.canary.weights) {
          st.canary.weights = weights(this.obj.metadata.name, step.setWeight, hash, st.stableRS)
        }
        this.progressing(
          want < replicas ? 'more replicas need to be updated' : 'waiting for all steps to complete'
        )
        return
      }
      this.next(`step ${i + 1} setWeight ${step.setWeight}`)
      return
    }
    if (
      this.paused(
        now,
        'CanaryPauseStep',
        pauseSeconds(step.pause.duration),
        step.pause.duration !== undefined
      )
    ) {
      return
    }
    this.next(`step ${i + 1} pause done`)
  }

  private blueGreen(now: number, hash: string, revision: string): void {
    const st = this.obj.status
    const bg = this.obj.spec.strategy.blueGreen as SimRolloutSpec['blueGreen'] & object
    const replicas = this.obj.spec.replicas as number
    if (st.blueGreen.previewSelector !== hash) {
      if (this.degradeHere(1, hash)) return
      st.blueGreen.previewSelector = hash
      st.updatedReplicas = replicas
      st.replicas = 2 * replicas
      this.progressing('active service cutover pending')
      return
    }
    const manual = bg.autoPromotionEnabled === false
    const delay = manual ? 0 : (bg.autoPromotionSeconds ?? 0)
    if ((manual || delay > 0) && this.paused(now, 'BlueGreenPause', delay, !manual)) return
    st.blueGreen.activeSelector = hash
    st.stableRS = hash
    st.replicas = replicas
    this.healthy(revision)
  }

  /**
   * A pause: added on the first visit, kept until its duration has passed (timed) or
   * someone removed the condition. Returns true while paused.
   */
  private paused(now: number, reason: string, seconds: number, timed: boolean): boolean {
    const st = this.obj.status
    const cond = (st.pauseConditions as { reason: string; startTime: string }[] | undefined)?.find(
      c => c.reason === reason
    )
    if (st.controllerPause && !cond) {
      st.controllerPause = false
      this.history.push(`${reason} resumed`)
      return false
    }
    if (!cond) {
      st.pauseConditions = [{ reason, startTime: isoSec(now) }]
      this.pauses.push(isoSec(now))
      st.controllerPause = true
      st.phase = 'Paused'
      st.message = reason
      this.history.push(`${reason}${timed ? ` ${seconds}s` : ''}`)
      return true
    }
    if (timed && now > Date.parse(cond.startTime) + seconds * 1000) {
      delete st.pauseConditions
      st.controllerPause = false
      this.history.push(`${reason} duration passed`)
      return false
    }
    return true
  }

  private next(what: string): void {
    const st = this.obj.status
    st.currentStepIndex = (st.currentStepIndex as number) + 1
    this.history.push(what)
    this.progressing('more replicas need to be updated')
  }

  private progressing(message: string, reason = 'ReplicaSetUpdated', text?: string): void {
    const st = this.obj.status
    st.phase = 'Progressing'
    st.message = message
    st.conditions = [
      condition(
        'Progressing',
        'True',
        reason,
        text ?? `ReplicaSet "${this.obj.metadata.name}-${st.currentPodHash}" is progressing.`
      )
    ]
  }

  private degraded(reason: string, message: string): void {
    const st = this.obj.status
    st.phase = 'Degraded'
    st.message = `${reason}: ${message}`
    st.conditions = [condition('Progressing', 'False', reason, message)]
  }

  private healthy(revision: string): void {
    const st = this.obj.status
    st.phase = 'Healthy'
    st.message = ''
    st.conditions = [
      condition('Progressing', 'True', 'NewReplicaSetAvailable', 'Rollout has completed'),
      condition(
        'Completed',
        'True',
        'RolloutCompleted',
        `Rollout completed update to revision ${revision}`
      )
    ]
    this.history.push('healthy')
  }
}
