/**
 * Carrying out a base decision in the workspace actions/checkout leaves (depth 1,
 * detached, no other branch): fetch from origin what is missing, blob-less, deepening
 * by doubling depth up to a cap, then find the merge base.
 */
import { ConfigurationError } from './errors.js'
import { git, gitText } from './git.js'
import type { Logger } from './logger.js'
import type { BaseChoice, BaseDecision } from './plan-base.js'

/** A full commit sha (SHA-1 or SHA-256). */
export const FULL_SHA = /^[0-9a-f]{40}([0-9a-f]{24})?$/i

/** The first depth tried, and the cap. */
export const FIRST_DEPTH = 32
export const MAX_DEPTH = 8192

/** The result: a base commit, or every service. */
export type ResolvedBase =
  | { kind: 'commit'; sha: string; why: string }
  | { kind: 'all'; why: string }
  | { kind: 'none'; why: string }

/** A workspace repository and its origin. */
export class PlanRepo {
  private shallow?: boolean
  private hasOrigin?: boolean
  /** Fetches made (for the summary and tests). */
  readonly fetches: string[] = []
  /** Lookups of full shas: under way, or found to name a commit here. */
  private readonly found = new Map<string, Promise<string | undefined>>()

  constructor(
    readonly cwd: string,
    readonly log: Logger,
    readonly maxDepth = MAX_DEPTH
  ) {}

  async text(args: string[]): Promise<string> {
    return gitText(args, { cwd: this.cwd })
  }

  async ok(args: string[]): Promise<boolean> {
    return (await git(args, { cwd: this.cwd, allowFailure: true })).code === 0
  }

  async isShallow(): Promise<boolean> {
    this.shallow = (await this.text(['rev-parse', '--is-shallow-repository'])) === 'true'
    return this.shallow
  }

  async origin(): Promise<boolean> {
    this.hasOrigin ??= await this.ok(['remote', 'get-url', 'origin'])
    return this.hasOrigin
  }

  /**
   * The commit a ref or sha names locally, or undefined. Lookups of one full sha
   * share their answer when it is a commit (what a ref names can move; the commit a
   * sha names cannot); a miss is asked again, as a fetch may have brought it since.
   */
  async commit(ref: string): Promise<string | undefined> {
    if (!FULL_SHA.test(ref)) return this.lookup(ref)
    let pending = this.found.get(ref)
    if (!pending) {
      pending = this.lookup(ref)
      this.found.set(ref, pending)
    }
    const sha = await pending
    if (!sha && this.found.get(ref) === pending) this.found.delete(ref)
    return sha
  }

