/**
 * A whole GitOps deploy: the config repository cloned (sparse where it can be), the
 * source commit times filled in, the images written, committed and pushed by the
 * write loop, and in pull-request mode the pull request opened or updated. Returns
 * what happened; the outputs and the summary are the action's.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigurationError } from '../../core/errors.js'
import { git } from '../../core/git.js'
import type { Logger } from '../../core/logger.js'
import { runnerTemp } from '../../core/outputs.js'
import { Summary } from '../../core/summary.js'
import { authHeader, ConfigRepo, type AuthScheme } from './config-repo.js'
import { sparsePatterns } from './edit.js'
import type { UpdateRow } from './message.js'
import { findRenderer, type Renderer, type VerifyMode } from './render.js'
import type { ImageUpdate, Target } from './updates.js'
import { deployGitOps, type DeployOutcome } from './write-loop.js'

/** Everything a GitOps deploy is asked to do. */
export interface GitOpsJob {
  /** The clone URL (no credentials). */
  url: string
  /** `owner/name` when known (for the REST API). */
  slug?: string
  ref?: string
  path: string
  token?: string
  tokenAuth: AuthScheme
  updates: ImageUpdate[]
  targets: Target[]
  imagePaths: string[]
  allowRollback: boolean
  commitMessage?: string
  pullRequest: boolean
  pullRequestBranch?: string
  labels: string[]
  dryRun: boolean
  maxAttempts: number
  author: { name: string; email: string }
  environment?: string
  /** Time limit of each git command on the config repository (input `timeout`). */
  timeoutMs: number
  /** Check each target's render before pushing (input `verify-render`). */
  verifyRender: VerifyMode
  apiUrl: string
  runUrl?: string
}

/** What the run knows about the source the images were built from. */
export interface SourceContext {
  /** The source checkout (GITHUB_WORKSPACE) when it is a git repository. */
  dir?: string
  /** The commit the run is for (GITHUB_SHA). */
  sha?: string
  /** That commit's time, from the event's head_commit when it names the same commit. */
  eventTime?: string
}

/** What a GitOps deploy did. */
export interface GitOpsResult {
  outcome: DeployOutcome
  /** The pull request opened or updated (pull-request mode, pushed); '' otherwise. */
  prUrl: string
}

/** Fill in source commit times the source checkout or the event knows. */
async function fillSourceTimes(updates: ImageUpdate[], source: SourceContext): Promise<void> {
  for (const u of updates) {
    if (!u.source) continue
    if (source.dir) {
      // Local only: a partial checkout must not fetch from its remote here, unbounded.
      const r = await git(['show', '-s', '--format=%cI', u.source.sha], {
        cwd: source.dir,
        allowFailure: true,
        timeoutMs: 60_000,
        env: { GIT_NO_LAZY_FETCH: '1' }
      })
      if (r.code === 0 && r.stdout.trim()) {
        u.source.time = r.stdout.trim()
        continue
      }
    }
    if (!u.source.time && u.source.sha === source.sha && source.eventTime)
      u.source.time = source.eventTime
  }
}

/** The pull request's title and body for the rows it carries. */
function prText(
  job: GitOpsJob,
  base: string
): (rows: UpdateRow[]) => { title: string; body: string } {
  return rows => {
    const env = job.environment ?? base
    const title = `deploy(${env}): ${rows.map(r => r.service).join(', ')}`
    const table = new Summary()
      .paragraph(`Images to deploy to **${env}**, written by Conveyor.`)
      .table(
        ['Service', 'Old', 'New', 'Files'],
        rows.map(r => [r.service, r.old ?? '(none)', r.new, r.files.join(', ')])
      )
    if (job.runUrl) table.paragraph(`Run: ${job.runUrl}`)
    return { title, body: table.toString() }
  }
}

/** The kustomize renderer `verify-render` uses; fails early when `required` finds none. */
function renderer(job: GitOpsJob): Renderer | undefined {
  if (job.verifyRender === 'off') return undefined
  const found = findRenderer()
  const kustomize = [...job.targets, ...job.updates.flatMap(u => u.targets)].some(
    t => t.kind === 'kustomize'
  )
  if (!found && kustomize && job.verifyRender === 'required') {
    throw new ConfigurationError(
      'input "verify-render": got "required", but neither kustomize nor kubectl is on PATH to render the kustomize targets; install one, or use auto (the in-process resolution) or off'
    )
  }
  return found
}

/** Write the images into the config repository (or a pull request branch of it). */
export async function runGitOps(
  job: GitOpsJob,
  source: SourceContext,
  log: Logger
): Promise<GitOpsResult> {
  const render = renderer(job)
  await fillSourceTimes(job.updates, source)
  const header = job.token ? authHeader(job.token, job.tokenAuth) : undefined
  const dir = mkdtempSync(join(runnerTemp(), 'deploy-'))
  try {
    const repo = new ConfigRepo(join(dir, 'repo'), job.url, header, job.author, log, job.timeoutMs)
    const base = await log.group('Config repository', async () => {
      const all = [...job.targets, ...job.updates.flatMap(u => u.targets)]
      const sparse = sparsePatterns(job.path, all)
      await repo.init(sparse)
      if (sparse) log.info(`sparse checkout: ${sparse.join(' ')}`)
      const b = job.ref ?? (await repo.defaultBranch())
      log.info(`${job.slug ?? job.url} branch ${b}`)
      return b
    })
    const pushBranch = job.pullRequest
      ? (job.pullRequestBranch ?? `conveyor/deploy/${job.environment ?? base}`)
      : base
    const text = job.pullRequest ? prText(job, base) : undefined
    // Octokit is loaded only for a pull request (a chunk of its own): a direct push never parses it.
    const api =
      job.pullRequest && job.slug && job.token
        ? new (await import('../../core/github.js')).GitHubApi(
            job.apiUrl,
            ...(job.slug.split('/') as [string, string]),
            job.token,
            log
          )
        : undefined
    const outcome = await log.group('Edit, commit and push', () =>
      deployGitOps({
        repo,
        base,
        pushBranch,
        startFromPushBranch: job.pullRequest,
        path: job.path,
        updates: job.updates,
        targets: job.targets,
        imagePaths: job.imagePaths,
        allowRollback: job.allowRollback,
        template: job.commitMessage,
        runUrl: job.runUrl,
        environment: job.environment,
        maxAttempts: job.maxAttempts,
        dryRun: job.dryRun,
        verifyRender: job.verifyRender,
        renderer: render,
        sourceDir: source.dir,
        prText: text,
        pullRequestOpen: api
          ? async () => (await api.findOpen(pushBranch, base)) !== undefined
          : undefined,
        log
      })
    )
    let prUrl = ''
    if (api && outcome.status === 'pushed' && text) {
      const { title, body } = text(outcome.branchRows ?? outcome.rows)
      const { pr, created } = await log.group('Pull request', () =>
        api.upsert(pushBranch, base, title, body, job.labels)
      )
      prUrl = pr.html_url
      log.info(`${created ? 'opened' : 'updated'} pull request #${pr.number}: ${pr.html_url}`)
    }
    if (outcome.status === 'no-op')
      log.notice('no change: the config repository already holds these images')
    if (outcome.status === 'dry-run')
      log.info(`dry run: the change that would be pushed:\n${outcome.diff}`)
    return { outcome, prUrl }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
