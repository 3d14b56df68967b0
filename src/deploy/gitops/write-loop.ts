/**
 * The GitOps write loop: fetch the tip, let the monotonic guard drop rollbacks, plan and
 * write the edits, commit, scan, push. A rejected push fetches the new tip, resets to
 * it and RE-APPLIES the edit (never a textual rebase), with bounded attempts and
 * jittered exponential back-off.
 */
import { join } from 'node:path'
import { ConfigurationError } from '../../core/errors.js'
import { planEdits } from './edit.js'
import { RenderCheck, type Renderer, type VerifyMode } from './render.js'
import {
  branchRows,
  commitMessage,
  guardVerdict,
  parseDeployLog,
  updateRows,
  type GuardVerdict,
  type UpdateRow
} from './message.js'
import { assertNoLeak } from './leak-scan.js'
import type { ImageUpdate, Target } from './updates.js'
import { sourceAncestry, type ConfigRepo } from './config-repo.js'
import type { Logger } from '../../core/logger.js'
import { backoffDelay, sleep } from '../../core/retry.js'
import { secrets } from '../../core/secrets.js'

/** Options of one deploy. */
export interface DeployOptions {
  repo: ConfigRepo
  /** Branch the edit starts from (the base). */
  base: string
  /** Branch pushed to (the base, or the pull request branch). */
  pushBranch: string
  /** Start from pushBranch when it exists (pull request mode accumulates). */
  startFromPushBranch: boolean
  /** Sub-directory of the repository the targets are relative to. */
  path: string
  updates: ImageUpdate[]
  targets: Target[]
  /** Deploy even when the guard sees a rollback (a deliberate one). */
  allowRollback?: boolean
  /** Extra dotted paths of images in manifests (custom resources). */
  imagePaths?: string[]
  template?: string
  runUrl?: string
  environment?: string
  maxAttempts: number
  dryRun: boolean
  /** How deep to fetch (the guard reads this many commits of trailers). */
  depth?: number
  /** Local checkout of the source repository, for `git merge-base --is-ancestor`. */
  sourceDir?: string
  /** Whether the pull request of pushBranch is open (pull request mode). */
  pullRequestOpen?: () => Promise<boolean>
  /** Extra text that leaves with the change (pull request title and body). */
  prText?: (rows: UpdateRow[]) => { title: string; body: string }
  /** Check each target's render before anything is pushed (default off). */
  verifyRender?: VerifyMode
  /** The kustomize renderer on PATH (found by the caller), if any. */
  renderer?: Renderer
  log: Logger
  sleep?: (ms: number) => Promise<void>
  /** First back-off in ms (default 200), doubling to at most 3 s, jittered. */
  backoffMs?: number
}

/** What happened. */
export interface DeployOutcome {
  status: 'pushed' | 'no-op' | 'dry-run'
  commit?: string
  rows: UpdateRow[]
  /** Pull request mode: the rows of the whole branch (earlier runs included). */
  branchRows?: UpdateRow[]
  changedFiles: string[]
  diff: string
  message?: string
  skipped: GuardVerdict[]
  attempts: number
  pushes: number
  /** What verify-render checked, one line per target. */
  verified?: string[]
}

async function guard(
  opts: DeployOptions,
  depth: number
): Promise<{ allowed: ImageUpdate[]; skipped: GuardVerdict[] }> {
  const records = parseDeployLog(await opts.repo.log(depth))
  const allowed: ImageUpdate[] = []
  const skipped: GuardVerdict[] = []
  for (const u of opts.updates) {
    const record = records.find(r => r.services.includes(u.service))
    const ancestry =
      u.source && record?.sha
        ? await sourceAncestry(opts.sourceDir, u.source.sha, record.sha)
        : 'unknown'
    const verdict = guardVerdict(u.service, u.source, record, ancestry)
    if (verdict.allow) allowed.push(u)
    else if (opts.allowRollback) {
      opts.log.warning(`allow-rollback: deploying anyway: ${verdict.reason}`)
      allowed.push(u)
    } else skipped.push(verdict)
  }
  return { allowed, skipped }
}

