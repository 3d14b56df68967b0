/**
 * What a plan produces: the matrix (short entries, so 256 legs stay far below the
 * 1 MB output limit), the step summary with the reason for every selection, and a
 * Mermaid graph of the services with the selected ones highlighted. Pure.
 */
import { ConfigurationError } from '../core/errors.js'
import { reasonText, type Reason, type Selection } from './select.js'
import type { ServicesConfig } from '../model/services/config.js'
import { Summary, cell, code } from '../core/summary.js'

/** GitHub's limit of jobs one matrix may generate. */
export const GITHUB_MATRIX_LIMIT = 256

/** One matrix leg. */
export interface MatrixEntry {
  service: string
  path: string
  context: string
  dockerfile: string
  image: string
  /** Comma separated, as build tools take them. */
  platforms: string
  'cache-scope': string
  reasons: string[]
}

/** The cache scope of a service (letters, digits, `-_.`). */
export function cacheScope(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, '-')
}

/** The matrix for the selected services; throws past `maxJobs` with how to split. */
export function buildMatrix(
  config: ServicesConfig,
  selection: Selection,
  maxJobs: number
): { include: MatrixEntry[] } {
  const names = selection.selected
  if (names.length > maxJobs) {
    throw new ConfigurationError(
      `${names.length} services are selected but input "max-jobs" allows ${maxJobs} matrix jobs` +
        (maxJobs < GITHUB_MATRIX_LIMIT
          ? ` (raise it up to ${GITHUB_MATRIX_LIMIT}, GitHub's limit per matrix, or split)`
          : ` (GitHub's limit per matrix)`) +
        `: split the services across several services files (each with its own plan and build jobs, the plan's "config" input naming the file), e.g. ${Math.ceil(names.length / maxJobs)} files of at most ${maxJobs} services`
    )
  }
  const byName = new Map(config.services.map(s => [s.name, s]))
  const include = names.map(name => {
    const s = byName.get(name)!
    const reasons = selection.reasons.get(name) ?? []
    const shown = reasons.slice(0, 3).map(r => reasonText(r, 100))
    if (reasons.length > 3) shown.push(`+${reasons.length - 3} more rules`)
    return {
      service: s.name,
      path: s.path,
      context: s.context,
      dockerfile: s.dockerfile,
      image: s.image,
      platforms: s.platforms.join(','),
      'cache-scope': cacheScope(s.name),
      reasons: shown
    }
  })
  return { include }
}

/** A Mermaid node id for a service name. */
function nodeId(name: string): string {
  return `s_${name.replace(/[^A-Za-z0-9_]/g, '_')}`
}

/** A Mermaid flowchart of the services and their dependencies; selected ones highlighted. */
export function mermaidGraph(config: ServicesConfig, selected: ReadonlySet<string>): string {
  const lines = ['flowchart LR']
  for (const s of config.services) {
    lines.push(`  ${nodeId(s.name)}["${s.name.replace(/"/g, '#quot;')}"]`)
  }
  for (const s of config.services) {
    for (const d of s.dependsOn) lines.push(`  ${nodeId(s.name)} --> ${nodeId(d)}`)
  }
  lines.push('  classDef selected fill:#2da44e,stroke:#116329,color:#ffffff')
  lines.push('  classDef skipped fill:#eaeef2,stroke:#8c959f,color:#57606a')
  const sel = config.services.filter(s => selected.has(s.name)).map(s => nodeId(s.name))
  const skip = config.services.filter(s => !selected.has(s.name)).map(s => nodeId(s.name))
  if (sel.length > 0) lines.push(`  class ${sel.join(',')} selected`)
  if (skip.length > 0) lines.push(`  class ${skip.join(',')} skipped`)
  return lines.join('\n')
}

function reasonCells(r: Reason): [string, string] {
  switch (r.kind) {
    case 'all':
      return ['', r.why]
    case 'dependency':
      return ['', `depends-on ${r.on}${r.via.length > 1 ? ` (chain ${r.via.join(' → ')})` : ''}`]
    default:
      return [
        `${code(r.file).replace(/\|/g, '\\|')}${r.files > 1 ? ` +${r.files - 1} more` : ''}`,
        r.rule
      ]
  }
}

/** What the summary shows. */
export interface PlanReport {
  config: ServicesConfig
  selection: Selection
  deleted: string[]
  base?: string
  head: string
  why: string
  changedFiles: number
  changedFilesPath?: string
}

/** The step summary of a plan. */
export function planSummary(r: PlanReport): Summary {
  const s = new Summary().heading(
    `plan: ${r.selection.selected.length} of ${r.config.services.length} services selected`
  )
  s.paragraph(
    r.base
      ? `Compared ${code(r.base.slice(0, 12))}…${code(r.head.slice(0, 12))}: ${cell(r.why)}. ${r.changedFiles} changed file(s).`
      : `No base compared: ${cell(r.why)} (head ${code(r.head.slice(0, 12))}).`
  )
  if (r.config.file) s.paragraph(`Services file: ${code(r.config.file)}`)
  else s.paragraph('Services discovered from their Dockerfiles (no services file).')
  const rows: string[][] = []
  for (const name of r.selection.selected) {
    const reasons = r.selection.reasons.get(name) ?? []
    reasons.slice(0, 5).forEach((reason, i) => {
      const [file, rule] = reasonCells(reason)
      rows.push([i === 0 ? `**${name}**` : '', file, rule])
    })
    if (reasons.length > 5) rows.push(['', '', `+${reasons.length - 5} more rules`])
  }
  if (rows.length > 0) {
    // Cells are escaped by the table; the file column is already code-formatted.
    const header = '| service | file | rule |\n| --- | --- | --- |\n'
    s.raw(header + rows.map(([a, b, c]) => `| ${a} | ${b || ' '} | ${cell(c)} |`).join('\n'))
  } else s.paragraph('Nothing to build.')
  if (r.deleted.length > 0) {
    s.paragraph(`Deleted services (not built): ${r.deleted.map(code).join(', ')}`)
  }
  if (r.config.services.length > 0 && r.config.services.length <= 100) {
    s.raw('```mermaid\n' + mermaidGraph(r.config, new Set(r.selection.selected)) + '\n```')
  }
  return s
}
