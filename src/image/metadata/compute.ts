/**
 * Tags, version and labels from the `tags`, `flavor` and `labels` inputs, computed as
 * docker/metadata-action computes them: rules in priority order, each enabled rule's value
 * with its prefix and suffix (or the flavor's), invalid characters replaced by `-`; the
 * first value is the version, the others follow; `latest` is added when the first rule
 * that yields a value says so (`latest=auto`: a git tag, a non-pre-release version, a
 * match) or the flavor forces it. Where Conveyor differs, it is on purpose and listed in
 * actions/build/README.md: its own defaults when `tags` is empty; no automatic `latest` from a pull
 * request run; a tag Docker would refuse, an unknown expression or attribute is an error
 * naming the rule rather than a push that fails or a value silently dropped; an exact
 * duplicate tag is listed once. Pure.
 */
import { ConfigurationError } from '../../core/errors.js'
import { isValidTag } from '../../model/image-ref.js'
import type { MetadataContext } from './context.js'
import { expandGlobal } from './expressions.js'
import { ociLabels } from './labels.js'
import type { Flavor, TagRule } from './rules.js'
import { parseFlavor, parseTagRules } from './rules.js'
import { ruleValue, ruleWhere } from './values.js'

/** metadata-action's rules when `tags` is empty. */
export const METADATA_ACTION_DEFAULT_TAGS: readonly string[] = [
  'type=schedule',
  'type=ref,event=branch',
  'type=ref,event=tag',
  'type=ref,event=pr'
]

/**
 * Conveyor's documented rules when `tags` is empty (with `latest=false` unless the flavor
 * says): branch, git tag, `pr-<n>`, the version and `major.minor` of a semver tag, `sha-<short>`
 * and `latest` on the default branch only.
 */
export const CONVEYOR_DEFAULT_TAGS: readonly string[] = [
  'type=schedule',
  'type=ref,event=branch',
  'type=ref,event=tag',
  'type=ref,event=pr',
  'type=semver,pattern={{version}}',
  'type=semver,pattern={{major}}.{{minor}}',
  'type=sha',
  'type=raw,value=latest,enable={{is_default_branch}}'
]

/** The inputs, one entry per line as the user wrote them. */
export interface MetadataInputs {
  tags: readonly string[]
  flavor?: readonly string[]
  labels?: readonly string[]
  annotations?: readonly string[]
}

/** Which defaults apply when `tags` is empty. */
export interface ComputeOptions {
  /** `conveyor` (the build action) or `metadata-action` (its own, for comparisons). */
  defaults?: 'conveyor' | 'metadata-action'
}

/** The version: the first tag, the others, and whether `latest` is added. */
export interface Version {
  main: string | undefined
  partial: string[]
  latest: boolean
}

/** One tag and the rule (or flavor) that made it. */
export interface TagSource {
  tag: string
  rule: string
}

/** What the engine computes. */
export interface Metadata {
  version: Version
  /** Tag names in order: the version, the others, `latest` (flavor prefix/suffix on it if set). */
  tags: string[]
  sources: TagSource[]
  /** `key=value`, sorted by key: the OCI labels, then the `labels` input over them. */
  labels: string[]
  /** Same for the `annotations` input. */
  annotations: string[]
  /** What metadata-action would warn about (a value that is not a version, a pattern that does not match). */
  warnings: string[]
}

/** metadata-action's tag sanitising: each run of characters outside `[A-Za-z0-9._-]` becomes `-`. */
export function sanitizeTag(tag: string): string {
  return tag.replace(/[^a-zA-Z0-9._-]+/g, '-')
}

/** Whether the run is a pull request's (`pull_request`, `pull_request_target`, reviews). */
export function isPullRequestEvent(eventName: string): boolean {
  return /pull_request/.test(eventName)
}

function withAffixes(
  value: string,
  rule: TagRule,
  flavor: Flavor,
  ctx: MetadataContext,
  warnings: string[]
): string {
  const where = ruleWhere(rule)
  const expand = (text: string, what: string): string =>
    expandGlobal(text, ctx, `${where} ${what}`, warnings)
  const a = rule.attrs
  let out = value
  if (a.prefix !== undefined) out = `${expand(a.prefix, 'prefix')}${out}`
  else if (flavor.prefix.length > 0) out = `${expand(flavor.prefix, 'flavor prefix')}${out}`
  if (a.suffix !== undefined) out = `${out}${expand(a.suffix, 'suffix')}`
  else if (flavor.suffix.length > 0) out = `${out}${expand(flavor.suffix, 'flavor suffix')}`
  return out
}

