/**
 * What `argocd-sync` reports, and the only place that writes it: the `result` and
 * `applications` outputs (per app, with every source's revisions and its Argo
 * Rollouts) and the step summary (a table per app, one row per source of a
 * multi-source app, and each Rollout's steps with times).
 */
import type { AppResult } from '../../argocd/result.js'
import type { SyncRun } from '../../argocd/run.js'
import { formatDuration } from '../../core/duration.js'
import { setOutput } from '../../core/outputs.js'
import { secrets } from '../../core/secrets.js'
import { Summary, code, inline } from '../../core/summary.js'

/** Every output and the summary of a run that reached a verdict for each app. */
export function report(run: SyncRun, server: string): void {
  setOutput('applications', applicationsOutput(run.results, secrets))
  setOutput('result', run.result)
  writeSummary(run.results, run.result, server)
}

/** `result: failed` when no app got as far as a verdict, so later steps can branch on it. */
export function reportFailed(): void {
  setOutput('result', 'failed')
}

/** The `applications` output: an object keyed by application name. */
export function applicationsOutput(
  results: readonly AppResult[],
  secrets: { redact(text: string): string }
): Record<string, object> {
  const out: Record<string, object> = {}
  for (const r of results) {
    out[r.name] = {
      result: r.result,
      phase: r.phase,
      sync: r.sync,
      health: r.health,
      revision: r.revision,
      requested: r.requested,
      revisions: r.revisions,
      duration: formatDuration(r.durationMs),
      durationMs: r.durationMs,
      // Free text from the server: redacted visibly, as in the log.
      message: secrets.redact(r.message),
      rollouts: r.rollouts.map(x => ({
        name: x.name,
        namespace: x.namespace,
        result: x.result,
        step: x.step ?? null,
        steps: x.steps ?? null
      }))
    }
  }
  return out
}

/** The step summary: a heading and a table per app. */
export function writeSummary(results: readonly AppResult[], result: string, server: string): void {
  const s = new Summary().heading(`Argo CD sync: ${result}`, 3)
  s.paragraph(`Server ${code(server)}, ${results.length} application(s).`)
  for (const r of results) {
    const icon = r.result === 'succeeded' ? '✅' : r.result === 'failed' ? '❌' : '⏱️'
    s.heading(`${icon} ${r.name}`, 4)
    s.table(
      ['result', 'phase', 'sync', 'health', 'revision', 'duration'],
      [
        [
          r.result,
          r.phase,
          r.sync,
          r.health,
          r.revision ? r.revision.slice(0, 12) : '',
          formatDuration(r.durationMs)
        ]
      ]
    )
    if (r.revisions.length > 1) {
      s.table(
        ['source', 'live revision', 'requested'],
        r.revisions.map(x => [
          `${x.name ? `${x.name}: ` : ''}${x.source}${x.ours ? ' (ours)' : ''}`,
          x.revision,
          x.requested
        ])
      )
    }
    s.paragraph(inline(r.message))
    for (const x of r.rollouts) {
      const where = x.step !== undefined ? `, step ${x.step} of ${x.steps}` : ''
      const weight = x.weight !== undefined ? `, canary weight ${x.weight}%` : ''
      s.paragraph(`Rollout ${code(`${x.namespace}/${x.name}`)}: ${x.result}${where}${weight}`)
      s.table(
        ['time (UTC)', 'step'],
        x.events.map(e => [clock(e.at), e.text])
      )
    }
    if (r.resources.length > 0) {
      s.table(
        ['unhealthy or failed resource'],
        r.resources.map(x => [x])
      )
    }
  }
  s.write()
}

/** `HH:MM:SS` (UTC) of a time. */
function clock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19)
}
