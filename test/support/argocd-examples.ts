/**
 * The example shop's Argo CD Applications (examples/argocd/*.yaml) as simulator apps,
 * so tests and the demo sync the same applications the README documents: their
 * names, labels, projects and sources (one, or several for a multi-source app), and
 * an Argo Rollouts Rollout where the service's manifest in examples/config-repo/base
 * is one (its name, replicas and canary steps).
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse, parseAllDocuments } from 'yaml'
import type {
  Scenario,
  SimAppSpec,
  SimCanaryStep,
  SimRolloutSpec,
  SimSourceSpec
} from './argocd-sim.js'

/** Where the example Application manifests live. */
export const EXAMPLES_DIR = join(import.meta.dirname, '..', '..', 'examples', 'argocd')

/** One source of an example manifest. */
export interface ExampleSource {
  repoURL: string
  targetRevision: string
  path?: string
  chart?: string
  ref?: string
  name?: string
  helm?: { releaseName?: string; valueFiles?: string[] }
}

/** One parsed example manifest. */
export interface ExampleApplication {
  apiVersion: string
  kind: string
  metadata: { name: string; namespace?: string; labels?: Record<string, string> }
  spec: {
    project: string
    source?: ExampleSource
    sources?: ExampleSource[]
    destination: { server: string; namespace: string }
  }
}

/** Every example manifest, sorted by file name. */
export function exampleApplications(): ExampleApplication[] {
  return readdirSync(EXAMPLES_DIR)
    .filter(f => f.endsWith('.yaml'))
    .sort()
    .map(f => parse(readFileSync(join(EXAMPLES_DIR, f), 'utf8')) as ExampleApplication)
}

function simSource(s: ExampleSource): SimSourceSpec {
  return {
    repoURL: s.repoURL,
    targetRevision: s.targetRevision,
    ...(s.path ? { path: s.path } : {}),
    ...(s.chart ? { chart: s.chart } : {}),
    ...(s.ref ? { ref: s.ref } : {}),
    ...(s.name ? { name: s.name } : {}),
    ...(s.helm?.valueFiles ? { helm: { valueFiles: s.helm.valueFiles } } : {})
  }
}

/** The config repository's base manifests, one file per service. */
export const CONFIG_BASE_DIR = join(
  import.meta.dirname,
  '..',
  '..',
  'examples',
  'config-repo',
  'base'
)

/** The Rollout of a service's base manifest, when its workload is one. */
export function exampleRollout(service: string | undefined): SimRolloutSpec | undefined {
  if (!service) return undefined
  let text: string
  try {
    text = readFileSync(join(CONFIG_BASE_DIR, `${service}.yaml`), 'utf8')
  } catch {
    return undefined
  }
  const docs = parseAllDocuments(text).map(d => d.toJS() as Record<string, never>)
  const r = docs.find(d => d?.kind === 'Rollout') as
    | {
        metadata: { name: string }
        spec: { replicas?: number; strategy: { canary?: { steps: SimCanaryStep[] } } }
      }
    | undefined
  if (!r) return undefined
  return {
    name: r.metadata.name,
    ...(r.spec.replicas ? { replicas: r.spec.replicas } : {}),
    ...(r.spec.strategy.canary ? { canary: { steps: r.spec.strategy.canary.steps } } : {})
  }
}

/** The examples as simulator apps, with an optional scenario per app name. */
export function simAppsFromExamples(scenarios: Record<string, Scenario> = {}): SimAppSpec[] {
  return exampleApplications().map(a => ({
    name: a.metadata.name,
    namespace: a.metadata.namespace,
    project: a.spec.project,
    labels: a.metadata.labels,
    ...(a.spec.sources
      ? { sources: a.spec.sources.map(simSource) }
      : { source: simSource(a.spec.source!) }),
    ...(scenarios[a.metadata.name] ? { scenario: scenarios[a.metadata.name] } : {}),
    ...rolloutOf(a)
  }))
}

function rolloutOf(a: ExampleApplication): { rollout?: SimRolloutSpec } {
  const rollout = exampleRollout(a.metadata.labels?.['conveyor.dev/service'])
  return rollout ? { rollout } : {}
}
