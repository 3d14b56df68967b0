/**
 * Argo CD's built-in Lua for Argo Rollouts, ported line by line to TypeScript for the
 * simulator (argoproj/argo-cd at 37ee0097cf85, resource_customizations/argoproj.io/
 * Rollout): `health.lua` (the health Argo CD gives a Rollout: the Rollout's own
 * `status.phase`/`message` from v1.0 on, Paused read as Suspended), `actions/
 * discovery.lua` (the actions the API lists, each with its `disabled` flag) and each
 * `actions/<name>/action.lua` (what running it does to the live object). Tested
 * against Argo CD's own tables (test/fixtures/argocd/rollout: health_test.yaml,
 * actions/action_test.yaml).
 *
 * Lua semantics kept: `tonumber` of a hash such as "6df79499bc" is nil; a field set to
 * nil disappears; `ipairs(nil)` would raise, read here as no conditions.
 */

/** A Rollout (or any Kubernetes object) as plain JSON. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type RolloutObj = Record<string, any>

/** The health Argo CD gives a resource. */
export interface LuaHealth {
  status: string
  message?: string
}

/** One entry of the actions list (`ResourceAction`: `disabled` left out when false). */
export interface LuaAction {
  name: string
  disabled?: boolean
  displayName?: string
}

/** Lua's `tonumber` for the values a Rollout holds: nil for a non-numeric string. */
export function tonumber(v: unknown): number | undefined {
  if (typeof v === 'number') return v
  if (typeof v !== 'string' || v.trim() === '') return undefined
  const n = Number(v.trim())
  return Number.isNaN(n) ? undefined : n
}

const orDefault = <T>(v: T | undefined | null, d: T): T => (v === undefined || v === null ? d : v)

function isGenerationObserved(obj: RolloutObj): boolean {
  if (obj.status === undefined || obj.status === null) return false
  const observed = tonumber(obj.status.observedGeneration)
  if (observed === undefined || observed > obj.metadata.generation) return true
  return observed === obj.metadata.generation
}

function isWorkloadGenerationObserved(obj: RolloutObj): boolean {
  if (!obj.spec.workloadRef || !obj.metadata.annotations) return true
  const workloadGen = tonumber(obj.metadata.annotations['rollout.argoproj.io/workload-generation'])
  return workloadGen === tonumber(obj.status.workloadObservedGeneration)
}

function stableRSOf(obj: RolloutObj): string {
  if (obj.status.stableRS !== undefined && obj.status.stableRS !== null) return obj.status.stableRS
  if (obj.status.canary) return orDefault(obj.status.canary.stableRS, '')
  return ''
}

/** `health.lua`. */
export function rolloutHealth(obj: RolloutObj): LuaHealth {
  if (!isGenerationObserved(obj) || !isWorkloadGenerationObserved(obj)) {
    return { status: 'Progressing', message: 'Waiting for rollout spec update to be observed' }
  }
  const st = obj.status
  if (st.phase !== undefined && st.phase !== null) {
    return {
      status: st.phase === 'Paused' ? 'Suspended' : st.phase,
      ...(st.message !== undefined ? { message: st.message } : {})
    }
  }
  for (const c of (st.conditions ?? []) as RolloutObj[]) {
    if (c.type === 'InvalidSpec') return { status: 'Degraded', message: c.message }
    if (
      c.type === 'Progressing' &&
      (c.reason === 'RolloutAborted' || c.reason === 'ProgressDeadlineExceeded')
    ) {
      return { status: 'Degraded', message: c.message }
    }
  }
  if ((st.pauseConditions?.length ?? 0) > 0 || obj.spec.paused === true) {
    return { status: 'Suspended', message: 'Rollout is paused' }
  }
  if (st.currentPodHash === undefined || st.currentPodHash === null) {
    return {
      status: 'Progressing',
      message: 'Waiting for rollout to finish: status has not been reconciled.'
    }
  }
  const desired = orDefault<number>(obj.spec.replicas, 1)
  const statusReplicas = orDefault<number>(st.replicas, 0)
  const updated = orDefault<number>(st.updatedReplicas, 0)
  const available = orDefault<number>(st.availableReplicas, 0)
  if (updated < desired) {
    return {
      status: 'Progressing',
      message: 'Waiting for roll out to finish: More replicas need to be updated'
    }
  }
  if (available < updated) {
    return {
      status: 'Progressing',
      message: 'Waiting for roll out to finish: updated replicas are still becoming available'
    }
  }
  const stableRS = stableRSOf(obj)
  if (obj.spec.strategy.blueGreen !== undefined && obj.spec.strategy.blueGreen !== null) {
    if (!st.blueGreen || st.blueGreen.activeSelector !== st.currentPodHash) {
      return { status: 'Progressing', message: 'active service cutover pending' }
    }
    if (stableRS !== '' && stableRS !== st.currentPodHash) {
      return { status: 'Progressing', message: 'waiting for analysis to complete' }
    }
  } else if (obj.spec.strategy.canary !== undefined && obj.spec.strategy.canary !== null) {
    if (statusReplicas > updated) {
      return {
        status: 'Progressing',
        message: 'Waiting for roll out to finish: old replicas are pending termination'
      }
    }
    if (stableRS === '' || stableRS !== st.currentPodHash) {
      return { status: 'Progressing', message: 'Waiting for rollout to finish steps' }
    }
  }
  return { status: 'Healthy', message: '' }
}

