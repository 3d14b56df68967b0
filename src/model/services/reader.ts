/**
 * Reading the services file's YAML nodes with errors that name the file, line, column
 * and key: a mapping with only known keys, a string (optionally matching a pattern), a
 * repository-relative path, a list, a glob, a platform. Values the file holds are
 * quoted only as a short prefix.
 */
import {
  isMap,
  isScalar,
  isSeq,
  type LineCounter,
  type Node as YamlNode,
  type Pair,
  type YAMLMap
} from 'yaml'
import { didYouMeanHint } from '../../core/did-you-mean.js'
import { ConfigurationError, FileConfigurationError, type FileLocation } from '../../core/errors.js'
import { normalizeRelPath, show, SHOWN } from './config.js'

const PLATFORM_RE = /^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/

/** `text` cut to `max` characters. */
export function shorten(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}… (${text.length} characters)` : text
}

/** A key path for an error: as written when short and printable, else quoted and cut. */
function showKey(key: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what is refused
  return key.length <= 2 * SHOWN && !/[\u0000-\u001f\u007f]/.test(key) ? key : show(key)
}

/** Errors located in one file: `file:line:col: key: message`. */
export class Located {
  constructor(
    private readonly file: string,
    private readonly lines: LineCounter
  ) {}

  /** The error for `node` (or the file's start), under the key path `key`. */
  at(node: YamlNode | null | undefined, key: string, message: string): ConfigurationError {
    const where = node?.range ? this.pos(node.range[0]) : ''
    return new FileConfigurationError(
      `${this.file}${where}: ${key ? `${showKey(key)}: ` : ''}${message}`.replace(/: $/, ''),
      node?.range ? this.location(node.range[0]) : { file: this.file, line: 1, col: 1 }
    )
  }

  /** `:line:col` of a source offset. */
  pos(offset: number): string {
    const p = this.lines.linePos(offset)
    return `:${p.line}:${p.col}`
  }

  /** The annotation location of a source offset. */
  location(offset: number): FileLocation {
    const p = this.lines.linePos(offset)
    return { file: this.file, line: p.line, col: p.col }
  }
}

/** A mapping pair's key as text. */
export function keyOf(pair: Pair): string {
  return isScalar(pair.key) ? String(pair.key.value) : String(pair.key)
}

/** A mapping pair's key node, for the place of an error. */
export function keyNode(pair: Pair): YamlNode | undefined {
  return (pair.key as YamlNode | null) ?? undefined
}

/** What a node holds, for an error: `a mapping`, `string "x"`, `nothing`. */
export function describe(node: unknown): string {
  if (node === null || node === undefined) return 'nothing'
  if (isMap(node)) return 'a mapping'
  if (isSeq(node)) return 'a list'
  if (isScalar(node)) {
    const v = node.value
    if (v === null) return 'nothing (null)'
    return `${typeof v} ${typeof v === 'string' ? show(v) : shorten(String(v), SHOWN)}`
  }
  return 'an unexpected value'
}

/** The typed readers of one file's nodes. */
export class Parser {
  constructor(readonly loc: Located) {}

  /** A mapping's pairs; a key outside `allowed` is an error with a hint. */
  map(node: YamlNode | null | undefined, key: string, allowed: readonly string[]): Pair[] {
    if (!isMap(node)) {
      throw this.loc.at(node, key, `expected a mapping, got ${describe(node)}`)
    }
    const pairs = (node as YAMLMap).items
    for (const pair of pairs) {
      const k = keyOf(pair)
      if (!allowed.includes(k)) {
        const path = key ? `${key}.${k}` : k
        throw this.loc.at(
          keyNode(pair) ?? node,
          path,
          `unknown key ${show(k)}${didYouMeanHint(k, allowed)}; expected one of ${allowed.join(', ')}`
        )
      }
    }
    return pairs
  }

  /** A non-empty scalar as text, matching `pattern` when given. */
  string(
    node: YamlNode | null | undefined,
    key: string,
    pattern?: RegExp,
    expected?: string
  ): string {
    if (!isScalar(node) || node.value === null || typeof node.value === 'object') {
      throw this.loc.at(node, key, `expected ${expected ?? 'a string'}, got ${describe(node)}`)
    }
    const value = String(node.value)
    if (value.trim() === '')
      throw this.loc.at(node, key, `expected ${expected ?? 'a string'}, got an empty string`)
    if (pattern && !pattern.test(value)) {
      throw this.loc.at(node, key, `got ${show(value)}, expected ${expected ?? pattern.source}`)
    }
    return value
  }

  /** A path inside the repository, normalised (see `normalizeRelPath`). */
  relPath(node: YamlNode | null | undefined, key: string): string {
    const value = this.string(node, key, undefined, 'a repository-relative path')
    const n = normalizeRelPath(value)
    if (n === undefined) {
      throw this.loc.at(
        node,
        key,
        `got ${show(value)}, expected a path relative to the repository root, inside it, with "/" separators`
      )
    }
    return n
  }

  /** A list of items (a lone string is a list of one). */
  list(
    node: YamlNode | null | undefined,
    key: string,
    item: (n: YamlNode | null | undefined, k: string) => string
  ): string[] {
    if (isScalar(node) && typeof node.value === 'string') return [item(node, key)]
    if (!isSeq(node)) throw this.loc.at(node, key, `expected a list, got ${describe(node)}`)
    return node.items.map((n, i) => item(n as YamlNode, `${key}[${i}]`))
  }

  /** A glob relative to the repository root. */
  glob = (n: YamlNode | null | undefined, k: string): string => {
    const value = this.string(n, k, undefined, 'a glob pattern')
    if (value.startsWith('/') || value.includes('\\')) {
      throw this.loc.at(
        n,
        k,
        `got ${show(value)}, expected a glob relative to the repository root with "/" separators`
      )
    }
    return value
  }

  /** A platform such as `linux/amd64`. */
  platform = (n: YamlNode | null | undefined, k: string): string =>
    this.string(n, k, PLATFORM_RE, 'a platform such as "linux/amd64" or "linux/arm/v7"')
}
