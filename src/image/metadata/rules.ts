/**
 * The `tags` and `flavor` inputs read as docker/metadata-action reads them: one rule per
 * line, comma-separated `key=value` attributes (a field may be quoted: `"pattern=\d{1,3}"`),
 * a bare field is the `value` (`type=raw,foo`, or just `foo`), defaults per type
 * (`schedule` pattern `nightly`, `ref,event=pr` prefix `pr-`, `sha` prefix `sha-` and
 * format `short`, `match` group `0`) and default priorities, rules sorted by priority
 * (stable). Stricter than metadata-action where it would silently ignore a mistake: an
 * attribute the type does not use, an empty attribute name, a priority or group that is not
 * a number, a flavor value holding `=` are errors naming the line. Pure.
 */
import { ConfigurationError } from '../../core/errors.js'
import { didYouMeanHint } from '../../core/did-you-mean.js'
import { FieldSyntaxError, splitFields } from './csv.js'

/** The rule types, as metadata-action names them. */
export const TAG_TYPES = [
  'schedule',
  'semver',
  'pep440',
  'match',
  'edge',
  'ref',
  'raw',
  'sha'
] as const
/** One of `TAG_TYPES`. */
export type TagType = (typeof TAG_TYPES)[number]

/** metadata-action's default priority of each type (higher first). */
export const DEFAULT_PRIORITIES: Readonly<Record<TagType, number>> = {
  schedule: 1000,
  semver: 900,
  pep440: 900,
  match: 800,
  edge: 700,
  ref: 600,
  raw: 200,
  sha: 100
}

const COMMON = ['type', 'enable', 'priority', 'prefix', 'suffix']
const ATTRIBUTES: Readonly<Record<TagType, readonly string[]>> = {
  schedule: ['pattern'],
  semver: ['pattern', 'value', 'match'],
  pep440: ['pattern', 'value', 'match'],
  match: ['pattern', 'group', 'value'],
  edge: ['branch'],
  ref: ['event'],
  raw: ['value'],
  sha: ['format']
}

/** One rule of the `tags` input, with metadata-action's defaults filled in. */
export interface TagRule {
  type: TagType
  /**
   * The attributes after defaults: `enable` (default `true`), `pattern`, `value`, `match`,
   * `group`, `branch`, `event`, `format`. `prefix`/`suffix` are present only when the line
   * (or the type's default) sets them: an absent one lets the flavor's apply.
   */
  attrs: Readonly<Record<string, string>>
  priority: number
  /** 1-based line in the input, and the line as written, for messages. */
  line: number
  text: string
}

/** The `flavor` input: `latest=auto|true|false`, `prefix=`, `suffix=`, each with `onlatest=`. */
export interface Flavor {
  latest: 'auto' | 'true' | 'false'
  /** Whether the input set `latest=` (Conveyor's defaults pick their own otherwise). */
  latestSet: boolean
  prefix: string
  prefixLatest: boolean
  suffix: string
  suffixLatest: boolean
}

/** A rule line error: names the input, the line, what it got and what was expected. */
export function ruleError(
  input: string,
  line: number,
  text: string,
  expected: string
): ConfigurationError {
  return new ConfigurationError(
    `input "${input}" line ${line}: got ${JSON.stringify(text)}, expected ${expected}`
  )
}

function fieldsOf(input: string, line: number, text: string): string[] {
  try {
    return splitFields(text)
  } catch (error) {
    if (error instanceof FieldSyntaxError) throw ruleError(input, line, text, error.message)
    throw error
  }
}

