/**
 * The sources of an Argo CD application and their revisions. A multi-source app
 * (`spec.sources`, Argo CD >= 2.6) reports one revision per source, aligned with
 * `spec.sources[]`, in `operation.sync.revisions`, `syncResult.revisions` and
 * `status.sync.revisions`, and its sync request takes `revisions` with 1-based
 * `sourcePositions`; a single-source app uses the singular `revision` throughout.
 * Which source `revision` belongs to (input `source`), how a revision is compared
 * (a short or uppercase SHA equals the full one) and the per-source sync request
 * fields are decided here. Pure.
 */
import type { AppSource, Application } from './application.js'

/** Argo CD's `HasMultipleSources`: `spec.sources` is not empty. */
export function isMultiSource(app: Application): boolean {
  return (app.spec?.sources?.length ?? 0) > 0
}

/** The app's sources in order (a single-source app: its one `spec.source`). */
export function appSources(app: Application): AppSource[] {
  if (isMultiSource(app)) return app.spec!.sources!
  return [app.spec?.source ?? {}]
}

/** How people read source `index`: `source 2 "values" (https://...)`, or the repoURL alone. */
export function sourceLabel(app: Application, index: number): string {
  const s = appSources(app)[index] ?? {}
  const repo = `${s.repoURL ?? '?'}${s.chart ? `, chart ${s.chart}` : ''}`
  if (!isMultiSource(app)) return repo
  const name = s.name ?? s.ref
  return `source ${index + 1}${name ? ` "${name}"` : ''} (${repo})`
}

/** A holder of revisions: an operation's sync, a sync result, `status.sync`, a history entry. */
export interface Revisions {
  revision?: string
  revisions?: string[]
}

/** The revisions of `holder` aligned with the app's sources (a single-source app: one). */
export function revisionList(
  app: Application,
  holder: Revisions | undefined
): (string | undefined)[] {
  if (!holder) return []
  if (isMultiSource(app)) return holder.revisions ?? []
  return [holder.revision || holder.revisions?.[0] || undefined]
}

const HEX = /^[0-9a-f]{7,40}$/

/**
 * Whether two revisions name the same thing: equal, or both commit SHAs (any case)
 * where one is a prefix of at least 7 characters of the other. Argo CD keeps a short
 * or uppercase SHA as given in `operation.sync.revision` and records the full,
 * lowercase SHA in `syncResult.revision` and `status.sync.revision`.
 */
export function sameRevision(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined || a === '' || b === '') return false
  if (a === b) return true
  const x = a.toLowerCase()
  const y = b.toLowerCase()
  if (!HEX.test(x) || !HEX.test(y)) return false
  return x.length <= y.length ? y.startsWith(x) : x.startsWith(y)
}

/** One revision we expect, at a source position. */
export interface Expected {
  /** Index into the app's sources (0 for a single-source app). */
  index: number
  revision: string
  /** The source as people read it (see {@link sourceLabel}); '' for a single-source app. */
  label: string
}

/**
 * What the verdict compares: our source's revision from the operation the sync
 * request set (`index`), or every source's when no single source is ours.
 */
export function expectedRevisions(
  app: Application,
  index: number | undefined,
  fallback?: string
): Expected[] {
  const list = revisionList(app, app.operation?.sync)
  const at = (i: number, r: string | undefined): Expected[] =>
    r ? [{ index: i, revision: r, label: isMultiSource(app) ? sourceLabel(app, i) : '' }] : []
  if (index !== undefined) return at(index, list[index] ?? fallback)
  return list.flatMap((r, i) => at(i, r))
}

/** A repository URL reduced to `host/path`: no scheme, user, `.git` or trailing slash. */
export function normalizeRepo(url: string): string {
  let u = url.trim()
  const scp = /^(?:[^@/:]+@)?([^/:]+):(?!\/\/)(.+)$/.exec(u)
  if (scp && !/^[a-z][a-z0-9+.-]*:\/\//i.test(u)) u = `${scp[1]}/${scp[2]}`
  u = u.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/^[^@/]+@/, '')
  u = u.replace(/\/+$/, '').replace(/\.git$/i, '')
  const slash = u.indexOf('/')
  return slash < 0 ? u.toLowerCase() : `${u.slice(0, slash).toLowerCase()}${u.slice(slash)}`
}

/**
 * Whether input `source` names a source: its `name`, its repoURL in any usual
 * spelling, or `owner/name` matching the end of its repoURL's path.
 */
