/**
 * What one tag rule yields in a context, before prefix, suffix and sanitising, as
 * docker/metadata-action computes it per type: `schedule` (scheduled runs only, its pattern
 * with `{{date}}`/`{{commit_date}}`), `semver` and `pep440` (a git tag or `value=`, narrowed
 * by `match=`; a pre-release gives `{{version}}` whatever the pattern, or `{{raw}}` when the
 * pattern is exactly that), `match` (a regular expression's group), `edge`, `ref`, `raw`,
 * `sha`. Each also says whether it makes `latest` under `latest=auto`: a git tag, a
 * non-pre-release version and a match do. Pure.
 */
import * as pep440 from '@renovatebot/pep440'
import semver from 'semver'
import { ConfigurationError } from '../../core/errors.js'
import type { MetadataContext } from './context.js'
import type { Where } from './expressions.js'
import {
  branchOf,
  expandGlobal,
  renderDate,
  renderWith,
  shortSha,
  tagOf,
  unknownExpression
} from './expressions.js'
import type { TagRule } from './rules.js'
import { isRawStatement } from './template.js'

/** A rule's value, and whether it makes `latest` under `latest=auto`. */
export interface RuleValue {
  value: string
  autoLatest: boolean
}

/** The names a semver or pep440 pattern knows. */
export const VERSION_EXPRESSIONS = ['raw', 'version', 'major', 'minor', 'patch'] as const

/** Where a rule sits, for messages. */
export function ruleWhere(rule: TagRule): Where {
  return `input "tags" line ${rule.line} (${rule.text})`
}

function regex(source: string, flags: string, where: Where, attr: string): RegExp {
  try {
    return new RegExp(source, flags)
  } catch (error) {
    throw new ConfigurationError(
      `${where}: ${attr}= is not a valid regular expression: ${(error as Error).message}`
    )
  }
}