/** Parse one rule line (1-based `line` for messages). */
export function parseTagRule(text: string, line: number): TagRule {
  const attrs: Record<string, string> = {}
  let type: TagType | undefined
  for (const field of fieldsOf('tags', line, text)) {
    // metadata-action splits at the first `=`; a field without one is the value.
    const at = field.indexOf('=')
    if (field.trim() === '') continue
    if (at < 0) {
      if (Object.hasOwn(attrs, 'value')) {
        throw ruleError(
          'tags',
          line,
          text,
          'one value (a bare field is the value, given twice here)'
        )
      }
      attrs.value = field.trim()
      continue
    }
    const key = field.slice(0, at).trim().toLowerCase()
    const value = field.slice(at + 1).trim()
    if (key === '')
      throw ruleError('tags', line, text, 'key=value attributes (a field starts with "=")')
    if (key === 'type' ? type !== undefined : Object.hasOwn(attrs, key)) {
      throw ruleError('tags', line, text, `each attribute at most once (${key}= is repeated)`)
    }
    if (key === 'type') {
      if (!(TAG_TYPES as readonly string[]).includes(value)) {
        throw ruleError(
          'tags',
          line,
          text,
          `a type among ${TAG_TYPES.join(', ')}${didYouMeanHint(value, TAG_TYPES)}`
        )
      }
      type = value as TagType
    } else attrs[key] = value
  }
  type ??= 'raw'
  const allowed = [...COMMON, ...ATTRIBUTES[type]]
  for (const key of Object.keys(attrs)) {
    if (allowed.includes(key)) continue
    const what =
      key === 'value' ? 'a bare field (taken as value=)' : `attribute ${JSON.stringify(key)}`
    throw ruleError(
      'tags',
      line,
      text,
      `attributes of type=${type} only (${allowed.join(', ')}); ${what} is not one${key !== 'value' ? didYouMeanHint(key, allowed) : ''}`
    )
  }
  const need = (key: string, example: string): void => {
    if (!Object.hasOwn(attrs, key))
      throw ruleError('tags', line, text, `type=${type} with ${example}`)
  }
  switch (type) {
    case 'schedule':
      attrs.pattern ??= 'nightly'
      break
    case 'semver':
    case 'pep440':
      need('pattern', 'a pattern= such as {{version}}')
      attrs.value ??= ''
      attrs.match ??= ''
      break
    case 'match':
      need('pattern', 'a pattern= regular expression')
      attrs.group ??= '0'
      attrs.value ??= ''
      if (!/^\d+$/.test(attrs.group)) {
        throw ruleError(
          'tags',
          line,
          text,
          'group= as the number of a capturing group (0 for the whole match)'
        )
      }
      break
    case 'edge':
      attrs.branch ??= ''
      break
    case 'ref':
      if (!['branch', 'tag', 'pr'].includes(attrs.event ?? '')) {
        throw ruleError('tags', line, text, 'type=ref with event=branch, event=tag or event=pr')
      }
      if (attrs.event === 'pr') attrs.prefix ??= 'pr-'
      break
    case 'raw':
      need('value', 'a value (type=raw,value=foo, type=raw,foo or just foo)')
      break
    case 'sha':
      attrs.prefix ??= 'sha-'
      attrs.format ??= 'short'
      if (attrs.format !== 'short' && attrs.format !== 'long') {
        throw ruleError('tags', line, text, 'type=sha with format=short or format=long')
      }
      break
  }
  attrs.enable ??= 'true'
  let priority = DEFAULT_PRIORITIES[type]
  if (attrs.priority !== undefined) {
    if (attrs.priority.trim() === '' || !Number.isFinite(Number(attrs.priority))) {
      throw ruleError('tags', line, text, 'priority= as a number (higher comes first)')
    }
    priority = Number(attrs.priority)
  }
  return { type, attrs, priority, line, text }
}

/**
 * Parse the rule lines of the `tags` input (blank lines and `#` comment lines skipped),
 * highest priority first; rules of equal priority keep their order.
 */
export function parseTagRules(lines: readonly string[]): TagRule[] {
  const rules: TagRule[] = []
  lines.forEach((raw, index) => {
    const text = raw.trim()
    if (text === '' || text.startsWith('#')) return
    rules.push(parseTagRule(text, index + 1))
  })
  return rules.sort((a, b) => b.priority - a.priority)
}

/** Parse the `flavor` input lines (blank lines and `#` comment lines skipped). */
export function parseFlavor(lines: readonly string[]): Flavor {
  const flavor: Flavor = {
    latest: 'auto',
    latestSet: false,
    prefix: '',
    prefixLatest: false,
    suffix: '',
    suffixLatest: false
  }
  const keys = ['latest', 'prefix', 'suffix', 'onlatest']
  lines.forEach((raw, index) => {
    const text = raw.trim()
    const line = index + 1
    if (text === '' || text.startsWith('#')) return
    let onlatestFor: 'prefix' | 'suffix' | undefined
    for (const field of fieldsOf('flavor', line, text)) {
      if (field.trim() === '') continue
      const parts = field.split('=').map(p => p.trim())
      if (parts.length === 1) {
        throw ruleError(
          'flavor',
          line,
          text,
          'key=value entries (latest=, prefix=, suffix=, onlatest=)'
        )
      }
      if (parts.length > 2) {
        throw ruleError(
          'flavor',
          line,
          text,
          `one "=" per entry (${JSON.stringify(field)} has more)`
        )
      }
      const [key, value] = [parts[0]!.toLowerCase(), parts[1]!]
      switch (key) {
        case 'latest':
          if (value !== 'auto' && value !== 'true' && value !== 'false') {
            throw ruleError('flavor', line, text, 'latest=auto, latest=true or latest=false')
          }
          flavor.latest = value
          flavor.latestSet = true
          break
        case 'prefix':
        case 'suffix':
          flavor[key] = value
          onlatestFor = key
          break
        case 'onlatest':
          if (value !== 'true' && value !== 'false') {
            throw ruleError('flavor', line, text, 'onlatest=true or onlatest=false')
          }
          // As metadata-action: onlatest= applies to the prefix= or suffix= before it on the line.
          if (onlatestFor === undefined) {
            throw ruleError(
              'flavor',
              line,
              text,
              'onlatest= after a prefix= or suffix= on the same line'
            )
          }
          flavor[onlatestFor === 'prefix' ? 'prefixLatest' : 'suffixLatest'] = value === 'true'
          break
        default: {
          throw ruleError(
            'flavor',
            line,
            text,
            `entries ${keys.map(k => `${k}=`).join(', ')}${didYouMeanHint(key, keys)}`
          )
        }
      }
    }
  })
  return flavor
}
