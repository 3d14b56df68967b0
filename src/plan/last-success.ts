/**
 * The opt-in base for scheduled and manual runs: the head commit of the last
 * successful run of this workflow on this branch, from the GitHub REST API through
 * Octokit (core/github.ts: the proxy, CA and retries of every other call). One or two
 * GET requests within one time limit; the token travels only in the Authorization header.
 * Octokit is loaded only when the lookup runs: most plans never ask, and loading it costs
 * every plan's start-up about 150 ms.
 */
import type { Logger } from '../core/logger.js'

/** Where and how to ask. */
export interface LastSuccessOptions {
  apiUrl: string
  /** owner/name. */
  repository: string
  /** GITHUB_WORKFLOW_REF (owner/name/.github/workflows/ci.yml@refs/heads/main). */
  workflowRef?: string
  /** GITHUB_RUN_ID, used when the workflow ref is unknown. */
  runId?: string
  branch?: string
  token: string
  /** The limit of the whole lookup, retries included, in ms (default 15 s). */
  timeoutMs?: number
  log: Logger
  /** The back-off's wait; tests speed it up. */
  sleep?: (ms: number) => Promise<void>
}

/** The workflow file name of a GITHUB_WORKFLOW_REF. */
export function workflowFile(workflowRef: string | undefined): string | undefined {
  const m = /\/\.github\/workflows\/([^@/]+)@/.exec(workflowRef ?? '')
  return m?.[1]
}

/** One GET; a failure says which route answered what, and what the token may lack. */
async function get<T>(route: () => Promise<{ data: T }>): Promise<T> {
  const { callFailure } = await import('../core/github.js')
  try {
    return (await route()).data
  } catch (error) {
    const { status } = callFailure(error)
    const url = String((error as { request?: { url?: string } }).request?.url ?? '')
    throw new Error(
      `GET ${url.replace(/\?.*/, '')} answered ${status}${status === 403 || status === 404 ? ' (does the token have actions: read?)' : ''}`
    )
  }
}

/** The head sha of the last successful run, or undefined (none, or the API failed: a warning). */
export async function lastSuccessfulSha(o: LastSuccessOptions): Promise<string | undefined> {
  const [owner = '', repo = ''] = o.repository.split('/')
  const timeoutMs = o.timeoutMs ?? 15_000
  try {
    const { createOctokit } = await import('../core/github.js')
    const octokit = createOctokit({
      token: o.token,
      apiUrl: o.apiUrl,
      log: o.log,
      timeoutMs,
      deadline: Date.now() + timeoutMs,
      sleep: o.sleep
    })
    let workflow: string | number | undefined = workflowFile(o.workflowRef)
    if (workflow === undefined && o.runId) {
      const run = await get(() =>
        octokit.rest.actions.getWorkflowRun({ owner, repo, run_id: Number(o.runId) })
      )
      workflow = run.workflow_id
    }
    if (workflow === undefined) {
      o.log.warning(
        'base-from-last-success: cannot tell which workflow this is (no GITHUB_WORKFLOW_REF)'
      )
      return undefined
    }
    const body = await get(() =>
      octokit.rest.actions.listWorkflowRuns({
        owner,
        repo,
        workflow_id: workflow,
        status: 'success',
        per_page: 1,
        ...(o.branch ? { branch: o.branch } : {})
      })
    )
    const last = body.workflow_runs[0]
    const sha = last?.head_sha
    if (sha && /^[0-9a-f]{40}([0-9a-f]{24})?$/.test(sha)) {
      o.log.info(`last successful run ${last.id ?? ''} was at ${sha}`)
      return sha
    }
    o.log.info('no successful run of this workflow found')
    return undefined
  } catch (error) {
    o.log.warning(
      `base-from-last-success: ${error instanceof Error ? error.message : String(error)}; planning every service`
    )
    return undefined
  }
}
