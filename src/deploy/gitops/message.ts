/**
 * The deploy commit: its message from a template, the trailers that record where each
 * image came from, reading them back from history, and the monotonic guard's verdict.
 * Pure functions.
 */
import type { EditChange } from './edit.js'
import type { ImageUpdate, SourceInfo } from './updates.js'

/** Trailer keys. */
export const TRAILER = {
  repository: 'Conveyor-Source-Repository',
  commit: 'Conveyor-Source-Commit',
  time: 'Conveyor-Source-Time',
  services: 'Conveyor-Services',
  run: 'Conveyor-Run',
  update: 'Conveyor-Update'
} as const

/** The default commit message template. */
export const DEFAULT_TEMPLATE = `deploy{environment_suffix}: {title}

{changes}

Source: {source_repository}@{source_commit}
Run: {run_url}`

/** One service's old → new, for messages, the summary and the `updates` output. */
export interface UpdateRow {
  service: string
  old?: string
  new: string
  files: string[]
}

/** Collapse edit changes into one row per service. */
export function updateRows(
  updates: readonly ImageUpdate[],
  changes: readonly EditChange[]
): UpdateRow[] {
  return updates.flatMap(u => {
    const mine = changes.filter(c => c.service === u.service)
    if (mine.length === 0) return []
    const old = mine.find(c => c.old !== undefined)?.old
    return [{ service: u.service, old, new: u.ref, files: [...new Set(mine.map(c => c.file))] }]
  })
}

const short = (ref: string | undefined): string => {
  if (!ref) return '(none)'
  const at = ref.indexOf('@')
  const base = at >= 0 ? ref.slice(0, at) : ref
  const digest =
    at >= 0
      ? ref
          .slice(at + 1)
          .replace(/^sha256:/, '')
          .slice(0, 12)
      : ''
  const slash = base.lastIndexOf('/')
  const tail = base.slice(slash + 1)
  return digest ? `${tail}@${digest}` : tail
}

/** Fill a `{placeholder}` template. Unknown placeholders are left as written. */
export function renderTemplate(template: string, values: Record<string, string>): string {
  return template.replace(/\{([a-z_]+)\}/g, (m, k: string) => values[k] ?? m)
}

/** The commit message: the rendered template plus the trailers. */
export function commitMessage(options: {
  template?: string
  rows: readonly UpdateRow[]
  source?: SourceInfo
  runUrl?: string
  environment?: string
}): string {
  const { rows, source } = options
  const title =
    rows.length === 1
      ? `${rows[0]!.service} ${short(rows[0]!.old)} → ${short(rows[0]!.new)}`
      : `${rows.length} services (${rows.map(r => r.service).join(', ')})`
  const values: Record<string, string> = {
    title,
    services: rows.map(r => r.service).join(', '),
    changes: rows.map(r => `- ${r.service}: ${r.old ?? '(none)'} → ${r.new}`).join('\n'),
    source_repository: source?.repository ?? 'unknown',
    source_commit: source?.sha ?? 'unknown',
    short_sha: source?.sha.slice(0, 7) ?? 'unknown',
    run_url: options.runUrl ?? source?.runUrl ?? 'unknown',
    environment: options.environment ?? '',
    environment_suffix: options.environment ? `(${options.environment})` : ''
  }
  const body = renderTemplate(options.template || DEFAULT_TEMPLATE, values)
    .replace(/\r\n/g, '\n')
    .trimEnd()
  const trailers = [
    `${TRAILER.services}: ${rows.map(r => r.service).join(', ')}`,
    ...rows.map(r => `${TRAILER.update}: ${r.service} ${r.old ?? '-'} -> ${r.new}`),
    ...(source
      ? [
          `${TRAILER.repository}: ${source.repository}`,
          `${TRAILER.commit}: ${source.sha}`,
          ...(source.time ? [`${TRAILER.time}: ${source.time}`] : [])
        ]
      : []),
    ...(options.runUrl ? [`${TRAILER.run}: ${options.runUrl}`] : [])
  ]
  return `${body}\n\n${trailers.join('\n')}\n`
}

/** What one past deploy commit recorded. */
export interface DeployRecord {
  commit: string
  services: string[]
  repository?: string
  sha?: string
  time?: string
  /** Per service: the reference before and after, from `Conveyor-Update` trailers. */
  updates?: { service: string; old?: string; new: string }[]
}