function checkTag(tag: string, made: string, from: string): void {
  if (isValidTag(tag)) return
  throw new ConfigurationError(
    `${from} makes the tag ${JSON.stringify(tag)}${made !== tag ? ` (from ${JSON.stringify(made)})` : ''}, which a registry refuses: expected 1 to 128 of [A-Za-z0-9_.-], not starting with "." or "-"`
  )
}

/** The version and the tag sources from the parsed rules. */
function computeVersion(
  rules: readonly TagRule[],
  flavor: Flavor,
  ctx: MetadataContext,
  warnings: string[]
): { version: Version; sources: TagSource[] } {
  const version: Version = { main: undefined, partial: [], latest: false }
  let latest: boolean | undefined
  const sources: TagSource[] = []
  for (const rule of rules) {
    const where = ruleWhere(rule)
    const enabled = expandGlobal(rule.attrs.enable!, ctx, `${where} enable`, warnings)
    if (enabled !== 'true' && enabled !== 'false') {
      throw new ConfigurationError(
        `${where}: enable= gives ${JSON.stringify(enabled)}, expected true or false (or an expression that gives one, such as {{is_default_branch}})`
      )
    }
    if (enabled === 'false') continue
    const v = ruleValue(rule, ctx, warnings)
    if (v === undefined) continue
    const made = withAffixes(v.value, rule, flavor, ctx, warnings)
    if (made.length === 0) continue
    const tag = sanitizeTag(made)
    checkTag(tag, made, where)
    if (version.main === undefined) version.main = tag
    else if (tag !== version.main && !version.partial.includes(tag)) version.partial.push(tag)
    if (!sources.some(s => s.tag === tag)) sources.push({ tag, rule: rule.text })
    // The first rule that yields a value decides `latest`. Conveyor: never automatically
    // from a pull request run (only flavor latest=true or a rule's own value=latest).
    latest ??=
      flavor.latest === 'auto'
        ? v.autoLatest && !isPullRequestEvent(ctx.eventName)
        : flavor.latest === 'true'
  }
  version.latest = latest ?? false
  return { version, sources }
}

/**
 * Compute tags, version and labels. `inputs.tags` empty means the defaults (Conveyor's
 * unless `options.defaults` says metadata-action's). Throws ConfigurationError naming the
 * input and line for a bad rule, flavor, expression or a tag a registry would refuse.
 */
export function computeMetadata(
  inputs: MetadataInputs,
  ctx: MetadataContext,
  options: ComputeOptions = {}
): Metadata {
  const warnings: string[] = []
  const flavor = parseFlavor(inputs.flavor ?? [])
  const userRules = inputs.tags.filter(l => l.trim() !== '' && !l.trim().startsWith('#'))
  let rules: TagRule[]
  if (userRules.length > 0) rules = parseTagRules(inputs.tags)
  else if (options.defaults === 'metadata-action')
    rules = parseTagRules(METADATA_ACTION_DEFAULT_TAGS)
  else {
    rules = parseTagRules(CONVEYOR_DEFAULT_TAGS)
    if (!flavor.latestSet) flavor.latest = 'false' // latest comes from the default branch rule only
  }
  const { version, sources } = computeVersion(rules, flavor, ctx, warnings)
  const tags: string[] = []
  if (version.main !== undefined) {
    tags.push(version.main, ...version.partial)
    if (version.latest) {
      // As metadata-action: the flavor's prefix/suffix are put on `latest` as written.
      const made = `${flavor.prefixLatest ? flavor.prefix : ''}latest${flavor.suffixLatest ? flavor.suffix : ''}`
      const tag = sanitizeTag(made)
      checkTag(tag, made, 'input "flavor"')
      if (!tags.includes(tag)) tags.push(tag)
      if (!sources.some(s => s.tag === tag))
        sources.push({ tag, rule: `flavor latest=${flavor.latest}` })
    }
  }
  return {
    version,
    tags,
    sources,
    labels: ociLabels(version.main, ctx, inputs.labels ?? [], 'labels', warnings),
    annotations: ociLabels(version.main, ctx, inputs.annotations ?? [], 'annotations', warnings),
    warnings
  }
}

/** Full references: each image (lower-cased, as metadata-action does) with each tag. */
export function imageTags(images: readonly string[], tags: readonly string[]): string[] {
  return images.flatMap(image => tags.map(tag => `${image.toLowerCase()}:${tag}`))
}
