/**
 * The opt-in base for scheduled and manual runs: the head commit of the last
 * successful run of this workflow on this branch, from the GitHub REST API. One or
 * two GET requests with a timeout; the token travels only in the Authorization header.
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
  timeoutMs?: number
  log: Logger
}

/** The workflow file name of a GITHUB_WORKFLOW_REF. */
export function workflowFile(workflowRef: string | undefined): string | undefined {
  const m = /\/\.github\/workflows\/([^@/]+)@/.exec(workflowRef ?? '')
  return m?.[1]
}

async function getJson(url: string, o: LastSuccessOptions): Promise<unknown> {
  const res = await fetch(url, {
    headers: {
      Accept: 'application/vnd.github+json',
      Authorization: `Bearer ${o.token}`,
      'X-GitHub-Api-Version': '2022-11-28',
      'User-Agent': 'conveyor-plan'
    },
    signal: AbortSignal.timeout(o.timeoutMs ?? 15_000)
  })
  if (!res.ok) {
    throw new Error(
      `GET ${url.replace(/\?.*/, '')} answered ${res.status}${res.status === 403 || res.status === 404 ? ' (does the token have actions: read?)' : ''}`
    )
  }
  return res.json()
}

/** The head sha of the last successful run, or undefined (none, or the API failed: a warning). */
export async function lastSuccessfulSha(o: LastSuccessOptions): Promise<string | undefined> {
  const api = o.apiUrl.replace(/\/+$/, '')
  const repo = o.repository.split('/').map(encodeURIComponent).join('/')
  try {
    let workflow: string | number | undefined = workflowFile(o.workflowRef)
    if (workflow === undefined && o.runId) {
      const run = (await getJson(
        `${api}/repos/${repo}/actions/runs/${encodeURIComponent(o.runId)}`,
        o
      )) as { workflow_id?: number }
      workflow = run.workflow_id
    }
    if (workflow === undefined) {
      o.log.warning(
        'base-from-last-success: cannot tell which workflow this is (no GITHUB_WORKFLOW_REF)'
      )
      return undefined
    }
    const q = new URLSearchParams({ status: 'success', per_page: '1' })
    if (o.branch) q.set('branch', o.branch)
    const body = (await getJson(
      `${api}/repos/${repo}/actions/workflows/${encodeURIComponent(String(workflow))}/runs?${q}`,
      o
    )) as {
      workflow_runs?: { head_sha?: string; id?: number }[]
    }
    const sha = body.workflow_runs?.[0]?.head_sha
    if (sha && /^[0-9a-f]{40}([0-9a-f]{24})?$/.test(sha)) {
      o.log.info(`last successful run ${body.workflow_runs![0]!.id ?? ''} was at ${sha}`)
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
