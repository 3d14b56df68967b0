/**
 * `plan`: which services changed between a base and the head, as a build matrix,
 * with the reason for every selection. Pure git; a token only for the opt-in
 * base-from-last-success. This entry reads the inputs and the run, runs the plan
 * (src/plan/run.ts) and reports it.
 */
import { apiUrl, readEventPayload, serverUrl } from '../../core/context.js'
import { runMain } from '../../core/run.js'
import { runPlan } from '../../plan/run.js'
import { getInputs } from './inputs.js'
import { report } from './report.js'

/** Run the plan action. */
export async function run(): Promise<void> {
  await runMain('plan', async log => {
    const inputs = getInputs()
    const env = process.env
    const suffix = (env.GITHUB_ACTION ?? 'plan').replace(/[^A-Za-z0-9_-]/g, '_')
    const plan = await runPlan(
      {
        workingDirectory: inputs.workingDirectory,
        workspace: inputs.workspace,
        servicesFile: inputs.config,
        requireServicesFile: inputs.requireConfig,
        maxJobs: inputs.maxJobs,
        run: {
          eventName: env.GITHUB_EVENT_NAME ?? '',
          event: readEventPayload(env),
          ref: env.GITHUB_REF ?? '',
          sha: env.GITHUB_SHA ?? '',
          inputBase: inputs.base,
          tags: inputs.tags,
          baseFromLastSuccess: inputs.baseFromLastSuccess
        },
        token: inputs.token,
        serverUrl: serverUrl(env),
        lastSuccess: {
          apiUrl: apiUrl(env),
          repository: env.GITHUB_REPOSITORY ?? '',
          workflowRef: env.GITHUB_WORKFLOW_REF,
          runId: env.GITHUB_RUN_ID
        },
        listName: `plan-changed-files-${suffix}.json`
      },
      log
    )
    report(plan)
  })
}