  private async lookup(ref: string): Promise<string | undefined> {
    const r = await git(
      ['rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`],
      {
        cwd: this.cwd,
        allowFailure: true
      }
    )
    return r.code === 0 ? r.stdout.trim() : undefined
  }

  /**
   * Fetch refspecs from origin, blob-less. `depth` limits new refs; `deepen` extends
   * the shallow boundary (`--depth` does not deepen reliably once a sha is wanted).
   */
  async fetch(specs: string[], depth?: number, deepen?: number): Promise<boolean> {
    if (!(await this.origin())) return false
    const args = [
      '-c',
      'protocol.version=2',
      'fetch',
      '--no-tags',
      '--no-recurse-submodules',
      '--filter=blob:none',
      '--quiet'
    ]
    // Never make a full clone shallow: --depth only where the repository already is.
    if ((depth ?? deepen) !== undefined && (this.shallow ?? (await this.isShallow()))) {
      args.push(deepen !== undefined ? `--deepen=${deepen}` : `--depth=${depth}`)
    }
    args.push('origin', ...specs)
    this.fetches.push(args.slice(2).join(' '))
    this.log.info(`git ${args.slice(2).join(' ')}`)
    const r = await git(args, { cwd: this.cwd, allowFailure: true, timeoutMs: 10 * 60_000 })
    if (r.code !== 0) this.log.info(`fetch failed: ${r.stderr.trim().split('\n').pop() ?? ''}`)
    await this.isShallow()
    return r.code === 0
  }

  /** Make sure a commit is here: a sha is fetched by name (GitHub serves any sha). */
  async ensureCommit(sha: string, depth = 1): Promise<string | undefined> {
    const have = await this.commit(sha)
    if (have) return have
    if (!FULL_SHA.test(sha)) return undefined
    await this.fetch([sha], depth)
    return this.commit(sha)
  }

  /** A branch of origin as a local remote-tracking ref (refs/remotes/origin/<b>). */
  async ensureBranch(branch: string, depth = 1): Promise<string | undefined> {
    const ref = `refs/remotes/origin/${branch}`
    const have = await this.commit(ref)
    if (have) return have
    await this.fetch([`+refs/heads/${branch}:${ref}`], depth)
    return this.commit(ref)
  }

  /** The default branch: origin's HEAD. */
  async defaultBranch(): Promise<string | undefined> {
    const local = await git(['symbolic-ref', '--quiet', '--short', 'refs/remotes/origin/HEAD'], {
      cwd: this.cwd,
      allowFailure: true
    })
    if (local.code === 0 && local.stdout.trim()) return local.stdout.trim().replace(/^origin\//, '')
    if (!(await this.origin())) return undefined
    const r = await git(['ls-remote', '--symref', 'origin', 'HEAD'], {
      cwd: this.cwd,
      allowFailure: true
    })
    const m = /^ref: refs\/heads\/(\S+)\s+HEAD/m.exec(r.stdout)
    return m?.[1]
  }

  /**
   * The merge base of two commits, deepening both sides (given as fetchable specs)
   * by doubling depth until one appears or the cap is reached.
   */
  async mergeBase(a: string, b: string, refetch: string[]): Promise<string | undefined> {
    // Depth 32, 64, 128, ... from each tip, one fetch per tip: git 2.39 does not deepen
    // every want of a multi-want fetch (nor a sha no ref reaches, with --deepen).
    for (let depth = FIRST_DEPTH; ; depth *= 2) {
      const r = await git(['merge-base', a, b], { cwd: this.cwd, allowFailure: true })
      if (r.code === 0) return r.stdout.trim()
      if (!(await this.isShallow())) return undefined
      if (depth > this.maxDepth) {
        this.log.warning(
          `no merge base of ${a.slice(0, 12)} and ${b.slice(0, 12)} within ${this.maxDepth} commits of history`
        )
        return undefined
      }
      for (const spec of refetch) if (!(await this.fetch([spec], depth))) return undefined
    }
  }

  /** Whether `a` is an ancestor of `b` (both here). */
  async isAncestor(a: string, b: string): Promise<boolean> {
    return this.ok(['merge-base', '--is-ancestor', a, b])
  }
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
      if (!sha) {
        if (FULL_SHA.test(ref)) sha = await repo.ensureCommit(ref)
        else {
          const name = ref.replace(/^refs\/heads\//, '').replace(/^origin\//, '')
          if (ref.startsWith('refs/tags/')) {
            await repo.fetch([`+${ref}:${ref}`], 1)
            sha = await repo.commit(ref)
          } else {
            sha = (await repo.ensureBranch(name)) ?? undefined
            if (!sha) {
              await repo.fetch([`+refs/tags/${name}:refs/tags/${name}`], 1)
              sha = await repo.commit(`refs/tags/${name}`)
            }
          }
        }
      }
      if (!sha) {
        throw new ConfigurationError(
          `input "base": got ${JSON.stringify(ref)}, which names no commit here or on origin; expected a commit sha, branch or tag`
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
        return { kind: 'all', why: `${choice.why}: no merge base with the head: every service` }
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
          why: `${choice.why} (${sha}) shares no history with the head: every service`
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
        return { kind: 'all', why: `${choice.why}: no merge base with ${branch}: every service` }
      return { kind: 'commit', sha: mb, why: choice.why.replace(/the default branch/, branch) }
    }
    case 'before': {
      const before = await repo.ensureCommit(choice.before)
      if (before) {
        const mb = await repo.mergeBase(before, head, [before, headSpec])
        if (mb === before) return { kind: 'commit', sha: before, why: choice.why }
      }
      // A force push: `before` is gone or not an ancestor.
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
      } else if (before) {
        const mb = await repo.mergeBase(before, head, [before, headSpec])
        if (mb)
          return {
            kind: 'commit',
            sha: mb,
            why: `force push to ${choice.branch}: the merge base of the old and new history`
          }
      }
      return {
        kind: 'all',
        why: `force push to ${choice.branch}: no common history found: every service`
      }
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