/** Parse the trailers of a commit message (the last paragraph's `Key: value` lines). */
export function parseTrailers(message: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const line of message.split('\n')) {
    const m = /^(Conveyor-[A-Za-z-]+):\s*(.*)$/.exec(line.trim())
    if (m) out.set(m[1]!, m[2]!.trim())
  }
  return out
}

/** Deploy records from `git log --format=%H%x1f%B%x1e` output, newest first. */
export function parseDeployLog(log: string): DeployRecord[] {
  const out: DeployRecord[] = []
  for (const chunk of log.split('\x1e')) {
    const [commit, body] = chunk.replace(/^\n+/, '').split('\x1f')
    if (!commit || body === undefined) continue
    const t = parseTrailers(body)
    const services = t.get(TRAILER.services)
    if (!services) continue
    const updates: NonNullable<DeployRecord['updates']> = []
    for (const line of body.split('\n')) {
      const m = /^Conveyor-Update:\s*(\S+) (\S+) -> (\S+)\s*$/.exec(line.trim())
      if (m) updates.push({ service: m[1]!, ...(m[2] !== '-' ? { old: m[2] } : {}), new: m[3]! })
    }
    out.push({
      ...(updates.length > 0 ? { updates } : {}),
      commit: commit.trim(),
      services: services
        .split(',')
        .map(s => s.trim())
        .filter(Boolean),
      repository: t.get(TRAILER.repository),
      sha: t.get(TRAILER.commit),
      time: t.get(TRAILER.time)
    })
  }
  return out
}

/** How two source commits relate: from `git merge-base --is-ancestor` where known. */
export type Ancestry = 'same' | 'older' | 'newer' | 'diverged' | 'unknown'

/** The guard's verdict for one service. */
export interface GuardVerdict {
  allow: boolean
  reason: string
  record?: DeployRecord
}

/**
 * Whether deploying `source` for `service` may proceed, given the newest record of that
 * service. `ancestry` says how our commit relates to the recorded one; without it the
 * recorded commit times decide.
 */
export function guardVerdict(
  service: string,
  source: SourceInfo | undefined,
  record: DeployRecord | undefined,
  ancestry: Ancestry
): GuardVerdict {
  if (!source || !record?.sha) return { allow: true, reason: 'no earlier deploy recorded', record }
  if (record.repository && source.repository && record.repository !== source.repository) {
    return { allow: true, reason: `last deploy came from ${record.repository}`, record }
  }
  if (ancestry === 'same' || record.sha === source.sha) {
    return { allow: true, reason: 'same source commit', record }
  }
  if (ancestry === 'older') {
    return {
      allow: false,
      reason: `${service} already runs an image built from ${record.sha.slice(0, 12)}, a descendant of ${source.sha.slice(0, 12)}; refusing to roll back`,
      record
    }
  }
  if (ancestry === 'newer') return { allow: true, reason: 'newer source commit', record }
  const ours = source.time ? Date.parse(source.time) : NaN
  const theirs = record.time ? Date.parse(record.time) : NaN
  if (!Number.isNaN(ours) && !Number.isNaN(theirs) && theirs > ours) {
    return {
      allow: false,
      reason: `${service} already runs an image from ${record.sha.slice(0, 12)} (${record.time}), newer than ${source.sha.slice(0, 12)} (${source.time}); refusing to roll back`,
      record
    }
  }
  return { allow: true, reason: 'not older by commit time', record }
}

/**
 * The rows of a whole pull request branch: the updates recorded by its earlier commits
 * (newest first) merged with this run's rows; per service, the first old and the
 * latest new.
 */
export function branchRows(
  earlier: readonly DeployRecord[],
  current: readonly UpdateRow[]
): UpdateRow[] {
  const out = new Map<string, UpdateRow>()
  for (const rec of [...earlier].reverse()) {
    for (const u of rec.updates ?? []) {
      const prev = out.get(u.service)
      out.set(u.service, {
        service: u.service,
        old: prev ? prev.old : u.old,
        new: u.new,
        files: prev?.files ?? []
      })
    }
  }
  for (const r of current) {
    const prev = out.get(r.service)
    out.set(r.service, {
      ...r,
      old: prev ? prev.old : r.old,
      files: [...new Set([...(prev?.files ?? []), ...r.files])]
    })
  }
  return [...out.values()]
}
