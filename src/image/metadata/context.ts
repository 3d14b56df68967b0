/**
 * The context tags and labels are computed from, made the way docker/metadata-action makes
 * it from a workflow run: a `pull_request_target` run is tagged from its pull request
 * (`refs/pull/<number>/merge`, not the base branch it runs on);
 * `DOCKER_METADATA_PR_HEAD_SHA=true` tags a pull request run with its head commit instead of
 * the merge commit; `DOCKER_METADATA_SHORT_SHA_LENGTH` sets the short SHA's length; the commit
 * date comes from the event payload when it holds the commit. Conveyor adds
 * `SOURCE_DATE_EPOCH` (the reproducible-builds convention), which fixes "now" for `{{date}}`
 * and the `created` label. Pure: the caller reads the environment and the payload.
 */
import { payloadField, type EventPayload } from '../../core/context.js'
import { ConfigurationError } from '../../core/errors.js'

/** The repository data labels and `type=edge` use (metadata-action reads it from the API). */
export interface RepoInfo {
  /** `org.opencontainers.image.title` */
  name?: string
  /** `org.opencontainers.image.description` */
  description?: string
  /** `org.opencontainers.image.url` and `.source`, e.g. `https://github.com/acme/shop` */
  htmlUrl?: string
  /** SPDX id, `org.opencontainers.image.licenses` */
  license?: string
  /** The branch `type=edge` tags when it names none. */
  defaultBranch?: string
}

/** Everything the engine reads; build it with `metadataContext`. */
export interface MetadataContext {
  eventName: string
  /** The ref the rules see (`refs/heads/x`, `refs/tags/v1`, `refs/pull/12/merge`). */
  ref: string
  /** The commit the rules see (`{{sha}}`, `type=sha`, the `revision` label). */
  sha: string
  payload: EventPayload
  repo: RepoInfo
  /** "Now": `{{date}}` and the `created` label. */
  now: Date
  /** `{{commit_date}}`. */
  commitDate: Date
  /** Length of `{{sha}}` and `type=sha` (default 7). */
  shortShaLength: number
}

/**
 * What a workflow run gives (the shell reads it from `GITHUB_*` and the event file): `ref` is
 * `GITHUB_REF`, `sha` is `GITHUB_SHA`, `now` the clock (unless `SOURCE_DATE_EPOCH` is set).
 */
export interface RunInfo extends Pick<
  MetadataContext,
  'eventName' | 'ref' | 'sha' | 'payload' | 'repo' | 'now'
> {
  /** The commit's date when the shell knows it (git, API); the payload's wins, as in metadata-action. */
  commitDate?: Date
  /** `DOCKER_METADATA_PR_HEAD_SHA`, `DOCKER_METADATA_SHORT_SHA_LENGTH`, `SOURCE_DATE_EPOCH`. */
  env: Readonly<Record<string, string | undefined>>
}

/**
 * The commit date the payload holds for `sha`: a push's `commits[].timestamp` or its
 * `head_commit.timestamp`, as metadata-action reads them. Undefined otherwise.
 */
export function commitDateFromPayload(payload: EventPayload, sha: string): Date | undefined {
  const commits = payload.commits
  if (Array.isArray(commits)) {
    const hit = commits.find(c => payloadField(c, 'id') === sha)
    const ts = payloadField(hit, 'timestamp')
    if (typeof ts === 'string' && ts !== '') return new Date(ts)
  }
  const head = payload.head_commit
  const ts = payloadField(head, 'timestamp')
  if (payloadField(head, 'id') === sha && typeof ts === 'string') {
    return new Date(ts)
  }
  return undefined
}

/** `SOURCE_DATE_EPOCH` (whole seconds since 1970) as a date; undefined when unset or empty. */
export function sourceDateEpoch(value: string | undefined): Date | undefined {
  if (value === undefined || value.trim() === '') return undefined
  const text = value.trim()
  const seconds = Number(text)
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(seconds * 1000)) {
    throw new ConfigurationError(
      `environment variable SOURCE_DATE_EPOCH: got ${JSON.stringify(value)}, expected whole seconds since 1970-01-01 UTC (for example 1700000000)`
    )
  }
  return new Date(seconds * 1000)
}

/** `DOCKER_METADATA_SHORT_SHA_LENGTH` (default 7). */
export function shortShaLength(value: string | undefined): number {
  if (value === undefined || value.trim() === '') return 7
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1) {
    throw new ConfigurationError(
      `environment variable DOCKER_METADATA_SHORT_SHA_LENGTH: got ${JSON.stringify(value)}, expected a whole number of characters such as 7 or 12`
    )
  }
  return Number(value)
}

/** Build the engine's context from a workflow run, as metadata-action does. */
export function metadataContext(run: RunInfo): MetadataContext {
  let { ref, sha } = run
  if (/pull_request_target/.test(run.eventName)) {
    // The run's GITHUB_REF is the base branch; the tags are the pull request's.
    ref = `refs/pull/${String(run.payload.number)}/merge`
  }
  const headSha = payloadField(run.payload, 'pull_request', 'head', 'sha')
  if (
    (run.env.DOCKER_METADATA_PR_HEAD_SHA ?? '').trim().toLowerCase() === 'true' &&
    /pull_request/.test(run.eventName) &&
    typeof headSha === 'string'
  ) {
    sha = headSha
  }
  const now = sourceDateEpoch(run.env.SOURCE_DATE_EPOCH) ?? run.now
  return {
    eventName: run.eventName,
    ref,
    sha,
    payload: run.payload,
    repo: run.repo,
    now,
    commitDate: commitDateFromPayload(run.payload, sha) ?? run.commitDate ?? now,
    shortShaLength: shortShaLength(run.env.DOCKER_METADATA_SHORT_SHA_LENGTH)
  }
}

/**
 * The repository data the payload holds (`repository.name`, `.description`, `.html_url`,
 * `.license.spdx_id`, `.default_branch`), for a shell that does not ask the API.
 */
export function repoFromPayload(payload: EventPayload): RepoInfo {
  const text = (...path: string[]): string | undefined => {
    const v = payloadField(payload, 'repository', ...path)
    return typeof v === 'string' ? v : undefined
  }
  return {
    name: text('name'),
    description: text('description'),
    htmlUrl: text('html_url'),
    license: text('license', 'spdx_id'),
    defaultBranch: text('default_branch')
  }
}
