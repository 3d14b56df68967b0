/**
 * Image tags computed the way docker/metadata-action does, from one rule per line:
 * `type=ref,event=branch`, `type=ref,event=tag`, `type=ref,event=pr`,
 * `type=semver,pattern={{version}}`, `type=sha[,format=long]`, `type=raw,value=v1`,
 * `type=edge`, `type=schedule`, with `enable=`, `prefix=`, `suffix=` and `priority=`.
 * Pure: the git context comes in as an argument. Invalid characters are sanitised as
 * metadata-action does; a tag that cannot be made valid is a ConfigurationError.
 */
import semver from 'semver'
import { ConfigurationError } from '../core/errors.js'
import { isValidTag } from '../model/image-ref.js'

/** What the tags are computed from (the workflow run's git context). */
export interface TagContext {
  eventName: string
  /** `refs/heads/main`, `refs/tags/v1.2.3`, `refs/pull/12/merge`. */
  ref: string
  sha: string
  defaultBranch?: string
  /** Pull request number for pull_request events. */
  prNumber?: number
  /** Base branch of a pull request (`{{base_ref}}`). */
  baseRef?: string
  /** For `{{date ...}}` and schedule tags (default now). */
  now?: Date
}

/** The rules used when the `tags` input is empty. */
export const DEFAULT_TAG_RULES = [
  'type=schedule',
  'type=ref,event=branch',
  'type=ref,event=tag',
  'type=ref,event=pr',
  'type=semver,pattern={{version}}',
  'type=semver,pattern={{major}}.{{minor}}',
  'type=sha',
  'type=raw,value=latest,enable={{is_default_branch}}'
]

/** One parsed rule. */
export interface TagRule {
  type: 'schedule' | 'semver' | 'ref' | 'edge' | 'raw' | 'sha'
  attrs: Record<string, string>
  enable: string
  prefix: string
  suffix: string
  priority: number
  line: number
}

const TYPES = ['schedule', 'semver', 'ref', 'edge', 'raw', 'sha'] as const
const PRIORITY: Record<TagRule['type'], number> = {
  schedule: 1000,
  semver: 900,
  edge: 700,
  ref: 600,
  raw: 200,
  sha: 100
}
const KNOWN_ATTRS: Record<TagRule['type'], string[]> = {
  schedule: ['pattern'],
  semver: ['pattern', 'value'],
  ref: ['event'],
  edge: ['branch'],
  raw: ['value'],
  sha: ['format']
}

function lineError(line: number, text: string, expected: string): ConfigurationError {
  return new ConfigurationError(
    `input "tags" line ${line}: got ${JSON.stringify(text)}, expected ${expected}`
  )
}

/** Split `a=1,b={{date 'x,y'}}` at commas outside quotes and braces. */
function splitAttrs(text: string): string[] {
  const out: string[] = []
  let depth = 0
  let quote = ''
  let cur = ''
  for (const ch of text) {
    if (quote) {
      if (ch === quote) quote = ''
    } else if (ch === "'" || ch === '"') quote = ch
    else if (ch === '{') depth++
    else if (ch === '}') depth = Math.max(0, depth - 1)
    else if (ch === ',' && depth === 0) {
      out.push(cur)
      cur = ''
      continue
    }
    cur += ch
  }
  out.push(cur)
  return out.map(s => s.trim()).filter(s => s !== '')
}

