/**
 * `deploy`: write new image references into a GitOps config repository (mode gitops:
 * in-place YAML edits, race-safe pushes, monotonic guard, leak scan, optional pull
 * request) or upload and run a release over SSH (mode ssh, in ./ssh.ts).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { sparsePatterns } from '../../deploy/gitops/edit.js'
import { authHeader, ConfigRepo } from '../../deploy/gitops/config-repo.js'
import type { UpdateRow } from '../../deploy/gitops/message.js'
import { deployGitOps, type DeployOutcome } from '../../deploy/gitops/write-loop.js'
import { findRenderer, type Renderer } from '../../deploy/gitops/render.js'
import { ConfigurationError } from '../../core/errors.js'
import { git } from '../../core/git.js'
import { GitHubApi } from '../../core/github.js'
import { InputReader } from '../../core/inputs.js'
import type { Logger } from '../../core/logger.js'
import { runnerTemp, setOutput } from '../../core/outputs.js'
import { runMain } from '../../core/run.js'
import { Summary, code } from '../../core/summary.js'
import { getInputs, type Inputs } from './inputs.js'
import { runSshMode } from './ssh.js'
import { getVerifyInputs, verifyImages } from './verify.js'

/** The source checkout (GITHUB_WORKSPACE) when it is a git repository. */
function sourceCheckout(): string | undefined {
  const ws = process.env.GITHUB_WORKSPACE
  return ws && existsSync(join(ws, '.git')) ? ws : undefined
}

/** Fill in source commit times the source checkout or the event knows. */
async function fillSourceTimes(inputs: Inputs, dir: string | undefined): Promise<void> {
  let eventTime: string | undefined
  try {
    const path = process.env.GITHUB_EVENT_PATH
    if (path && existsSync(path)) {
      const ev = JSON.parse(readFileSync(path, 'utf8')) as {
        head_commit?: { id?: string; timestamp?: string }
      }
      if (ev.head_commit?.id === process.env.GITHUB_SHA) eventTime = ev.head_commit?.timestamp
    }
  } catch {
    // no usable event
  }
  for (const u of inputs.updates) {
    if (!u.source) continue
    if (dir) {
      // Local only: a partial checkout must not fetch from its remote here, unbounded.
      const r = await git(['show', '-s', '--format=%cI', u.source.sha], {
        cwd: dir,
        allowFailure: true,
        timeoutMs: 60_000,
        env: { GIT_NO_LAZY_FETCH: '1' }
      })
      if (r.code === 0 && r.stdout.trim()) {
        u.source.time = r.stdout.trim()
        continue
      }
    }
    if (!u.source.time && u.source.sha === process.env.GITHUB_SHA && eventTime)
      u.source.time = eventTime
  }
}

function prText(
  inputs: Inputs,
  base: string
): (rows: UpdateRow[]) => { title: string; body: string } {
  return rows => {
    const env = inputs.environment ?? base
    const title = `deploy(${env}): ${rows.map(r => r.service).join(', ')}`
    const table = new Summary()
      .paragraph(`Images to deploy to **${env}**, written by Conveyor.`)
      .table(
        ['Service', 'Old', 'New', 'Files'],
        rows.map(r => [r.service, r.old ?? '(none)', r.new, r.files.join(', ')])
      )
    if (inputs.runUrl) table.paragraph(`Run: ${inputs.runUrl}`)
    return { title, body: table.toString() }
  }
}

function writeSummary(inputs: Inputs, outcome: DeployOutcome, prUrl?: string): void {
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
      `Commit ${code(outcome.commit)} in ${code(inputs.slug ?? inputs.url)}, ${outcome.attempts} attempt(s).`
    )
  }
  if (prUrl) s.paragraph(`Pull request: ${prUrl}`)
  if (outcome.status === 'dry-run') s.codeBlock(outcome.diff, 'diff')
  s.write()
}

