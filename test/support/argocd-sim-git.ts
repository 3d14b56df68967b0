/**
 * The Argo CD simulator following a real git repository, as Argo CD's repo server
 * polls the repositories of its applications: each new commit on the branch becomes
 * the simulator's head for that repoURL, followed by a reconcile of the apps on it.
 * The demo and the dogfooding job point it at the config repository `deploy` pushes
 * to, so the commit `deploy` made is what `main` resolves to, as in a real cluster.
 */
import { execFileSync } from 'node:child_process'
import type { ArgoSim } from './argocd-sim.js'

/** A running follower. */
export interface GitFollower {
  /** Look now (as a webhook would make Argo CD look); returns the branch's commit. */
  poll(): string | undefined
  stop(): void
}

/** Follow `branch` of the git repository at `gitDir` as `repoURL` of the simulator. */
export function followGitRepo(
  sim: ArgoSim,
  repoURL: string,
  gitDir: string,
  options: { branch?: string; intervalMs?: number } = {}
): GitFollower {
  const branch = options.branch ?? 'main'
  let seen: string | undefined
  const poll = (): string | undefined => {
    let sha: string
    try {
      sha = execFileSync(
        'git',
        ['--git-dir', gitDir, 'rev-parse', '--verify', '-q', `refs/heads/${branch}^{commit}`],
        {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'ignore']
        }
      ).trim()
    } catch {
      return seen
    }
    if (sha !== seen) {
      seen = sha
      sim.push(repoURL, { sha }, branch)
    }
    return seen
  }
  poll()
  const timer = setInterval(poll, options.intervalMs ?? 1000)
  timer.unref()
  return { poll, stop: () => clearInterval(timer) }
}
