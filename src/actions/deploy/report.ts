/**
 * What `deploy` reports, and the only place that writes it: in GitOps mode the
 * `result`, `commit`, `pull-request-url`, `changed-files` and `updates` outputs and a
 * summary of the images written; in SSH mode the `release` and `hosts` outputs and a
 * per-host summary table.
 */
import { formatDuration } from '../../core/duration.js'
import { setOutput } from '../../core/outputs.js'
import { secrets } from '../../core/secrets.js'
import { Summary, code } from '../../core/summary.js'
import type { GitOpsResult } from '../../deploy/gitops/run.js'
import type { HostResult } from '../../deploy/ssh/deploy-host.js'
import { hostLabel } from '../../deploy/ssh/run.js'

/** The outputs and the summary of a GitOps deploy to `repository` (its slug or URL). */
export function reportGitOps({ outcome, prUrl }: GitOpsResult, repository: string): void {
  setOutput('result', outcome.status)
  setOutput('commit', outcome.status === 'pushed' ? (outcome.commit ?? '') : '')
  setOutput('pull-request-url', prUrl)
  // A JSON array: a file name may hold a newline, so lines could not be told apart.
  setOutput('changed-files', outcome.changedFiles)
  setOutput(
    'updates',
    JSON.stringify(
      Object.fromEntries(
        outcome.rows.map(r => [r.service, { old: r.old ?? null, new: r.new, files: r.files }])
      )
    )
  )
  const s = new Summary().heading(
    outcome.status === 'pushed'
      ? 'Deployed'
      : outcome.status === 'dry-run'
        ? 'Deploy (dry run: nothing pushed)'
        : 'Deploy: nothing to change'
  )
  if (outcome.rows.length > 0) {
    s.table(
      ['Service', 'Old', 'New', 'Files'],
      outcome.rows.map(r => [r.service, r.old ?? '(none)', r.new, r.files.join(', ')])
    )
  }
  if (outcome.verified && outcome.verified.length > 0) {
    s.paragraph('Verified before the push (verify-render):').list(outcome.verified)
  }
  if (outcome.skipped.length > 0) {
    s.paragraph('Skipped by the monotonic guard:').list(outcome.skipped.map(v => v.reason))
  }
  if (outcome.commit && outcome.status === 'pushed') {
    s.paragraph(
      `Commit ${code(outcome.commit)} in ${code(repository)}, ${outcome.attempts} attempt(s).`
    )
  }
  if (prUrl) s.paragraph(`Pull request: ${prUrl}`)
  if (outcome.status === 'dry-run') s.codeBlock(outcome.diff, 'diff')
  s.write()
}

/** The summary table of per-host results. */
export function summaryOf(release: string, target: string, results: HostResult[]): Summary {
  const summary = new Summary().heading(`SSH deploy of release ${code(release)} to ${code(target)}`)
  summary.table(
    ['Host', 'Status', 'Previous', 'Files', 'Script exit', 'Pruned', 'Duration', 'Detail'],
    results.map(r => [
      hostLabel(r),
      r.status,
      r.previous ?? '',
      `${r.files} (${r.bytes} B)`,
      r.exitCode ?? '',
      r.pruned.length,
      formatDuration(r.durationMs),
      r.error ?? ''
    ])
  )
  return summary
}

/** The outputs and the summary of an SSH deploy of `release` to `target` on each host. */
export function reportSsh(release: string, target: string, results: HostResult[]): void {
  setOutput('release', release)
  setOutput(
    'hosts',
    results.map(r => ({
      host: r.host,
      port: r.port,
      status: r.status,
      release: r.release,
      previous: r.previous ?? null,
      hostKey: r.hostKey ?? null,
      files: r.files,
      bytes: r.bytes,
      exitCode: r.exitCode ?? null,
      pruned: r.pruned,
      durationMs: r.durationMs,
      // Free text (a host's or the script's words): redacted visibly, as in the log.
      error: r.error !== undefined ? secrets.redact(r.error) : null
    }))
  )
  summaryOf(release, target, results).write()
}
