/**
 * `argocd-sync`: sync Argo CD applications and succeed only when the cluster runs
 * the requested revision, synced and healthy. This entry reads the inputs, runs the
 * sync (src/argocd/run.ts) and reports it.
 */
import { syncApplications, type SyncJob } from '../../argocd/run.js'
import { runMain } from '../../core/run.js'
import { getInputs, type Inputs } from './inputs.js'
import { report, reportFailed } from './report.js'

/** The sync job the inputs describe. */
function jobOf(inputs: Inputs): SyncJob {
  return {
    connection: {
      server: inputs.server,
      token: inputs.token,
      username: inputs.username,
      password: inputs.password,
      ca: inputs.ca,
      insecure: inputs.insecure,
      headers: inputs.headers
    },
    applications: inputs.applications,
    selector: inputs.selector,
    concurrency: inputs.concurrency,
    settings: {
      scope: { appNamespace: inputs.appNamespace, project: inputs.project },
      revision: inputs.revision,
      source: inputs.source,
      request: {
        ...(inputs.prune ? { prune: true } : {}),
        ...(inputs.dryRun ? { dryRun: true } : {}),
        ...(inputs.force ? { strategy: { hook: { force: true } } } : {}),
        ...(inputs.syncOptions.length ? { syncOptions: { items: inputs.syncOptions } } : {}),
        ...(inputs.resources.length ? { resources: inputs.resources } : {})
      },
      refresh: inputs.refresh,
      waitFor: inputs.waitFor,
      healthyStates: inputs.healthyStates,
      timeoutMs: inputs.timeoutMs,
      degradedGraceMs: inputs.degradedGraceMs,
      onTimeout: inputs.onTimeout,
      onRunningOperation: inputs.onRunningOperation,
      watch: inputs.watch,
      pollIntervalMs: inputs.pollIntervalMs,
      rollout: {
        mode: inputs.rollout,
        pauseMinMs: inputs.rolloutPauseMinMs,
        abortOnDegraded: inputs.abortOnDegraded
      }
    }
  }
}

/** The action's entry point. */
export async function run(): Promise<void> {
  await runMain('argocd-sync', async log => {
    let inputs: Inputs
    try {
      inputs = getInputs()
    } catch (error) {
      // Later steps can branch on `result` even when the inputs were wrong.
      reportFailed()
      throw error
    }
    if (inputs.cleartextWarning) log.warning(inputs.cleartextWarning)
    if (inputs.insecure) {
      log.warning(
        'input "insecure" is true: TLS certificates of the Argo CD server are not verified; use "ca-cert" instead'
      )
    }
    let run
    try {
      run = await syncApplications(jobOf(inputs), log)
    } catch (error) {
      // Later steps can branch on `result` even when no app got as far as a verdict.
      reportFailed()
      throw error
    }
    report(run, inputs.server)
    if (run.result !== 'succeeded') {
      const bad = run.results
        .filter(r => r.result !== 'succeeded')
        .map(r => `${r.name} ${r.result}: ${r.message}`)
      throw new Error(bad.join('; '))
    }
  })
}
