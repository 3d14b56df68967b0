/**
 * The example shop's Argo CD Applications (examples/argocd/*.yaml) as simulator apps,
 * so tests and the demo sync the same applications the README documents.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import type { Scenario, SimAppSpec } from './argocd-sim.js'

/** Where the example Application manifests live. */
export const EXAMPLES_DIR = join(import.meta.dirname, '..', '..', 'examples', 'argocd')

/** One parsed example manifest. */
export interface ExampleApplication {
  apiVersion: string
  kind: string
  metadata: { name: string; namespace?: string; labels?: Record<string, string> }
  spec: {
    project: string
    source: { repoURL: string; targetRevision: string; path: string }
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

/** The examples as simulator apps, with an optional scenario per app name. */
export function simAppsFromExamples(scenarios: Record<string, Scenario> = {}): SimAppSpec[] {
  return exampleApplications().map(a => ({
    name: a.metadata.name,
    namespace: a.metadata.namespace,
    project: a.spec.project,
    labels: a.metadata.labels,
    ...(scenarios[a.metadata.name] ? { scenario: scenarios[a.metadata.name] } : {})
  }))
}
