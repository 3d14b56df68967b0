/**
 * What the argocd-sync end-to-end tests share: a simulator per test with the test
 * token, a run of the committed bundle against it with quick timings, the parsed
 * `applications` output, and the cleanup of both after each test.
 */
import { rmSync } from 'node:fs'
import { dirname } from 'node:path'
import { runAction, type ActionRun, type RunOptions } from './harness.js'
import { startArgoSim, type ArgoSim, type SimOptions } from './argocd-sim.js'

/** The token the end-to-end simulators accept. */
export const E2E_TOKEN = 'argocd-e2e-token-0123456789'

/** One app of the `applications` output. */
export interface AppOut {
  result: string
  requested: string
  phase: string
  sync: string
  health: string
  revision: string
  revisions: { source: string; name?: string; revision: string; requested: string; ours: boolean }[]
  durationMs: number
  message: string
}

/** The simulators and runs of one test file, with their cleanup. */
export function argocdE2E(): {
  sim(options: SimOptions): Promise<ArgoSim>
  sync(s: ArgoSim, inputs: Record<string, string>, options?: RunOptions): Promise<ActionRun>
  cleanup(): Promise<void>
} {
  const sims: ArgoSim[] = []
  const runs: ActionRun[] = []
  return {
    async sim(options) {
      const s = await startArgoSim({ tokens: [E2E_TOKEN], stepMs: 30, ...options })
      sims.push(s)
      return s
    },
    async sync(s, inputs, options = {}) {
      const run = await runAction('argocd-sync', {
        inputs: {
          server: s.url,
          token: E2E_TOKEN,
          'poll-interval': '200ms',
          timeout: '20s',
          'degraded-grace': '2s',
          ...inputs
        },
        timeoutMs: 60_000,
        ...options
      })
      runs.push(run)
      return run
    },
    async cleanup() {
      await Promise.all(sims.splice(0).map(s => s.stop()))
      // The harness makes one temp dir per run (runner temp, workspace, file commands).
      for (const run of runs.splice(0))
        rmSync(dirname(run.runnerTemp), { recursive: true, force: true })
    }
  }
}

/** The `applications` output of a run, by app name. */
export const appsOf = (run: ActionRun): Record<string, AppOut> =>
  JSON.parse(run.main.outputs.applications ?? '{}') as Record<string, AppOut>
