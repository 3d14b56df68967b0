/**
 * Carrying out a base decision (base.ts) in the workspace repository: a ref, an
 * expression, the event's before/after commits or the last successful run's, each
 * fetched from origin when missing, deepened until the merge base is found, or "every
 * service" with the reason when it cannot be.
 */
import { ConfigurationError, quote } from '../core/errors.js'
import { git } from '../core/git.js'
import type { BaseChoice, BaseDecision } from './base.js'
import { isRefName } from './fetch.js'
import { FIRST_DEPTH, FULL_SHA, type PlanRepo } from './repo.js'

/** The result: a base commit, or every service. */
export type ResolvedBase =
  | { kind: 'commit'; sha: string; why: string }
  | { kind: 'all'; why: string }
  | { kind: 'none'; why: string }

/**
 * The commit a name (a full sha, a branch or a tag) names on origin, fetched; undefined
 * when origin has no such thing, or when `name` cannot be a ref name.
 */
async function fetchName(repo: PlanRepo, name: string): Promise<string | undefined> {
  if (FULL_SHA.test(name)) return repo.ensureCommit(name)
  if (!isRefName(name)) return undefined
  if (name.startsWith('refs/tags/')) {
    await repo.fetch([`+${name}:${name}`], 1)
    return repo.commit(name)
  }
  const branch = name.replace(/^refs\/heads\//, '').replace(/^origin\//, '')
  const sha = await repo.ensureBranch(branch)
  if (sha) return sha
  await repo.fetch([`+refs/tags/${branch}:refs/tags/${branch}`], 1)
  return repo.commit(`refs/tags/${branch}`)
}

/** Fetchable spec of a commit: the sha itself, or a branch refspec. */
function specFor(sha: string, branch?: string): string {
  return branch ? `+refs/heads/${branch}:refs/remotes/origin/${branch}` : sha
}

/**
 * Turn a base decision into a commit (or "all"), fetching what is missing. `head`
 * must already be resolvable or fetchable.
 */
export async function resolveBase(
  repo: PlanRepo,
  decision: BaseDecision,
  head: string,
  lastSuccess?: () => Promise<string | undefined>
): Promise<ResolvedBase> {
  const choice: BaseChoice = decision.base
  const headSpec = head
  switch (choice.kind) {
    case 'all':
    case 'none':
      return choice
    case 'ref': {
      const ref = choice.ref
      let sha = await repo.commit(ref)
      if (!sha) sha = await fetchName(repo, ref)
      if (!sha) {
        // An expression such as HEAD~3 or main^2: its starting point here (fetched when
        // it is a branch or tag), then history deepened until the expression resolves.
        const m = /^(.*?)([~^].*)$/.exec(ref)
        const start = m ? m[1] || 'HEAD' : undefined
        const tip = start
          ? ((await repo.commit(start)) ?? (await fetchName(repo, start)))
          : undefined
        for (let depth = FIRST_DEPTH; tip && !sha; depth *= 2) {
          if (depth > repo.maxDepth || !(await repo.isShallow())) break
          if (!(await repo.fetch([tip], depth))) break
          sha = await repo.commit(ref)
        }
      }
      if (!sha) {
        throw new ConfigurationError(
          `input "base": got ${quote(ref)}, which names no commit here or on origin; expected a revision git can resolve: a commit sha, a branch or tag, or an expression such as HEAD~3 or main^`
        )
      }
      return { kind: 'commit', sha, why: choice.why }
    }
    case 'commit': {
      const sha = await repo.ensureCommit(choice.sha)
      if (!sha)
        return { kind: 'all', why: `${choice.why} ${choice.sha} is not on origin: every service` }
      const mb = await repo.mergeBase(sha, head, [sha, headSpec])
      if (!mb)
        return {
          kind: 'all',
          why: `${choice.why}: ${repo.noMergeBase} with the head: every service`
        }
      return { kind: 'commit', sha: mb, why: choice.why }
    }
    case 'last-success': {
      const sha = lastSuccess ? await lastSuccess() : undefined
      if (!sha) return { kind: 'all', why: `${choice.why}: none found: every service` }
      const have = await repo.ensureCommit(sha)
      if (!have)
        return { kind: 'all', why: `${choice.why} (${sha}) is not on origin: every service` }
      const mb = await repo.mergeBase(have, head, [have, headSpec])
      if (!mb)
        return {
          kind: 'all',
          why: `${choice.why} (${sha}): ${repo.noMergeBase} with the head: every service`
        }
      return { kind: 'commit', sha: mb, why: `${choice.why} (${sha.slice(0, 12)})` }
    }
    case 'merge-base': {
      const branch = choice.branch || decision.defaultBranch || (await repo.defaultBranch())
      if (!branch)
        return { kind: 'all', why: `${choice.why}: the default branch is unknown: every service` }
      const tip = await repo.ensureBranch(branch)
      if (!tip)
        return { kind: 'all', why: `${choice.why}: origin has no branch ${branch}: every service` }
      const mb = await repo.mergeBase(head, tip, [headSpec, specFor(tip, branch)])
      if (!mb)
        return {
          kind: 'all',
          why: `${choice.why}: ${repo.noMergeBase} with ${branch}: every service`
        }
      return { kind: 'commit', sha: mb, why: choice.why.replace(/the default branch/, branch) }
    }
    case 'before': {
      const before = await repo.ensureCommit(choice.before)
      if (before) {
        const mb = await repo.mergeBase(before, head, [before, headSpec])
        if (mb === before) return { kind: 'commit', sha: before, why: choice.why }
      }
      // A force push: `before` is gone or not an ancestor.
      let why = before
        ? `${before.slice(0, 12)} is not an ancestor of the head`
        : `${choice.before.slice(0, 12)} is no longer on origin`
      const def = choice.defaultBranch ?? (await repo.defaultBranch())
      if (def && def !== choice.branch) {
        const tip = await repo.ensureBranch(def)
        const mb = tip ? await repo.mergeBase(head, tip, [headSpec, specFor(tip, def)]) : undefined
        if (mb)
          return {
            kind: 'commit',
            sha: mb,
            why: `force push to ${choice.branch}: the merge base with ${def}`
          }
        why += tip ? `, and ${repo.noMergeBase} with ${def}` : `, and origin has no branch ${def}`
      } else if (before) {
        const mb = await repo.mergeBase(before, head, [before, headSpec])
        if (mb)
          return {
            kind: 'commit',
            sha: mb,
            why: `force push to ${choice.branch}: the merge base of the old and new history`
          }
        why += `, and ${repo.noMergeBase} between the old and new history`
      } else why += def ? '' : ', and the default branch is unknown'
      return { kind: 'all', why: `force push to ${choice.branch}: ${why}: every service` }
    }
    case 'previous-tag': {
      const tags = `+refs/tags/*:refs/tags/*`
      for (let depth = FIRST_DEPTH, first = true; ; depth *= 2, first = false) {
        const r = await git(
          ['describe', '--tags', '--abbrev=0', '--exclude', choice.tag, `${head}^`],
          { cwd: repo.cwd, allowFailure: true }
        )
        if (r.code === 0) {
          const prev = r.stdout.trim()
          const sha = (await repo.commit(`refs/tags/${prev}`))!
          return { kind: 'commit', sha, why: `${choice.why} (${prev})` }
        }
        const shallow = await repo.isShallow()
        if (depth > repo.maxDepth) break
        // Fetch tags (and deepen) once even in a full clone: checkout fetches no tags.
        if (!shallow && depth > FIRST_DEPTH) break
        if (
          !(await repo.fetch(
            [headSpec, tags],
            first ? depth : undefined,
            first ? undefined : depth
          ))
        )
          break
      }
      return { kind: 'all', why: `${choice.why}: no earlier tag: every service` }
    }
  }
}
