/**
 * Which commit a plan compares against (docs/architecture.md, "Choosing the base": the
 * base table). Pure: the event in, a decision out. Deciding needs no git; carrying the
 * decision out (fetching, deepening, ancestry checks) is resolve-base.ts.
 */
import { payloadField, type EventPayload } from '../core/context.js'

/** The all-zero object name GitHub sends for "no commit" (branch created or deleted). */
export function isZeroSha(sha: string | undefined): boolean {
  return sha === undefined || sha === '' || /^0+$/.test(sha)
}

/** What the plan needs to know about the run. */
export interface BaseContext {
  eventName: string
  /** The event payload (GITHUB_EVENT_PATH). */
  event: EventPayload
  /** GITHUB_REF. */
  ref: string
  /** GITHUB_SHA. */
  sha: string
  /** Input `base`. */
  inputBase?: string
  tags: 'all' | 'changed'
  baseFromLastSuccess: boolean
}

/** How to find the base commit. */
export type BaseChoice =
  /** No base: every service is selected. */
  | { kind: 'all'; why: string }
  /** Nothing to plan (a branch deletion). */
  | { kind: 'none'; why: string }
  /** Input `base`: that ref, compared directly. */
  | { kind: 'ref'; ref: string; why: string }
  /**
   * A push to an existing branch: `before` when it is an ancestor of the head; after a
   * force push, the merge base with the default branch (on the default branch itself,
   * the merge base of `before` and the head).
   */
  | { kind: 'before'; before: string; branch: string; defaultBranch?: string; why: string }
  /** The merge base of the head and a branch on origin. */
  | { kind: 'merge-base'; branch: string; why: string }
  /** A commit given by the event (merge_group's base_sha), compared through its merge base. */
  | { kind: 'commit'; sha: string; why: string }
  /** The previous tag reachable from the head (tag pushes with `tags: changed`). */
  | { kind: 'previous-tag'; tag: string; why: string }
  /** The head commit of the last successful run of this workflow (GitHub API). */
  | { kind: 'last-success'; branch?: string; why: string }

/** The decision: the head to plan and how to find its base. */
export interface BaseDecision {
  /** The commit whose services are planned. */
  head: string
  base: BaseChoice
  /** The default branch, when the event names it. */
  defaultBranch?: string
}

function str(obj: unknown, ...keys: string[]): string | undefined {
  const v = payloadField(obj, ...keys)
  return typeof v === 'string' && v !== '' ? v : undefined
}

/** The branch name of a `refs/heads/` ref, else undefined. */
export function branchOf(ref: string): string | undefined {
  return ref.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : undefined
}

/** Choose the base for a run. Pure; see the table in docs/architecture.md, "Choosing the base". */
export function chooseBase(ctx: BaseContext): BaseDecision {
  const ev = ctx.event
  const defaultBranch = str(ev, 'repository', 'default_branch')
  const d = (head: string, base: BaseChoice): BaseDecision => ({ head, base, defaultBranch })
  const e = ctx.eventName
  let head = ctx.sha
  if (e === 'pull_request' || e === 'pull_request_target') {
    head = str(ev, 'pull_request', 'head', 'sha') ?? ctx.sha
  } else if (e === 'merge_group') {
    head = str(ev, 'merge_group', 'head_sha') ?? ctx.sha
  } else if (e === 'push') {
    const after = str(ev, 'after')
    if (after && !isZeroSha(after)) head = after
  }
  if (ctx.inputBase) {
    return d(head, { kind: 'ref', ref: ctx.inputBase, why: `input "base" (${ctx.inputBase})` })
  }
  switch (e) {
    case 'push': {
      if (ev.deleted === true || (str(ev, 'after') !== undefined && isZeroSha(str(ev, 'after')))) {
        return d(head, { kind: 'none', why: 'the push deleted the ref: nothing to build' })
      }
      const ref = str(ev, 'ref') ?? ctx.ref
      if (ref.startsWith('refs/tags/')) {
        const tag = ref.slice('refs/tags/'.length)
        if (ctx.tags === 'all') {
          return d(head, { kind: 'all', why: `tag push (${tag}): a release builds every service` })
        }
        return d(head, {
          kind: 'previous-tag',
          tag,
          why: `tag push (${tag}) with tags: changed: the previous tag`
        })
      }
      const branch = branchOf(ref) ?? ref
      const before = str(ev, 'before')
      if (isZeroSha(before)) {
        if (defaultBranch !== undefined && branch === defaultBranch) {
          return d(head, {
            kind: 'all',
            why: `first push of the default branch (${branch}): every service`
          })
        }
        return d(head, {
          kind: 'merge-base',
          branch: defaultBranch ?? '',
          why: `new branch ${branch}: the merge base with the default branch`
        })
      }
      return d(head, {
        kind: 'before',
        before: before!,
        branch,
        defaultBranch,
        why: `push to ${branch}: the commit before the push`
      })
    }
    case 'pull_request':
    case 'pull_request_target': {
      const baseRef = str(ev, 'pull_request', 'base', 'ref')
      if (!baseRef) return d(head, { kind: 'all', why: `${e} event without pull_request.base.ref` })
      return d(head, {
        kind: 'merge-base',
        branch: baseRef,
        why: `${e}: the merge base of the head and ${baseRef}`
      })
    }
    case 'merge_group': {
      const baseSha = str(ev, 'merge_group', 'base_sha')
      if (!baseSha) return d(head, { kind: 'all', why: 'merge_group event without base_sha' })
      return d(head, { kind: 'commit', sha: baseSha, why: 'merge_group: merge_group.base_sha' })
    }
    default: {
      if (ctx.baseFromLastSuccess) {
        return d(head, {
          kind: 'last-success',
          branch: branchOf(ctx.ref),
          why: `${e}: the last successful run of this workflow`
        })
      }
      return d(head, {
        kind: 'all',
        why: `${e} without input "base" (and base-from-last-success off): every service`
      })
    }
  }
}
