/**
 * The config repository clone: shallow fetches, commits, pushes. The token reaches
 * git only as an `http.extraheader` through `--config-env` (an environment variable
 * name on the command line, the value in the child's environment): never in a URL,
 * argv, `.git/config` or a log.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { symlinkOnPath } from '../../core/confine.js'
import { ConfigurationError } from '../../core/errors.js'
import { git, GIT_HEADER_ENV as HEADER_ENV, type GitOptions } from '../../core/git.js'
import { lastLines, type ExecResult } from '../../core/exec.js'
import type { Logger } from '../../core/logger.js'
import { secrets } from '../../core/secrets.js'

/** Default time limit of one git command (the `timeout` input's default). */
export const DEFAULT_GIT_TIMEOUT_MS = 10 * 60_000

/** A transfer below this many bytes per second... */
export const LOW_SPEED_LIMIT = 1000
/** ...for this many seconds (at most; never more than the command's time limit) fails. */
export const LOW_SPEED_TIME_S = 30

/**
 * The `-c` options that make git's HTTP transport give up on a remote that accepts
 * the connection and then stops answering (or never starts): below
 * `LOW_SPEED_LIMIT` bytes/s for `LOW_SPEED_TIME_S` seconds, or the time limit if
 * shorter.
 */
export function lowSpeedArgs(timeoutMs: number): string[] {
  const seconds = lowSpeedSeconds(timeoutMs)
  return ['-c', `http.lowSpeedLimit=${LOW_SPEED_LIMIT}`, '-c', `http.lowSpeedTime=${seconds}`]
}

/** The `http.lowSpeedTime` for a command time limit. */
function lowSpeedSeconds(timeoutMs: number): number {
  return Math.max(1, Math.min(LOW_SPEED_TIME_S, Math.floor(timeoutMs / 1000)))
}

/**
 * The remote of a clone URL as shown in messages: `host[:port]` for network URLs
 * (no user name, path or query), the path for `file://`. Never holds a credential.
 */
export function remoteLabel(url: string): string {
  try {
    const u = new URL(url)
    if (u.protocol === 'file:') return decodeURIComponent(u.pathname)
    return u.host || url
  } catch {
    return 'the remote'
  }
}

/** Whether git's stderr says the HTTP transport gave up on a silent or stalled remote. */
export function isStalled(stderr: string): boolean {
  return /operation too slow|timed out|timeout was reached/i.test(stderr)
}

export { authHeader, type AuthScheme } from '../../core/git.js'

/** Who commits. */
export interface Identity {
  name: string
  email: string
}

/** A result of a push. */
export type PushResult =
  { ok: true } | { ok: false; kind: 'rejected' | 'permission' | 'auth' | 'other'; message: string }

/** Classify a failed `git push` from its stderr. */
export function classifyPush(stderr: string): Exclude<PushResult, { ok: true }> {
  const message = stderr.trim().split('\n').slice(-6).join('\n')
  if (
    /\b403\b|permission to .* denied|write access|not allowed to push|protected branch/i.test(
      stderr
    )
  ) {
    return { ok: false, kind: 'permission', message }
  }
  if (/\b401\b|authentication failed|could not read username|invalid credentials/i.test(stderr)) {
    return { ok: false, kind: 'auth', message }
  }
  if (/hook declined/i.test(stderr)) return { ok: false, kind: 'other', message }
  if (
    /non-fast-forward|fetch first|\[rejected\]|failed to lock|cannot lock ref|failed to update ref|incorrect old value|remote rejected|stale info/i.test(
      stderr
    )
  ) {
    return { ok: false, kind: 'rejected', message }
  }
  return { ok: false, kind: 'other', message }
}

/** A working clone of the config repository. */
export class ConfigRepo {
  constructor(
    readonly dir: string,
    readonly url: string,
    private readonly header: string | undefined,
    readonly identity: Identity,
    private readonly logger: Logger,
    /**
     * Time limit of each git command; the HTTP transport also gives up earlier on a
     * remote that stops answering (see `lowSpeedArgs`).
     */
    readonly timeoutMs = DEFAULT_GIT_TIMEOUT_MS
  ) {}

  /** `host[:port]` (or the path) of the remote, for messages. */
  get remote(): string {
    return remoteLabel(this.url)
  }

