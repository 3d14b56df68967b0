/**
 * An app's Rollout in the Argo CD simulator: the live object it starts from (the
 * fields Argo Rollouts v1.x writes for a fully promoted Rollout), the controller
 * reconciling it on a timer, and its health carried into the app (status.resources
 * and the app's health, the worst of its resources' as controller/health.go
 * `setApplicationHealth` computes it).
 */
import { createHash } from 'node:crypto'
import type { AppState } from './argocd-sim-app.js'
import { fakeSha } from './argocd-sim-repos.js'
import type { RolloutObj } from './argocd-sim-rollout-lua.js'
import { DEFAULT_STEPS, SimRollout, type SimRolloutSpec } from './argocd-sim-rollout.js'
import { condition, podHash, weights } from './argocd-sim-rollout-fields.js'

/** A fully promoted Rollout running `image`. */
export function newRolloutObject(
  spec: SimRolloutSpec,
  app: string,
  namespace: string,
  image: string
): RolloutObj {
  const name = spec.name ?? app
  const replicas = spec.replicas ?? 4
  const hash = podHash(image)
  const strategy = spec.blueGreen
    ? {
        blueGreen: {
          activeService: `${name}-active`,
          previewService: `${name}-preview`,
          ...spec.blueGreen
        }
      }
    : {
        canary: {
          steps: spec.canary?.steps ?? DEFAULT_STEPS,
          ...(spec.canary?.trafficRouting
            ? {
                canaryService: `${name}-canary`,
                stableService: `${name}-stable`,
                trafficRouting: { nginx: { stableIngress: name } }
              }
            : {})
        }
      }
  const steps = strategy.canary?.steps.length
  const obj: RolloutObj = {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: {
      name,
      namespace,
      uid: fakeSha(`${app}-rollout-uid`).replace(
        /^(.{8})(.{4})(.{4})(.{4})(.{12}).*/,
        '$1-$2-$3-$4-$5'
      ),
      generation: 1,
      resourceVersion: '1000',
      annotations: { 'rollout.argoproj.io/revision': '1' },
      labels: { 'app.kubernetes.io/instance': app }
    },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      strategy,
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name, image, ports: [{ containerPort: 8080 }] }] }
      }
    },
    status: {
      observedGeneration: '1',
      replicas,
      updatedReplicas: replicas,
      readyReplicas: replicas,
      availableReplicas: replicas,
      HPAReplicas: replicas,
      currentPodHash: hash,
      stableRS: hash,
      selector: `app=${name}`,
      phase: 'Healthy',
      message: '',
      conditions: [
        condition('Progressing', 'True', 'NewReplicaSetAvailable', 'Rollout has completed')
      ],
      ...(steps !== undefined ? { currentStepIndex: steps, canary: {} } : { canary: {} }),
      blueGreen: spec.blueGreen ? { activeSelector: hash } : {}
    }
  }
  if (spec.canary?.trafficRouting) obj.status.canary.weights = weights(name, 0, hash, hash)
  return obj
}

/** Argo CD's health order, best first (gitops-engine `health.healthOrder`). */
const HEALTH_ORDER = ['Healthy', 'Suspended', 'Progressing', 'Missing', 'Degraded', 'Unknown']

/**
 * The Rollout's health in the app: its `status.resources` entry, and the app's health
 * as the worst of its resources' (controller/health.go `setApplicationHealth`).
 */
export function rolloutHealthToApp(st: AppState, at: string): void {
  const r = st.rollout
  if (!r) return
  const s = st.obj.status
  const h = r.health()
  const entry = s.resources.find(x => x.kind === 'Rollout' && x.group === 'argoproj.io')
  if (entry) entry.health = { status: h.status, ...(h.message ? { message: h.message } : {}) }
  let worst = 'Healthy'
  for (const x of s.resources) {
    const status = (x.health as { status?: string } | undefined)?.status
    if (status && HEALTH_ORDER.indexOf(status) > HEALTH_ORDER.indexOf(worst)) worst = status
  }
  const prev = s.health as { status?: string; lastTransitionTime?: string }
  if (prev.status !== worst) s.health = { status: worst, lastTransitionTime: at }
}

/**
 * Give an app its Rollout: the live object at the image it runs now, and the Argo
 * Rollouts controller reconciling it every `stepMs` (its changes reach the app's
 * health and the watchers; `settled` is told each time a revision comes to rest).
 */
export function attachRollout(
  st: AppState,
  image: string,
  stepMs: number,
  hooks: { emit: () => void; settled: () => void; now: () => number; iso: (ms: number) => string }
): SimRollout {
  let resting = true
  const spec = st.spec.rollout!
  const obj = newRolloutObject(spec, st.spec.name, 'shop', image)
  const rollout = new SimRollout(spec, obj, () => {
    rolloutHealthToApp(st, hooks.iso(hooks.now()))
    hooks.emit()
    const now = rollout.settled()
    if (now && !resting) hooks.settled()
    resting = now
  })
  st.rollout = rollout
  const timer = setInterval(() => rollout.tick(hooks.now()), stepMs)
  st.timers.add(timer)
  return rollout
}

/**
 * The image a Rollout runs at a manifests identity (the commit that last changed it):
 * tagged with a digest of the whole identity (the simulator's fake SHAs of one app
 * share their first characters).
 */
export function rolloutImage(app: string, identity: string): string {
  const tag = createHash('sha256').update(identity).digest('hex').slice(0, 7)
  return `registry.example.com/acme/${app}:${tag}`
}