/** The version source of semver/pep440/match: `value=` (expanded) or the pushed git tag. */
function versionSource(
  rule: TagRule,
  ctx: MetadataContext,
  warnings: string[]
): string | undefined {
  const value = rule.attrs.value ?? ''
  if (!/^refs\/tags\//.test(ctx.ref) && value.length === 0) return undefined
  return value.length > 0 ? expandGlobal(value, ctx, ruleWhere(rule), warnings) : tagOf(ctx.ref)
}

/** semver/pep440: `match=` narrows the source to its first group; `/` becomes `-`. */
function narrowed(source: string, rule: TagRule, warnings: string[]): string {
  const where = ruleWhere(rule)
  let out = source
  const match = rule.attrs.match ?? ''
  if (match.length > 0) {
    const m = source.match(regex(match, '', where, 'match'))
    if (!m) warnings.push(`${where}: ${match} does not match ${source}`)
    else if (m[1] === undefined) {
      throw new ConfigurationError(
        `${where}: match=${match} has no capturing group; the version is group 1, as in match=v(\\d.\\d.\\d)$`
      )
    } else out = m[1]
  }
  return out.replace(/\//g, '-')
}

/** Render a semver/pep440 pattern with the version's parts. */
function renderVersion(pattern: string, where: Where, parts: ParsedVersion['parts']): string {
  return renderWith(pattern, where, expr => {
    if (!(VERSION_EXPRESSIONS as readonly string[]).includes(expr.name)) {
      throw unknownExpression(
        expr,
        `${where} pattern`,
        VERSION_EXPRESSIONS,
        ' (a pattern is rendered with the version only; use prefix= or suffix= for {{branch}}, {{sha}}, {{date}})'
      )
    }
    if (expr.params.length + expr.hash.size > 0) {
      throw new ConfigurationError(`${where}: ${expr.source}: {{${expr.name}}} takes no arguments`)
    }
    return parts[expr.name as keyof typeof parts]
  })
}

/** A version's parts for its pattern, and whether it is a pre-release (dev, post for PEP 440). */
interface ParsedVersion {
  parts: Readonly<Record<(typeof VERSION_EXPRESSIONS)[number], string | number>>
  prerelease: boolean
}

function parseSemver(raw: string, where: Where, warnings: string[]): ParsedVersion | undefined {
  if (!semver.valid(raw)) {
    warnings.push(`${where}: ${raw} is not a valid semver (https://semver.org/); no tag`)
    return undefined
  }
  const v = semver.parse(raw, { loose: true })!
  return {
    parts: { raw: v.raw, version: v.version, major: v.major, minor: v.minor, patch: v.patch },
    prerelease: semver.prerelease(raw) !== null
  }
}

function parsePep440(raw: string, where: Where, warnings: string[]): ParsedVersion | undefined {
  const v = pep440.valid(raw) ? pep440.explain(raw) : null
  if (!v) {
    warnings.push(
      `${where}: ${raw} does not conform to PEP 440 (https://peps.python.org/pep-0440/); no tag`
    )
    return undefined
  }
  const version = pep440.clean(raw) ?? raw
  return {
    parts: {
      raw,
      version,
      major: pep440.major(raw),
      minor: pep440.minor(raw),
      patch: pep440.patch(raw)
    },
    prerelease: v.is_prerelease || v.is_postrelease || v.is_devrelease
  }
}

/**
 * semver/pep440: the pattern rendered with the version; a pre-release gives `{{version}}`
 * whatever the pattern (`{{raw}}` when the pattern is exactly that), and no automatic latest.
 */
function versionValue(
  rule: TagRule,
  ctx: MetadataContext,
  warnings: string[],
  parse: (raw: string, where: Where, warnings: string[]) => ParsedVersion | undefined
): RuleValue | undefined {
  const source = versionSource(rule, ctx, warnings)
  if (source === undefined) return undefined
  const where = ruleWhere(rule)
  const v = parse(narrowed(source, rule, warnings), where, warnings)
  if (!v) return undefined
  const pattern = rule.attrs.pattern!
  if (v.prerelease) {
    const fallback = isRawStatement(pattern) ? pattern : '{{version}}'
    return { value: renderVersion(fallback, where, v.parts), autoLatest: false }
  }
  return { value: renderVersion(pattern, where, v.parts), autoLatest: true }
}

function matchValue(
  rule: TagRule,
  ctx: MetadataContext,
  warnings: string[]
): RuleValue | undefined {
  const source = versionSource(rule, ctx, warnings)
  if (source === undefined) return undefined
  const where = ruleWhere(rule)
  const pattern = rule.attrs.pattern!
  // `/re/flags` is a regular expression with flags; anything else is the expression itself.
  const literal = /^\/(.+)\/(.*)$/.exec(pattern)
  const re = literal
    ? regex(literal[1]!, literal[2]!, where, 'pattern')
    : regex(pattern, '', where, 'pattern')
  const m = source.match(re)
  if (!m) {
    warnings.push(`${where}: ${pattern} does not match ${source}; no tag`)
    return undefined
  }
  const group = m[Number(rule.attrs.group)]
  if (group === undefined) {
    warnings.push(`${where}: group ${rule.attrs.group} does not exist for ${pattern}; no tag`)
    return undefined
  }
  return { value: group, autoLatest: true }
}

function scheduleValue(
  rule: TagRule,
  ctx: MetadataContext,
  warnings: string[]
): RuleValue | undefined {
  if (!/schedule/.test(ctx.eventName)) return undefined
  const where = ruleWhere(rule)
  const value = renderWith(rule.attrs.pattern!, where, expr => {
    if (expr.name === 'date') return renderDate(ctx.now, expr, where, warnings)
    if (expr.name === 'commit_date') return renderDate(ctx.commitDate, expr, where, warnings)
    throw unknownExpression(
      expr,
      `${where} pattern`,
      ['date', 'commit_date'],
      ' (metadata-action renders other names as nothing in a schedule pattern; use prefix= or suffix= for them)'
    )
  })
  return { value, autoLatest: false }
}

/** The value one (enabled) rule yields in the context; undefined when it does not apply. */
export function ruleValue(
  rule: TagRule,
  ctx: MetadataContext,
  warnings: string[]
): RuleValue | undefined {
  const a = rule.attrs
  switch (rule.type) {
    case 'schedule':
      return scheduleValue(rule, ctx, warnings)
    case 'semver':
      return versionValue(rule, ctx, warnings, parseSemver)
    case 'pep440':
      return versionValue(rule, ctx, warnings, parsePep440)
    case 'match':
      return matchValue(rule, ctx, warnings)
    case 'ref':
      if (a.event === 'branch') {
        return /^refs\/heads\//.test(ctx.ref)
          ? { value: branchOf(ctx.ref), autoLatest: false }
          : undefined
      }
      if (a.event === 'tag') {
        return /^refs\/tags\//.test(ctx.ref)
          ? { value: tagOf(ctx.ref), autoLatest: true }
          : undefined
      }
      if (!/^refs\/pull\//.test(ctx.ref)) return undefined
      return {
        value: ctx.ref.replace(/^refs\/pull\//g, '').replace(/\/merge$/g, ''),
        autoLatest: false
      }
    case 'edge': {
      if (!/^refs\/heads\//.test(ctx.ref)) return undefined
      const branch = a.branch !== '' ? a.branch : ctx.repo.defaultBranch
      return branch === branchOf(ctx.ref) ? { value: 'edge', autoLatest: false } : undefined
    }
    case 'raw':
      return { value: expandGlobal(a.value!, ctx, ruleWhere(rule), warnings), autoLatest: false }
    case 'sha':
      if (!ctx.sha) return undefined
      return { value: a.format === 'long' ? ctx.sha : shortSha(ctx), autoLatest: false }
  }
}
