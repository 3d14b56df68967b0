/**
 * Real git repositories for tests and benchmarks: a working repository, a bare
 * `origin` configured like GitHub's (blob-less fetches, any sha fetchable), and
 * workspaces made the way actions/checkout makes them (depth 1, detached, no other
 * branch). No vitest imports: scripts reuse these.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'

const ENV: NodeJS.ProcessEnv = {
  ...process.env,
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_AUTHOR_NAME: 'Test',
  GIT_AUTHOR_EMAIL: 'test@example.com',
  GIT_COMMITTER_NAME: 'Test',
  GIT_COMMITTER_EMAIL: 'test@example.com',
  LC_ALL: 'C'
}

/** Run git in `cwd`; returns trimmed stdout. */
export function sh(cwd: string, args: string[], input?: string | Buffer): string {
  const r = spawnSync('git', args, { cwd, env: ENV, input, maxBuffer: 1 << 30 })
  if (r.status !== 0) {
    throw new Error(`git ${args.join(' ')} (in ${cwd}) failed: ${r.stderr.toString()}`)
  }
  return r.stdout.toString().trim()
}

/** A scratch directory; `cleanup()` removes every one made. */
const made: string[] = []
export function tempDir(prefix = 'conveyor-git-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix))
  made.push(d)
  return d
}
export function cleanup(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true })
}

/** A working repository with an origin. */
export interface TestRepo {
  /** The working repository where commits are made. */
  dir: string
  /** The bare origin (file:// URL in `url`). */
  origin: string
  url: string
  /** Commit files (string: content; null: delete) on the current branch; returns the sha. */
  commit(files: Record<string, string | null>, message?: string): string
  /** `git <args>` in the working repository. */
  git(...args: string[]): string
  /** Push refspecs to origin (with --force). */
  push(...refspecs: string[]): void
  sha(ref?: string): string
}

/** Make a repository on `main` with a bare origin set up like GitHub's. */
export function makeRepo(files: Record<string, string> = {}, branch = 'main'): TestRepo {
  const root = tempDir()
  const dir = join(root, 'work')
  const origin = join(root, 'origin.git')
  mkdirSync(dir)
  sh(dir, ['init', '-q', '-b', branch])
  sh(root, ['init', '-q', '--bare', '-b', branch, origin])
  sh(origin, ['config', 'uploadpack.allowFilter', 'true'])
  sh(origin, ['config', 'uploadpack.allowAnySHA1InWant', 'true'])
  const url = `file://${origin}`
  sh(dir, ['remote', 'add', 'origin', url])
  const repo: TestRepo = {
    dir,
    origin,
    url,
    git: (...args) => sh(dir, args),
    commit(changes, message = 'change') {
      for (const [path, content] of Object.entries(changes)) {
        const full = join(dir, path)
        if (content === null) sh(dir, ['rm', '-q', '-r', '--', path])
        else {
          mkdirSync(dirname(full), { recursive: true })
          writeFileSync(full, content)
          sh(dir, ['add', '--', path])
        }
      }
      sh(dir, ['commit', '-q', '--allow-empty', '-m', message])
      return sh(dir, ['rev-parse', 'HEAD'])
    },
    push: (...refspecs) => void sh(dir, ['push', '-q', '--force', 'origin', ...refspecs]),
    sha: (ref = 'HEAD') => sh(dir, ['rev-parse', `${ref}^{commit}`])
  }
  if (Object.keys(files).length > 0) repo.commit(files, 'initial')
  return repo
}

/**
 * A workspace as actions/checkout leaves it: depth 1 at `sha`, detached, the checked
 * out branch (if any) as the only remote-tracking ref, no tags. `sparse` (patterns,
 * as actions/checkout's sparse-checkout input) makes a blob-less sparse checkout, for
 * huge trees.
 */
export function checkoutLike(
  repo: TestRepo,
  sha: string,
  branch?: string,
  options: { depth?: number; sparse?: string[] } = {}
): string {
  const ws = join(tempDir('conveyor-ws-'), 'ws')
  mkdirSync(ws)
  sh(ws, ['init', '-q'])
  sh(ws, ['remote', 'add', 'origin', repo.url])
  const dest = branch ? `refs/remotes/origin/${branch}` : 'refs/remotes/pull/merge'
  const filter = options.sparse ? ['--filter=blob:none'] : []
  sh(ws, [
    '-c',
    'protocol.version=2',
    'fetch',
    '-q',
    '--no-tags',
    ...filter,
    `--depth=${options.depth ?? 1}`,
    'origin',
    `+${sha}:${dest}`
  ])
  if (options.sparse) sh(ws, ['sparse-checkout', 'set', '--no-cone', ...options.sparse])
  sh(ws, ['checkout', '-q', '--detach', sha])
  return ws
}

/** A full clone (every branch, every tag), detached at `sha`. */
export function fullClone(repo: TestRepo, sha: string): string {
  const ws = join(tempDir('conveyor-ws-'), 'ws')
  sh(dirname(ws), ['clone', '-q', repo.url, ws])
  sh(ws, ['checkout', '-q', '--detach', sha])
  return ws
}

/**
 * Commit many files at once with `git fast-import` (seconds for 40,000 files): one
 * commit on `branch` whose parent is `parent`, setting every path to `content(path)`.
 * Returns the new sha. Works on the bare origin or any repository.
 */
export function fastCommit(
  gitDir: string,
  branch: string,
  parent: string | undefined,
  paths: string[],
  content: (path: string) => string,
  message = 'many files'
): string {
  const chunks: string[] = []
  const now = Math.floor(Date.now() / 1000)
  chunks.push(`commit refs/heads/${branch}\n`)
  chunks.push(`committer Test <test@example.com> ${now} +0000\n`)
  chunks.push(`data ${Buffer.byteLength(message)}\n${message}\n`)
  if (parent) chunks.push(`from ${parent}\n`)
  for (const p of paths) {
    const data = content(p)
    // Quote every path (C-style) so any byte survives.
    const quoted = `"${p.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`
    chunks.push(`M 100644 inline ${quoted}\ndata ${Buffer.byteLength(data)}\n${data}\n`)
  }
  chunks.push('\n')
  execFileSync('git', ['--git-dir', gitDir, 'fast-import', '--quiet', '--force'], {
    env: ENV,
    input: chunks.join(''),
    maxBuffer: 1 << 30
  })
  return sh(gitDir, ['--git-dir', gitDir, 'rev-parse', `refs/heads/${branch}`])
}

/** A GitHub-shaped push payload. */
export function pushEvent(o: {
  ref: string
  before: string
  after: string
  defaultBranch?: string
  forced?: boolean
  created?: boolean
}): Record<string, unknown> {
  return {
    ref: o.ref,
    before: o.before,
    after: o.after,
    created: o.created ?? /^0+$/.test(o.before),
    deleted: false,
    forced: o.forced ?? false,
    repository: { full_name: 'acme/shop', default_branch: o.defaultBranch ?? 'main' }
  }
}

/** A GitHub-shaped pull_request payload. */
export function pullRequestEvent(o: {
  number?: number
  headSha: string
  headRef: string
  baseRef: string
  baseSha: string
}): Record<string, unknown> {
  return {
    action: 'synchronize',
    number: o.number ?? 7,
    pull_request: {
      number: o.number ?? 7,
      head: { sha: o.headSha, ref: o.headRef },
      base: { sha: o.baseSha, ref: o.baseRef }
    },
    repository: { full_name: 'acme/shop', default_branch: 'main' }
  }
}

export const ZERO = '0000000000000000000000000000000000000000'