  /**
   * Run git with the auth header (when any) passed through the environment. Every
   * command is bounded, not only fetch, push and ls-remote: in a partial clone,
   * checkout and diff fetch missing blobs from the remote too.
   */
  run(args: readonly string[], options: Partial<GitOptions> = {}): Promise<ExecResult> {
    const argv = [
      ...(this.header ? [`--config-env=http.extraheader=${HEADER_ENV}`] : []),
      ...lowSpeedArgs(this.timeoutMs),
      ...args
    ]
    return git(argv, {
      cwd: this.dir,
      isolated: true,
      timeoutMs: this.timeoutMs,
      ...options,
      env: {
        GIT_AUTHOR_NAME: this.identity.name,
        GIT_AUTHOR_EMAIL: this.identity.email,
        GIT_COMMITTER_NAME: this.identity.name,
        GIT_COMMITTER_EMAIL: this.identity.email,
        GIT_LFS_SKIP_SMUDGE: '1',
        ...(this.header ? { [HEADER_ENV]: this.header } : {}),
        ...options.env
      }
    })
  }

  private async text(args: readonly string[]): Promise<string> {
    return (await this.run(args)).stdout.trim()
  }

  private partial = false

  /**
   * An empty repository with `origin`. With `sparse` patterns (gitignore style, rooted)
   * only those paths are checked out and blobs are fetched lazily (`blob:none`).
   */
  async init(sparse?: readonly string[]): Promise<void> {
    mkdirSync(this.dir, { recursive: true })
    await this.run(['init', '-q', '-b', 'conveyor-work', '.'])
    await this.run(['remote', 'add', 'origin', this.url])
    if (sparse && sparse.length > 0) {
      await this.run(['sparse-checkout', 'set', '--no-cone', '--', ...sparse])
      this.partial = true
    }
  }

  /** Whether the checkout is sparse (only the target paths). */
  get sparse(): boolean {
    return this.partial
  }

  /**
   * Widen a sparse checkout by `patterns` (gitignore style, rooted): the files appear
   * in the work tree, their blobs fetched on demand. Nothing for a full checkout.
   */
  async sparseAdd(patterns: readonly string[]): Promise<void> {
    if (!this.partial || patterns.length === 0) return
    const r = await this.run(['sparse-checkout', 'add', '--', ...patterns], { allowFailure: true })
    if (r.code !== 0 || r.timedOut) throw this.remoteError(r, 'read')
  }

  /** The remote's default branch (from `ls-remote --symref`). */
  async defaultBranch(): Promise<string> {
    const r = await this.run(['ls-remote', '--symref', 'origin', 'HEAD'], { allowFailure: true })
    if (r.code !== 0 || r.timedOut) throw this.remoteError(r, 'read')
    const m = /^ref: refs\/heads\/(\S+)\s+HEAD/m.exec(r.stdout)
    if (!m)
      throw new ConfigurationError(
        `the config repository has no default branch (is it empty?); set "ref"`
      )
    return m[1]!
  }

  /** The sha of a branch on the remote, or undefined when it does not exist. */
  async remoteTip(branch: string): Promise<string | undefined> {
    const r = await this.run(['ls-remote', '--heads', 'origin', `refs/heads/${branch}`], {
      allowFailure: true
    })
    if (r.code !== 0 || r.timedOut) throw this.remoteError(r, 'read')
    return r.stdout.trim().split(/\s+/)[0] || undefined
  }

  /** `git fetch` of `branch`, shallow, into refs/remotes/origin/<branch>; the result as is. */
  private fetchBranch(branch: string, depth: number): Promise<ExecResult> {
    return this.run(
      [
        'fetch',
        '-q',
        '--no-tags',
        `--depth=${depth}`,
        ...(this.partial ? ['--filter=blob:none'] : []),
        'origin',
        `+refs/heads/${branch}:refs/remotes/origin/${branch}`
      ],
      { allowFailure: true }
    )
  }

  /** Fetch `branch` shallowly into refs/remotes/origin/<branch> without checking it out. */
  async fetchOnly(branch: string, depth: number): Promise<void> {
    const r = await this.fetchBranch(branch, depth)
    if (r.code !== 0 || r.timedOut) throw this.remoteError(r, 'read')
  }

  /** `git log` of HEAD's commits not in `base` (at most `max`), for deploy records. */
  async logRange(base: string, max: number): Promise<string> {
    return (await this.run(['log', `-n${max}`, '--format=%H%x1f%B%x1e', `${base}..HEAD`])).stdout
  }

  /** Fetch `branch` shallowly and check it out as the work branch; returns the tip sha. */
  async fetchAndReset(branch: string, depth: number): Promise<string> {
    const r = await this.fetchBranch(branch, depth)
    if (r.code !== 0 || r.timedOut) {
      if (!r.timedOut && /couldn't find remote ref|not our ref/i.test(r.stderr)) {
        throw new ConfigurationError(
          `input "ref": branch ${JSON.stringify(branch)} does not exist in the config repository`
        )
      }
      throw this.remoteError(r, 'read')
    }
    await this.run(['checkout', '-q', '-f', '-B', 'conveyor-work', `refs/remotes/origin/${branch}`])
    await this.run(['clean', '-q', '-fdx'])
    return this.text(['rev-parse', 'HEAD'])
  }