/** Run the loop. Throws ConfigurationError for user mistakes and for an outlasted storm. */
export async function deployGitOps(opts: DeployOptions): Promise<DeployOutcome> {
  const depth = opts.depth ?? 50
  const pause = opts.sleep ?? sleep
  const root = join(opts.repo.dir, opts.path)
  const mode = opts.verifyRender ?? 'off'
  const check =
    mode === 'off'
      ? undefined
      : new RenderCheck({
          mode,
          within: opts.repo.dir,
          path: opts.path,
          log: opts.log,
          renderer: opts.renderer,
          widen: opts.repo.sparse ? p => opts.repo.sparseAdd(p) : undefined
        })
  let pushes = 0
  let lastDiff = ''
  let lastReason = ''
  for (let attempt = 1; attempt <= opts.maxAttempts; attempt++) {
    // Pull request mode: keep building on the branch while its pull request is open;
    // once it was merged or closed, start again from the base and replace the branch
    // (with a lease on the sha we saw, so a concurrent run is not overwritten).
    let from = opts.base
    let lease: string | undefined
    let earlierOnBranch = false
    if (opts.startFromPushBranch && opts.pushBranch !== opts.base) {
      const prTip = await opts.repo.remoteTip(opts.pushBranch)
      if (prTip) {
        const open = opts.pullRequestOpen ? await opts.pullRequestOpen() : true
        if (open) {
          from = opts.pushBranch
          await opts.repo.fetchOnly(opts.base, depth)
          earlierOnBranch = true
        } else {
          lease = prTip
          if (attempt === 1) {
            opts.log.info(
              `${opts.pushBranch} has no open pull request: starting it again from ${opts.base}`
            )
          }
        }
      }
    }
    const tip = await opts.repo.fetchAndReset(from, depth)
    opts.log.info(`attempt ${attempt}: ${from} at ${tip.slice(0, 12)}`)
    const { allowed, skipped } = await guard(opts, depth)
    for (const s of skipped) if (attempt === 1) opts.log.notice(s.reason)
    // What each target renders now, so that new entries take the names it renders.
    const rendered = check ? await check.before(allowed, opts.targets) : undefined
    const plan = planEdits(root, allowed, opts.targets, {
      imagePaths: opts.imagePaths,
      within: opts.repo.dir,
      rendered
    })
    const rel = (f: string): string => (opts.path === '.' ? f : `${opts.path}/${f}`)
    const files = new Map([...plan.files].map(([f, c]) => [rel(f), c]))
    const rows = updateRows(allowed, plan.changes).map(r => ({ ...r, files: r.files.map(rel) }))
    if (files.size === 0) {
      // Already there is only good when it renders: an entry nothing uses is not.
      await check?.after(plan, allowed, opts.targets)
      opts.log.info('the config repository already holds these images: nothing to commit')
      return {
        status: 'no-op',
        rows: [],
        changedFiles: [],
        diff: '',
        skipped,
        attempts: attempt,
        pushes,
        verified: check?.report
      }
    }
    const diff = await opts.repo.stage(files)
    // Verified on every attempt: a re-applied edit on a fresh tip is rendered again.
    await check?.after(plan, allowed, opts.targets)
    lastDiff = diff
    const source = allowed.find(u => u.source)?.source
    const message = commitMessage({
      template: opts.template,
      rows,
      source,
      runUrl: opts.runUrl,
      environment: opts.environment
    })
    // The pull request text covers the whole branch, not only this run.
    const earlier = earlierOnBranch
      ? parseDeployLog(await opts.repo.logRange(`refs/remotes/origin/${opts.base}`, depth))
      : []
    const allRows = branchRows(earlier, rows)
    const pr = opts.prText?.(allRows)
    assertNoLeak(
      { files, diff, message, branch: opts.pushBranch, prTitle: pr?.title, prBody: pr?.body },
      secrets
    )
    const commit = await opts.repo.commit(message)
    const changedFiles = [...files.keys()]
    const outcome = (status: 'dry-run' | 'pushed'): DeployOutcome => ({
      status,
      branchRows: allRows,
      commit,
      rows,
      changedFiles,
      diff,
      message,
      skipped,
      attempts: attempt,
      pushes,
      verified: check?.report
    })
    if (opts.dryRun) return outcome('dry-run')
    pushes++
    const pushed = await opts.repo.push(opts.pushBranch, lease)
    if (pushed.ok) {
      opts.log.info(`pushed ${commit.slice(0, 12)} to ${opts.pushBranch}`)
      return outcome('pushed')
    }
    if (pushed.kind === 'permission') {
      throw new ConfigurationError(
        `the token may read the config repository but not push to ${opts.pushBranch} (permission denied): grant it contents: write. Git said: ${pushed.message}\nThe change that was not pushed:\n${diff}`
      )
    }
    if (pushed.kind === 'auth') {
      throw new ConfigurationError(
        `the config repository did not accept the token for a push: ${pushed.message}`
      )
    }
    if (pushed.kind === 'other') {
      throw new Error(
        `git push failed: ${pushed.message}\nThe change that was not pushed:\n${diff}`
      )
    }
    lastReason = pushed.message
    if (attempt < opts.maxAttempts) {
      const ms = backoffDelay(attempt - 1, { baseMs: opts.backoffMs ?? 200, capMs: 3000 })
      opts.log.info(`push rejected (the branch moved); re-applying on the new tip in ${ms} ms`)
      await pause(ms)
    }
  }
  throw new ConfigurationError(
    `the push to ${opts.pushBranch} was rejected ${opts.maxAttempts} times (other pushes kept moving the branch; raise max-attempts). Last refusal: ${lastReason}\nThe change that was not pushed:\n${lastDiff}`
  )
}
