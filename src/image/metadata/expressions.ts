/**
 * The global expressions of docker/metadata-action, usable in `value`, `prefix`, `suffix`
 * and `enable` of a tag rule, in the flavor's prefix and suffix, and in labels:
 * `{{branch}}`, `{{tag}}`, `{{sha}}`, `{{base_ref}}`, `{{is_default_branch}}`,
 * `{{is_not_default_branch}}`, `{{date '<format>' tz='<zone>'}}` and
 * `{{commit_date '<format>' tz='<zone>'}}`, with metadata-action's rules for each (the
 * default branch per event, `base_ref` from a tag push's payload, ...). An unknown
 * expression is an error (metadata-action renders it as nothing, which hides a typo). Pure.
 */
import { ConfigurationError } from '../../core/errors.js'
import { didYouMean } from '../../core/did-you-mean.js'
import { payloadField } from '../../core/context.js'
import type { MetadataContext } from './context.js'
import { DateFormatError, formatDate } from './date-format.js'
import type { Expression } from './template.js'
import { TemplateError, renderTemplate } from './template.js'

/** The global expression names. */
export const GLOBAL_EXPRESSIONS = [
  'branch',
  'tag',
  'sha',
  'base_ref',
  'is_default_branch',
  'is_not_default_branch',
  'date',
  'commit_date'
] as const

/** The branch of `refs/heads/<branch>`, or '' for any other ref. */
export function branchOf(ref: string): string {
  return /^refs\/heads\//.test(ref) ? ref.replace(/^refs\/heads\//g, '') : ''
}

/** The tag of `refs/tags/<tag>`, or '' for any other ref. */
export function tagOf(ref: string): string {
  return /^refs\/tags\//.test(ref) ? ref.replace(/^refs\/tags\//g, '') : ''
}

/** The short SHA (`DOCKER_METADATA_SHORT_SHA_LENGTH`, default 7). */
export function shortSha(ctx: MetadataContext): string {
  return ctx.sha.slice(0, ctx.shortShaLength)
}

/**
 * `{{base_ref}}`: a tag push's `base_ref` from the payload (without `refs/heads/`), a pull
 * request's base branch, '' otherwise.
 */
export function baseRefOf(ctx: MetadataContext): string {
  const pushBase = ctx.payload.base_ref
  if (/^refs\/tags\//.test(ctx.ref) && typeof pushBase === 'string') {
    return pushBase.replace(/^refs\/heads\//g, '')
  }
  const prBase = payloadField(ctx.payload, 'pull_request', 'base', 'ref')
  if (/^refs\/pull\//.test(ctx.ref) && typeof prBase === 'string') return prBase
  return ''
}

/**
 * `{{is_default_branch}}` as metadata-action decides it: the ref (less `refs/heads/`) is the
 * payload's `repository.default_branch`; or the event always runs on the default branch's
 * last commit (`create`, `discussion*`, `issues`, `schedule`: a scheduled run's payload has
 * no `repository`).
 */
export function isDefaultBranch(ctx: MetadataContext): boolean {
  const branch = ctx.ref.replace(/^refs\/heads\//g, '')
  if (branch === '') return false
  if (payloadField(ctx.payload, 'repository', 'default_branch') === branch) return true
  return /create|discussion|issues|schedule/.test(ctx.eventName)
}

/** Where an expression sits, for messages: `input "tags" line 2 (type=raw,...)`. */
export type Where = string

function fail(where: Where, message: string): ConfigurationError {
  return new ConfigurationError(`${where}: ${message}`)
}

/**
 * The date of `{{date ...}}` / `{{commit_date ...}}`: the first argument is a moment.js
 * format; `tz=` an IANA zone (default UTC). An unquoted format is what Handlebars makes of
 * it, an undefined variable, so moment's default format applies (with a warning).
 */
export function renderDate(date: Date, expr: Expression, where: Where, warnings: string[]): string {
  const usage = `{{${expr.name} 'YYYYMMDD'}} or {{${expr.name} 'YYYYMMDD-HHmmss' tz='Asia/Tokyo'}}`
  const [format, ...rest] = expr.params
  if (format === undefined) throw fail(where, `${expr.source} needs a format, as in ${usage}`)
  if (rest.length > 0) throw fail(where, `${expr.source} takes one format, as in ${usage}`)
  let text: string | undefined
  if (format.kind === 'string') text = format.value
  else if (
    format.kind === 'path' &&
    !(GLOBAL_EXPRESSIONS as readonly string[]).includes(format.path)
  ) {
    warnings.push(
      `${where}: ${expr.source} has an unquoted format, which Handlebars reads as an undefined variable, so the default format YYYY-MM-DDTHH:mm:ssZ applies (as in docker/metadata-action); quote it: {{${expr.name} '${format.path}'}}`
    )
  } else throw fail(where, `${expr.source}: the format must be quoted, as in ${usage}`)
  let zone = 'UTC'
  for (const [key, value] of expr.hash) {
    if (key !== 'tz')
      throw fail(where, `${expr.source}: unknown attribute ${key}=; only tz= is known`)
    if (value.kind !== 'string') {
      throw fail(where, `${expr.source}: the time zone must be quoted, as in tz='Asia/Tokyo'`)
    }
    zone = value.value
  }
  try {
    return formatDate(date, text, zone)
  } catch (error) {
    if (error instanceof DateFormatError) throw fail(where, `${expr.source}: ${error.message}`)
    throw error
  }
}

/** Render a template with the given expressions; template syntax errors name `where`. */
export function renderWith(
  template: string,
  where: Where,
  resolve: (expr: Expression) => string | number | undefined
): string {
  try {
    return renderTemplate(template, resolve)
  } catch (error) {
    if (error instanceof TemplateError) throw fail(where, error.message)
    throw error
  }
}

/** The error for an expression that is not among `known` in this place. */
export function unknownExpression(
  expr: Expression,
  where: Where,
  known: readonly string[],
  note = ''
): ConfigurationError {
  const hint = didYouMean(expr.name, known)
  return fail(
    where,
    `unknown expression ${expr.source}${hint ? ` (did you mean {{${hint}}}?)` : ''}; known here: ${known.map(k => `{{${k}}}`).join(', ')}${note}`
  )
}

/** Expand the global expressions in `template` (a rule's value, prefix, suffix, enable, or a label). */
export function expandGlobal(
  template: string,
  ctx: MetadataContext,
  where: Where,
  warnings: string[]
): string {
  return renderWith(template, where, expr => {
    if (
      expr.name !== 'date' &&
      expr.name !== 'commit_date' &&
      expr.params.length + expr.hash.size > 0
    ) {
      throw fail(where, `${expr.source}: {{${expr.name}}} takes no arguments`)
    }
    switch (expr.name) {
      case 'branch':
        return branchOf(ctx.ref)
      case 'tag':
        return tagOf(ctx.ref)
      case 'sha':
        return shortSha(ctx)
      case 'base_ref':
        return baseRefOf(ctx)
      case 'is_default_branch':
        return String(isDefaultBranch(ctx))
      case 'is_not_default_branch':
        return String(!isDefaultBranch(ctx))
      case 'date':
        return renderDate(ctx.now, expr, where, warnings)
      case 'commit_date':
        return renderDate(ctx.commitDate, expr, where, warnings)
      default:
        throw unknownExpression(expr, where, GLOBAL_EXPRESSIONS)
    }
  })
}