  /** `git log` of the fetched history, for the deploy records. */
  async log(depth: number): Promise<string> {
    return (await this.run(['log', `-n${depth}`, '--format=%H%x1f%B%x1e', 'HEAD'])).stdout
  }

  /** Write planned files, stage them; returns the staged diff. */
  async stage(files: Map<string, string>): Promise<string> {
    for (const [rel, content] of files) {
      const full = join(this.dir, rel)
      // planEdits refused these already; never write through a link all the same.
      const link = symlinkOnPath(this.dir, rel)
      if (link !== undefined) {
        throw new ConfigurationError(
          `${link} in the config repository is a symbolic link; deploy does not write through it`
        )
      }
      mkdirSync(dirname(full), { recursive: true })
      writeFileSync(full, content)
    }
    await this.run(['add', '--', ...files.keys()])
    return (await this.run(['diff', '--cached', '--no-color', '--no-ext-diff'])).stdout
  }

  /** Commit the staged change with `message` (over stdin); returns the sha. */
  async commit(message: string): Promise<string> {
    await this.run(['commit', '-q', '--no-verify', '--cleanup=verbatim', '-F', '-'], {
      input: message
    })
    return this.text(['rev-parse', 'HEAD'])
  }

  /**
   * Push HEAD to `branch`. With `lease` (the sha the branch must still have), the push
   * replaces the branch even when it is not a fast-forward, and only then.
   */
  async push(branch: string, lease?: string): Promise<PushResult> {
    const force = lease ? [`--force-with-lease=refs/heads/${branch}:${lease}`] : []
    const r = await this.run(
      ['push', '--porcelain', ...force, 'origin', `HEAD:refs/heads/${branch}`],
      {
        allowFailure: true
      }
    )
    if (r.code === 0 && !r.timedOut) return { ok: true }
    if (r.timedOut || isStalled(r.stderr)) {
      return { ok: false, kind: 'other', message: this.remoteError(r, 'write').message }
    }
    const res = classifyPush(`${r.stdout}\n${r.stderr}`)
    this.logger.debug(`push refused: ${res.message}`)
    return res
  }

  /** An error for a remote that failed to answer; names the remote, never the token. */
  remoteError(r: Pick<ExecResult, 'stderr' | 'timedOut'>, what: 'read' | 'write'): Error {
    const stderr = r.stderr
    const tail = secrets.redact(lastLines(stderr, 3).split('\n').join(' '))
    if (r.timedOut) {
      return new Error(
        `git could not ${what} the config repository at ${this.remote}: no complete answer within ${Math.round(this.timeoutMs / 1000)}s (input "timeout"), so git was stopped. ${tail}`.trim()
      )
    }
    if (isStalled(stderr)) {
      return new Error(
        `git could not ${what} the config repository at ${this.remote}: the server stopped answering (less than ${LOW_SPEED_LIMIT} bytes/s for ${lowSpeedSeconds(this.timeoutMs)}s). ${tail}`
      )
    }
    if (/\b403\b/.test(stderr)) {
      return new ConfigurationError(
        `the config repository refused the token (HTTP 403): it has no ${what} permission. ${tail}`
      )
    }
    if (/\b401\b|authentication failed|could not read username/i.test(stderr)) {
      return new ConfigurationError(
        `the config repository asked for credentials and the token was not accepted (input "token"). ${tail}`
      )
    }
    if (
      /not found|does not appear to be a git repository|repository .* not found|\b404\b/i.test(
        stderr
      )
    ) {
      return new ConfigurationError(
        `input "repository": the config repository was not found. ${tail}`
      )
    }
    return new Error(`git could not ${what} the config repository at ${this.remote}: ${tail}`)
  }
}

/**
 * How `ours` relates to `theirs` in the source repository at `dir`: 'older' when ours
 * is an ancestor of theirs, 'newer' when the reverse, 'unknown' when git cannot tell.
 */
export async function sourceAncestry(
  dir: string | undefined,
  ours: string,
  theirs: string
): Promise<'same' | 'older' | 'newer' | 'diverged' | 'unknown'> {
  if (ours === theirs) return 'same'
  if (!dir) return 'unknown'
  const probe = async (a: string, b: string): Promise<number> =>
    (
      await git(['merge-base', '--is-ancestor', a, b], {
        cwd: dir,
        allowFailure: true,
        // Local only, bounded: a partial checkout must not fetch from its remote here.
        timeoutMs: 60_000,
        env: { GIT_NO_LAZY_FETCH: '1' }
      })
    ).code
  const a = await probe(ours, theirs)
  if (a === 0) return 'older'
  if (a !== 1) return 'unknown'
  const b = await probe(theirs, ours)
  if (b === 0) return 'newer'
  return b === 1 ? 'diverged' : 'unknown'
}