/** `actions/discovery.lua`, as `ListResourceActions` answers it (false flags left out). */
export function rolloutActions(obj: RolloutObj): LuaAction[] {
  const st = obj.status ?? {}
  let paused = false
  if (obj.status && obj.status.pauseConditions !== undefined && obj.status.pauseConditions !== null)
    paused = obj.status.pauseConditions.length > 0
  else if (obj.spec.paused !== undefined && obj.spec.paused !== null) paused = obj.spec.paused
  const fullyPromoted = st.currentPodHash === st.stableRS
  let promoteFull = true
  if (obj.status && !fullyPromoted) {
    const generation = tonumber(st.observedGeneration)
    promoteFull =
      generation === undefined || generation > obj.metadata.generation
        ? Boolean(obj.spec.strategy.blueGreen)
        : false
  }
  const canary = obj.spec.strategy.canary
  const flags: [string, boolean, string?][] = [
    ['restart', false, 'Restart Pods'],
    ['resume', !paused],
    ['abort', Boolean(fullyPromoted || st.abort)],
    ['retry', Boolean(fullyPromoted || !st.abort)],
    ['pause', Boolean(fullyPromoted || st.abort || obj.spec.paused)],
    ['promote-full', promoteFull],
    ['skip-current-step', !canary || !canary.steps || st.currentStepIndex === canary.steps.length]
  ]
  return flags.map(([name, disabled, displayName]) => ({
    name,
    ...(disabled ? { disabled: true } : {}),
    ...(displayName ? { displayName } : {})
  }))
}

/** The built-in actions' `action.lua`: the object after running `action` (a copy). */
export function runRolloutAction(obj: RolloutObj, action: string, now: Date): RolloutObj {
  const o = JSON.parse(JSON.stringify(obj)) as RolloutObj
  switch (action) {
    case 'resume':
      if ((o.status.pauseConditions?.length ?? 0) > 0) delete o.status.pauseConditions
      if (o.spec.paused) o.spec.paused = false
      return o
    case 'abort':
      o.status.abort = true
      return o
    case 'retry':
      delete o.status.abort
      return o
    case 'pause':
      o.spec.paused = true
      return o
    case 'restart':
      o.spec.restartAt = now.toISOString().replace(/\.\d{3}Z$/, 'Z')
      return o
    case 'promote-full': {
      if (!o.status) return o
      const generation = tonumber(o.status.observedGeneration)
      if (generation === undefined || generation > o.metadata.generation) {
        delete o.status.abort
        if (o.spec.strategy.canary.steps)
          o.status.currentStepIndex = o.spec.strategy.canary.steps.length
      } else o.status.promoteFull = true
      return o
    }
    case 'skip-current-step': {
      const steps = o.spec.strategy.canary?.steps
      if (o.status && steps && o.status.currentStepIndex < steps.length) {
        if ((o.status.pauseConditions?.length ?? 0) > 0) delete o.status.pauseConditions
        o.status.currentStepIndex = o.status.currentStepIndex + 1
      }
      return o
    }
  }
  throw new Error(`no built-in action ${action}`)
}
