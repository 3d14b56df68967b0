/**
 * The workspace repository actions/checkout leaves (depth 1, detached, no other branch)
 * and its origin: fetch what is missing, blob-less, deepening by doubling depth up to a
 * cap, and answer ancestry questions (resolve-base.ts carries a base decision out with it). Fetches authenticate with
 * the `token` input through an HTTP header in git's environment (never argv or
 * .git/config), and a fetch that fails for any reason but a missing ref is an error
 * that says why: "every service" is never a guess made because origin could not be read.
 */
import { authHeader, git, GIT_HEADER_ENV, gitText } from '../core/git.js'
import type { ExecResult } from '../core/exec.js'
import type { Logger } from '../core/logger.js'
import { fetchAuth, fetchError, fetchFailure, gitSaid } from './fetch.js'

/** A full commit sha (SHA-1 or SHA-256). */
export const FULL_SHA = /^[0-9a-f]{40}([0-9a-f]{24})?$/i

/** The first depth tried, and the cap. */
export const FIRST_DEPTH = 32
export const MAX_DEPTH = 8192

/** Options of a PlanRepo. */
export interface PlanRepoOptions {
  maxDepth?: number
  /** Token for fetches from origin (sent only to `serverUrl`). */
  token?: string
  /** GITHUB_SERVER_URL. */
  serverUrl?: string
}

/** A workspace repository and its origin. */
export class PlanRepo {
  private shallow?: boolean
  private hasOrigin?: boolean
  private originUrl?: string
  private auth?: Promise<{ args: string[]; env: NodeJS.ProcessEnv }>
  /** Fetches made (for the summary and tests). */
  readonly fetches: string[] = []
  /** Lookups of full shas: under way, or found to name a commit here. */
  private readonly found = new Map<string, Promise<string | undefined>>()
  readonly maxDepth: number

  constructor(
    readonly cwd: string,
    readonly log: Logger,
    private readonly options: PlanRepoOptions = {}
  ) {
    this.maxDepth = options.maxDepth ?? MAX_DEPTH
  }

  /** The arguments and environment that authenticate a command talking to origin. */
  private remoteAuth(): Promise<{ args: string[]; env: NodeJS.ProcessEnv }> {
    this.auth ??= (async () => {
      const configured = await git(['config', '--get-regexp', '^http\\..*extraheader$'], {
        cwd: this.cwd,
        allowFailure: true
      })
      const decided = fetchAuth(
        this.originUrl,
        this.options.serverUrl ?? 'https://github.com',
        Boolean(this.options.token),
        configured.code === 0 && configured.stdout.trim() !== ''
      )
      this.log.info(decided.why)
      if (!decided.key || !this.options.token) return { args: [], env: {} }
      return {
        args: [`--config-env=${decided.key}=${GIT_HEADER_ENV}`],
        env: { [GIT_HEADER_ENV]: authHeader(this.options.token) }
      }
    })()
    return this.auth
  }

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
    if (this.hasOrigin === undefined) {
      const r = await git(['remote', 'get-url', 'origin'], { cwd: this.cwd, allowFailure: true })
      this.hasOrigin = r.code === 0
      this.originUrl = r.code === 0 ? r.stdout.trim() : undefined
    }
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
    const r = await this.askOrigin(args, 'fetching', 10 * 60_000)
    if (r.code !== 0) this.log.info(`not on origin: ${gitSaid(r.stderr)}`)
    await this.isShallow()
    return r.code === 0
  }

  /**
   * Run a git command that talks to origin, authenticated; a failure for any reason but
   * a missing ref is an error saying what `doing` failed and why. The result as is.
   */
  private async askOrigin(args: string[], doing: string, timeoutMs: number): Promise<ExecResult> {
    const auth = await this.remoteAuth()
    const r = await git([...auth.args, ...args], {
      cwd: this.cwd,
      allowFailure: true,
      timeoutMs,
      env: auth.env
    })
    if (r.code !== 0) {
      const failure = fetchFailure(r.stderr, r.timedOut)
      if (failure !== 'missing')
        throw fetchError(doing, failure, r.stderr, this.originUrl ?? 'origin')
    }
    return r
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
    const r = await this.askOrigin(
      ['ls-remote', '--symref', 'origin', 'HEAD'],
      'asking for the default branch',
      5 * 60_000
    )
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
      if (!(await this.isShallow())) {
        this.noMergeBase = 'no common history (the whole history is here)'
        return undefined
      }
      if (depth > this.maxDepth) {
        this.noMergeBase = `no merge base within ${this.maxDepth} commits of history`
        this.log.warning(
          `no merge base of ${a.slice(0, 12)} and ${b.slice(0, 12)} within ${this.maxDepth} commits of history`
        )
        return undefined
      }
      for (const spec of refetch) {
        if (!(await this.fetch([spec], depth))) {
          this.noMergeBase = `${spec.startsWith('+') ? spec.slice(1).split(':')[0] : spec.slice(0, 12)} is no longer on origin, so its history cannot be deepened`
          return undefined
        }
      }
    }
  }

  /** Why the last `mergeBase` found none (for the reason a plan gives). */
  noMergeBase = 'no merge base'

  /** Whether `a` is an ancestor of `b` (both here). */
  async isAncestor(a: string, b: string): Promise<boolean> {
    return this.ok(['merge-base', '--is-ancestor', a, b])
  }
}