/** The kustomize renderer `verify-render` uses; fails early when `required` finds none. */
function renderer(inputs: Inputs): Renderer | undefined {
  if (inputs.verifyRender === 'off') return undefined
  const found = findRenderer()
  const kustomize = [...inputs.targets, ...inputs.updates.flatMap(u => u.targets)].some(
    t => t.kind === 'kustomize'
  )
  if (!found && kustomize && inputs.verifyRender === 'required') {
    throw new ConfigurationError(
      'input "verify-render": got "required", but neither kustomize nor kubectl is on PATH to render the kustomize targets; install one, or use auto (the in-process resolution) or off'
    )
  }
  return found
}

async function runGitOps(reader: InputReader, log: Logger): Promise<void> {
  const verify = getVerifyInputs(reader)
  const inputs = await getInputs(reader, log)
  const render = renderer(inputs)
  // Before anything is written: every image must verify, or nothing is deployed.
  await verifyImages(
    inputs.updates.map(u => ({ label: u.service, ref: u.ref })),
    verify,
    log
  )
  const source = sourceCheckout()
  await fillSourceTimes(inputs, source)
  const header = inputs.token ? authHeader(inputs.token, inputs.tokenAuth) : undefined
  const dir = mkdtempSync(join(runnerTemp(), 'deploy-'))
  try {
    const repo = new ConfigRepo(
      join(dir, 'repo'),
      inputs.url,
      header,
      inputs.author,
      log,
      inputs.timeoutMs
    )
    const base = await log.group('Config repository', async () => {
      const all = [...inputs.targets, ...inputs.updates.flatMap(u => u.targets)]
      const sparse = sparsePatterns(inputs.path, all)
      await repo.init(sparse)
      if (sparse) log.info(`sparse checkout: ${sparse.join(' ')}`)
      const b = inputs.ref ?? (await repo.defaultBranch())
      log.info(`${inputs.slug ?? inputs.url} branch ${b}`)
      return b
    })
    const pushBranch = inputs.pullRequest
      ? (inputs.pullRequestBranch ?? `conveyor/deploy/${inputs.environment ?? base}`)
      : base
    const text = inputs.pullRequest ? prText(inputs, base) : undefined
    const api =
      inputs.pullRequest && inputs.slug && inputs.token
        ? new GitHubApi(
            inputs.apiUrl,
            ...(inputs.slug.split('/') as [string, string]),
            inputs.token,
            log
          )
        : undefined
    const outcome = await log.group('Edit, commit and push', () =>
      deployGitOps({
        repo,
        base,
        pushBranch,
        startFromPushBranch: inputs.pullRequest,
        path: inputs.path,
        updates: inputs.updates,
        targets: inputs.targets,
        imagePaths: inputs.imagePaths,
        allowRollback: inputs.allowRollback,
        template: inputs.commitMessage,
        runUrl: inputs.runUrl,
        environment: inputs.environment,
        maxAttempts: inputs.maxAttempts,
        dryRun: inputs.dryRun,
        verifyRender: inputs.verifyRender,
        renderer: render,
        sourceDir: source,
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
        api.upsert(pushBranch, base, title, body, inputs.labels)
      )
      prUrl = pr.html_url
      log.info(`${created ? 'opened' : 'updated'} pull request #${pr.number}: ${pr.html_url}`)
    }
    if (outcome.status === 'no-op')
      log.notice('no change: the config repository already holds these images')
    if (outcome.status === 'dry-run')
      log.info(`dry run: the change that would be pushed:\n${outcome.diff}`)
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
    writeSummary(inputs, outcome, prUrl || undefined)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The action's entry point. */
export async function run(): Promise<void> {
  await runMain('deploy', async log => {
    const reader = new InputReader()
    const mode = reader.choice('mode', ['gitops', 'ssh'] as const, 'gitops')
    if (mode === 'ssh') await runSshMode(reader, log)
    else await runGitOps(reader, log)
  })
}
