/**
 * Fields the Argo Rollouts controller writes into a Rollout (argoproj/argo-rollouts):
 * the pod template hash (`controller.ComputeHash`, `rand.SafeEncodeString`), the
 * conditions of utils/conditions/conditions.go, the canary weights of traffic routing
 * (`status.canary.weights`), and pause durations (`DurationSeconds`).
 */
import { createHash } from 'node:crypto'
import type { RolloutObj } from './argocd-sim-rollout-lua.js'

/** Seconds of a pause duration: a number, or a Go duration string (`DurationSeconds`). */
export function pauseSeconds(d: number | string | undefined): number {
  if (typeof d === 'number') return d
  if (d === undefined) return 0
  if (/^\d+$/.test(d)) return Number(d)
  const units: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 0.001 }
  let total = 0
  for (const m of d.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)) total += Number(m[1]) * units[m[2]!]!
  return Math.floor(total)
}

/**
 * The pod template hash of an image (what the ReplicaSet is named after): a hash of
 * the template in Kubernetes' `rand.SafeEncodeString` alphabet, as "6df79499bc".
 */
export function podHash(image: string): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789'
  const bytes = createHash('sha256').update(image).digest()
  return [...bytes.subarray(0, 10)].map(b => alphabet[b % alphabet.length]).join('')
}

export function condition(
  type: string,
  status: string,
  reason: string,
  message: string
): RolloutObj {
  return { type, status, reason, message }
}

export function weights(
  name: string,
  canary: number,
  canaryHash: string,
  stableHash: string
): RolloutObj {
  return {
    canary: { weight: canary, serviceName: `${name}-canary`, podTemplateHash: canaryHash },
    stable: { weight: 100 - canary, serviceName: `${name}-stable`, podTemplateHash: stableHash }
  }
}