/** Parse rule lines (blank lines and `#` comments skipped); a line without `type=` is raw. */
export function parseTagRules(lines: readonly string[]): TagRule[] {
  const rules: TagRule[] = []
  lines.forEach((raw, index) => {
    const text = raw.trim()
    const line = index + 1
    if (text === '' || text.startsWith('#')) return
    const attrs: Record<string, string> = {}
    if (!/^type\s*=/.test(text)) {
      // A bare line is a raw tag as written: it must already be a valid tag (a YAML list
      // item such as "- type: raw" is a mistake, not something to sanitise).
      if (!isValidTag(text)) {
        throw lineError(line, text, 'type=<kind>,... or a valid tag ([A-Za-z0-9_.-], up to 128)')
      }
      attrs.type = 'raw'
      attrs.value = text
    } else {
      for (const part of splitAttrs(text)) {
        const at = part.indexOf('=')
        if (at <= 0) throw lineError(line, text, 'comma-separated key=value attributes')
        attrs[part.slice(0, at).trim().toLowerCase()] = part.slice(at + 1).trim()
      }
    }
    const type = attrs.type as TagRule['type']
    if (!TYPES.includes(type)) {
      throw lineError(line, text, `a type among ${TYPES.map(t => `type=${t}`).join(', ')}`)
    }
    const allowed = new Set([
      'type',
      'enable',
      'prefix',
      'suffix',
      'priority',
      ...KNOWN_ATTRS[type]
    ])
    for (const key of Object.keys(attrs)) {
      if (!allowed.has(key)) {
        throw lineError(line, text, `attributes of type=${type}: ${[...allowed].join(', ')}`)
      }
    }
    if (type === 'ref' && !['branch', 'tag', 'pr'].includes(attrs.event ?? '')) {
      throw lineError(line, text, 'type=ref with event=branch, event=tag or event=pr')
    }
    if (type === 'raw' && !attrs.value) throw lineError(line, text, 'type=raw with a value=')
    if (type === 'semver' && !attrs.pattern) {
      throw lineError(line, text, 'type=semver with a pattern= such as {{version}}')
    }
    if (type === 'sha' && attrs.format && !['short', 'long'].includes(attrs.format)) {
      throw lineError(line, text, 'type=sha with format=short or format=long')
    }
    for (const [key, value] of Object.entries(attrs)) {
      for (const m of value.matchAll(/\{\{\s*([^}]*?)\s*\}\}/g)) {
        const name = m[1]!.split(/\s+/)[0]!
        const known = ['branch', 'tag', 'sha', 'base_ref', 'is_default_branch', 'date']
        const pattern =
          type === 'semver' && key === 'pattern'
            ? ['version', 'major', 'minor', 'patch', 'raw']
            : []
        if (![...known, ...pattern].includes(name)) {
          throw lineError(
            line,
            text,
            `known expressions only ({{${[...known, ...pattern].join('}}, {{')}}})`
          )
        }
      }
    }
    if (attrs.priority !== undefined && !/^\d+$/.test(attrs.priority)) {
      throw lineError(line, text, 'priority= as a whole number')
    }
    rules.push({
      type,
      attrs,
      enable: attrs.enable ?? 'true',
      prefix:
        attrs.prefix ??
        (type === 'sha' ? 'sha-' : type === 'ref' && attrs.event === 'pr' ? 'pr-' : ''),
      suffix: attrs.suffix ?? '',
      priority: attrs.priority !== undefined ? Number(attrs.priority) : PRIORITY[type],
      line
    })
  })
  return rules
}

/** The branch of the context: the pushed branch, or a pull request's head... none for tags. */
function branchOf(ctx: TagContext): string | undefined {
  return ctx.ref.startsWith('refs/heads/') ? ctx.ref.slice('refs/heads/'.length) : undefined
}

function gitTagOf(ctx: TagContext): string | undefined {
  return ctx.ref.startsWith('refs/tags/') ? ctx.ref.slice('refs/tags/'.length) : undefined
}

function prNumberOf(ctx: TagContext): number | undefined {
  if (ctx.prNumber !== undefined) return ctx.prNumber
  const m = /^refs\/pull\/(\d+)\//.exec(ctx.ref)
  return m ? Number(m[1]) : undefined
}

function formatDate(now: Date, format: string): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0')
  return format
    .replace(/YYYY/g, String(now.getUTCFullYear()))
    .replace(/MM/g, p(now.getUTCMonth() + 1))
    .replace(/DD/g, p(now.getUTCDate()))
    .replace(/HH/g, p(now.getUTCHours()))
    .replace(/mm/g, p(now.getUTCMinutes()))
    .replace(/ss/g, p(now.getUTCSeconds()))
}

/** Whether the context is the default branch (`{{is_default_branch}}`). */
export function isDefaultBranch(ctx: TagContext): boolean {
  const branch = branchOf(ctx)
  return branch !== undefined && ctx.defaultBranch !== undefined && branch === ctx.defaultBranch
}

/** Expand the global expressions `{{branch}}`, `{{tag}}`, `{{sha}}`, `{{date 'F'}}`... */
export function expandExpressions(text: string, ctx: TagContext): string {
  return text.replace(/\{\{\s*([a-z_]+)(?:\s+'([^']*)')?\s*\}\}/g, (whole, name: string, arg) => {
    switch (name) {
      case 'branch':
        return branchOf(ctx) ?? ''
      case 'tag':
        return gitTagOf(ctx) ?? ''
      case 'sha':
        return ctx.sha.slice(0, 7)
      case 'base_ref':
        return ctx.baseRef ?? ''
      case 'is_default_branch':
        return String(isDefaultBranch(ctx))
      case 'date':
        return formatDate(ctx.now ?? new Date(), (arg as string | undefined) ?? 'YYYYMMDD')
      default:
        return whole
    }
  })
}

