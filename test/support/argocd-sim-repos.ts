/**
 * The repositories behind the Argo CD simulator, as Argo CD's repo server sees them:
 * git repositories with a linear history and refs, Helm chart repositories with
 * versions. Resolving a revision follows util/git/client.go `lsRemote` (a full SHA
 * as given, a ref by name, a 7+ hex string kept as a truncated SHA, anything else
 * "unable to resolve '<x>' to a commit SHA"); checking one out gives the full,
 * lowercase SHA (what `git rev-parse` prints). Each commit says which apps (or
 * which kinds of an app, `app/Kind`) it changes, so the controller can tell whether
 * the manifests of two revisions differ (controller/state.go `CompareAppState`).
 */

/** One commit of a simulated git repository. */
export interface SimCommit {
  sha: string
  /** Apps (`name`) or resources of an app (`name/Kind`) it changes; undefined: everything. */
  touches?: string[]
}

interface Repo {
  commits: SimCommit[]
  refs: Map<string, string>
  /** Chart versions, for a Helm repository. */
  versions: Set<string>
}

/** A deterministic fake commit SHA from a seed. */
export function fakeSha(seed: string): string {
  let out = ''
  let i = 0
  while (out.length < 40) out += Buffer.from(`${seed}:${i++}`).toString('hex')
  return out.slice(0, 40)
}

const FULL = /^[0-9A-Fa-f]{40}$/
const TRUNCATED = /^[0-9A-Fa-f]{7,}$/

/** Every repository of one simulator. */
export class SimRepos {
  private readonly repos = new Map<string, Repo>()

  private repo(url: string): Repo {
    let r = this.repos.get(url)
    if (!r) {
      r = { commits: [], refs: new Map(), versions: new Set() }
      this.repos.set(url, r)
    }
    return r
  }

  /** Whether the repository has any commit yet. */
  has(url: string): boolean {
    return (this.repos.get(url)?.commits.length ?? 0) > 0
  }

  /** Add a commit on `branch` (default `main`, which HEAD follows). */
  push(url: string, commit: SimCommit, branch = 'main'): string {
    const r = this.repo(url)
    const sha = commit.sha.toLowerCase()
    if (!r.commits.some(c => c.sha === sha)) r.commits.push({ ...commit, sha })
    r.refs.set(branch, sha)
    if (branch === 'main') r.refs.set('HEAD', sha)
    return sha
  }

  /** Set a ref (a branch or tag) to a commit. */
  setRef(url: string, ref: string, sha: string): void {
    this.repo(url).refs.set(ref, sha.toLowerCase())
  }

  /** Add chart versions to a Helm repository. */
  addVersions(url: string, versions: string[]): void {
    for (const v of versions) this.repo(url).versions.add(v)
  }

  /** The commit a ref points at (default HEAD). */
  head(url: string, ref = 'HEAD'): string | undefined {
    return this.repos.get(url)?.refs.get(ref)
  }

  /**
   * The repo server's resolution of a git revision (`lsRemote`): a full SHA as given,
   * a ref by name (`refs/heads/x` or short), a 7+ hex string as a truncated SHA, an
   * error otherwise.
   */
  resolve(url: string, revision: string): { revision: string } | { error: string } {
    if (FULL.test(revision)) return { revision }
    const r = this.repos.get(url)
    const want = revision === '' ? 'HEAD' : revision
    const short = want.replace(/^refs\/(heads|tags)\//, '')
    const hit = r?.refs.get(want) ?? r?.refs.get(short)
    if (hit) return { revision: hit }
    if (TRUNCATED.test(want)) return { revision: want }
    return { error: `unable to resolve '${want}' to a commit SHA: revision not found` }
  }

  /** A Helm repository's resolution of a chart version (exact versions only). */
  resolveChart(
    url: string,
    chart: string,
    version: string
  ): { revision: string } | { error: string } {
    if (this.repo(url).versions.has(version)) return { revision: version }
    return { error: `failed to get chart ${chart} version ${version}: chart version not found` }
  }

  /**
   * What checking out `revision` gives (`git rev-parse`): the full lowercase SHA of a
   * known commit it is a prefix of (any case), a full SHA as is, undefined otherwise.
   */
  checkout(url: string, revision: string): string | undefined {
    const lower = revision.toLowerCase()
    const known = this.repos.get(url)?.commits.find(c => c.sha.startsWith(lower))
    if (known && lower.length >= 4) return known.sha
    return FULL.test(revision) ? lower : undefined
  }

  /**
   * The manifests identity of an app's resource kind at `sha`: the last commit at or
   * before it that changes them. Two revisions with the same identity render the
   * same manifests. A commit the history does not hold is its own identity.
   */
  identity(url: string, sha: string, app: string, kind: string): string {
    const commits = this.repos.get(url)?.commits ?? []
    const at = commits.findIndex(c => c.sha === sha)
    if (at < 0) return sha
    for (let i = at; i >= 0; i--) {
      const t = commits[i]!.touches
      if (!t || t.includes(app) || t.includes(`${app}/${kind}`)) return commits[i]!.sha
    }
    return 'root'
  }
}