export function sourceMatches(source: AppSource, input: string): boolean {
  if (source.name !== undefined && source.name === input) return true
  if (!source.repoURL) return false
  const repo = normalizeRepo(source.repoURL)
  const want = normalizeRepo(input)
  if (repo === want) return true
  const isPath = !/[:@]/.test(input) && !input.includes('//') && input.split('/').length === 2
  return isPath && repo.toLowerCase().endsWith(`/${want.toLowerCase()}`)
}

/** The app's sources as a list for an error message. */
function listSources(app: Application, indexes?: number[]): string {
  const all = appSources(app).map((s, i) => {
    const extra = [
      s.name ? `name "${s.name}"` : undefined,
      s.chart ? `chart ${s.chart}` : undefined,
      s.ref ? `ref ${s.ref}` : undefined,
      s.targetRevision ? `targetRevision ${s.targetRevision}` : undefined
    ].filter(Boolean)
    return `${i + 1}. ${s.repoURL ?? '?'}${extra.length ? ` (${extra.join(', ')})` : ''}`
  })
  return (indexes ? indexes.map(i => all[i]!) : all).join('; ')
}

/** Our source: an index, or undefined for "every source"; a warning when input `source` was set aside. */
export type SourceChoice = { index: number | undefined; warning?: string } | { error: string }

/** The default: the only git source without a chart, else every source (no revision to place). */
function defaultSource(app: Application, revision: string | undefined): SourceChoice {
  if (!isMultiSource(app)) return { index: 0 }
  const git = appSources(app).flatMap((s, i) =>
    s.chart || /^oci:\/\//i.test(s.repoURL ?? '') ? [] : [i]
  )
  if (git.length === 1) return { index: git[0]! }
  if (revision === undefined) return { index: undefined }
  const why =
    git.length === 0
      ? `has no git source without a chart (${listSources(app)})`
      : `has ${git.length} git sources without a chart (${listSources(app, git)})`
  return {
    error: `application "${app.metadata.name}" ${why}: set input "source" to the repoURL or name of the source that "revision" (${revision}) belongs to`
  }
}

/**
 * Which source `revision` belongs to. Input `source` names it (its repoURL or
 * name); without it, the only git source (no `chart`). When that is ambiguous and a
 * revision must be placed, a configuration error lists the candidates; without a
 * revision the verdict then compares every source. Without a revision, a `source`
 * that names no single source of the app (the reusable workflow passes its config
 * repository for every app) is set aside with a warning: nothing is placed by it.
 */
export function chooseSource(
  app: Application,
  input: string | undefined,
  revision: string | undefined
): SourceChoice {
  if (input === undefined) return defaultSource(app, revision)
  const name = app.metadata.name
  const hits = appSources(app).flatMap((s, i) => (sourceMatches(s, input) ? [i] : []))
  if (hits.length === 1) return { index: hits[0]! }
  const problem =
    hits.length === 0
      ? `input "source": got "${input}", which matches no source of application "${name}" (${listSources(app)})`
      : `input "source": got "${input}", which matches ${hits.length} sources of application "${name}" (${listSources(app, hits)})`
  if (revision === undefined) {
    const fallback = defaultSource(app, revision)
    if ('error' in fallback) return fallback
    return {
      ...fallback,
      warning: `${problem}; without "revision" it places nothing, so the app's own targetRevisions are synced and checked`
    }
  }
  return {
    error:
      hits.length === 0
        ? `${problem}; set it to the repoURL or name of one of them`
        : `${problem}; give those sources a name in the Application and set "source" to one of the names`
  }
}

/** The revision fields of a sync request for our source. */
export interface RevisionFields {
  revision?: string
  revisions?: string[]
  sourcePositions?: number[]
}

/**
 * The sync request's revision fields: the singular `revision` for a single-source
 * app; for a multi-source app `revisions` and `sourcePositions` (counted from 1,
 * JSON numbers: the server decodes them into int64 with Go's encoding/json), never
 * `revision`, which Argo CD ignores there.
 */
export function revisionFields(
  app: Application,
  index: number | undefined,
  revision: string | undefined
): RevisionFields {
  if (revision === undefined) return {}
  if (!isMultiSource(app)) return { revision }
  if (index === undefined) return {}
  return { revisions: [revision], sourcePositions: [index + 1] }
}

/** The live revision of each source, for the log: `live revision X` or one per source. */
export function liveRevisionsLine(app: Application, ours?: number): string {
  const live = revisionList(app, app.status?.sync)
  if (!isMultiSource(app)) return `live revision ${live[0] ?? 'unknown'}`
  const parts = appSources(app).map(
    (_, i) => `${sourceLabel(app, i)} ${live[i] || 'unknown'}${i === ours ? ' (ours)' : ''}`
  )
  return `live revisions: ${parts.join('; ')}`
}