/** Make a string a valid tag the way metadata-action does: invalid runs become `-`. */
export function sanitizeTag(value: string): string {
  return value
    .replace(/[^a-zA-Z0-9._-]+/g, '-')
    .replace(/^[.-]+/, '')
    .slice(0, 128)
}

/** The value(s) one rule yields in a context (before prefix/suffix); [] when it does not apply. */
function ruleValues(rule: TagRule, ctx: TagContext): string[] {
  const a = rule.attrs
  switch (rule.type) {
    case 'schedule':
      return ctx.eventName === 'schedule' ? [expandExpressions(a.pattern ?? 'nightly', ctx)] : []
    case 'ref':
      if (a.event === 'branch') {
        const branch = branchOf(ctx)
        return branch !== undefined && !ctx.eventName.startsWith('pull_request') ? [branch] : []
      }
      if (a.event === 'tag') {
        const tag = gitTagOf(ctx)
        return tag !== undefined ? [tag] : []
      }
      {
        const pr = ctx.eventName.startsWith('pull_request') ? prNumberOf(ctx) : undefined
        return pr !== undefined ? [String(pr)] : []
      }
    case 'edge': {
      const branch = branchOf(ctx)
      const want = a.branch ?? ctx.defaultBranch
      return branch !== undefined && branch === want ? ['edge'] : []
    }
    case 'raw':
      return [expandExpressions(a.value ?? '', ctx)]
    case 'sha':
      return ctx.sha ? [a.format === 'long' ? ctx.sha : ctx.sha.slice(0, 7)] : []
    case 'semver': {
      const source = a.value ? expandExpressions(a.value, ctx) : gitTagOf(ctx)
      if (!source) return []
      const v = semver.parse(source.replace(/^v(?=\d)/i, ''), { loose: true })
      if (!v) return []
      const pattern = a.pattern ?? '{{version}}'
      const pre = v.prerelease.length > 0
      // As metadata-action: pre-releases only get the full version; 0.x gets no bare major.
      if (pre && !/^\s*\{\{\s*(version|raw)\s*\}\}\s*$/.test(pattern)) return []
      if (v.major === 0 && /^\s*\{\{\s*major\s*\}\}\s*$/.test(pattern)) return []
      return [
        expandExpressions(
          pattern
            .replace(/\{\{\s*version\s*\}\}/g, v.version)
            .replace(/\{\{\s*raw\s*\}\}/g, source)
            .replace(/\{\{\s*major\s*\}\}/g, String(v.major))
            .replace(/\{\{\s*minor\s*\}\}/g, String(v.minor))
            .replace(/\{\{\s*patch\s*\}\}/g, String(v.patch)),
          ctx
        )
      ]
    }
  }
}

/** One computed tag and the rule that made it (for the summary). */
export interface ComputedTag {
  tag: string
  rule: string
  priority: number
}

/**
 * Compute the tags of a context from rule lines (defaults when none), sorted by
 * priority, without duplicates. Throws ConfigurationError on a bad rule or a value
 * that cannot become a tag.
 */
export function computeTags(lines: readonly string[], ctx: TagContext): ComputedTag[] {
  const rules = parseTagRules(lines.length > 0 ? lines : DEFAULT_TAG_RULES)
  const out: ComputedTag[] = []
  const seen = new Set<string>()
  for (const rule of rules) {
    const enable = expandExpressions(rule.enable, ctx).trim()
    if (enable !== 'true' && enable !== 'false') {
      throw lineError(
        rule.line,
        `enable=${rule.enable}`,
        'enable=true, false or {{is_default_branch}}'
      )
    }
    if (enable === 'false') continue
    for (const value of ruleValues(rule, ctx)) {
      const full = `${expandExpressions(rule.prefix, ctx)}${value}${expandExpressions(rule.suffix, ctx)}`
      const tag = sanitizeTag(full)
      if (tag === '' || !isValidTag(tag)) {
        throw new ConfigurationError(
          `input "tags" line ${rule.line} (type=${rule.type}) makes ${JSON.stringify(full)}, which cannot be a tag: expected up to 128 of [A-Za-z0-9_.-], not starting with . or -`
        )
      }
      if (seen.has(tag)) continue
      seen.add(tag)
      out.push({
        tag,
        rule: `type=${rule.type}${rule.attrs.event ? `,event=${rule.attrs.event}` : ''}`,
        priority: rule.priority
      })
    }
  }
  return out.sort((a, b) => b.priority - a.priority)
}

/** The tag that stands for a content hash: `ctx-<64 hex>`. */
export function contextTag(hash: string): string {
  return `ctx-${hash.replace(/^sha256:/, '')}`
}
