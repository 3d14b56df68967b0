/**
 * In-place YAML edits on top of `yaml`'s source ranges: a change replaces only the
 * bytes of the scalar it touches (or inserts / removes whole lines for a new or
 * dropped key), so comments, key order, quoting style, anchors, blank lines, document
 * markers and the other documents of a multi-document file survive byte for byte.
 * Values YAML 1.1 would read as something other than a string (`1.10`, `yes`, `on`,
 * `0o7`, ...) are written quoted.
 */
import {
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parse,
  parseAllDocuments,
  type Document,
  type Node as YamlNode,
  type Pair,
  type Scalar,
  type YAMLMap,
  type YAMLSeq
} from 'yaml'

/** One replacement of the source range [start, end) by `text`. */
interface Splice {
  start: number
  end: number
  text: string
}

const BOOL_NULL =
  /^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|null|Null|NULL|~)$/
const NUMBERISH = /^[-+]?(?:[0-9][0-9_]*)?(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?$/
const SEXAGESIMAL = /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$/
const PLAIN_SAFE = /^[A-Za-z0-9_/][A-Za-z0-9_./@:+=-]*$/

/**
 * Whether `value` must be quoted to stay a string under both YAML 1.1 and 1.2 readers
 * (Helm's and kustomize's YAML libraries differ on `1.10`, `yes`, `on`, `0o7`, ...).
 */
export function needsQuoting(value: string): boolean {
  if (value === '' || !PLAIN_SAFE.test(value) || value.endsWith(':')) return true
  if (BOOL_NULL.test(value) || NUMBERISH.test(value) || SEXAGESIMAL.test(value)) return true
  if (/^0[xXoObB]/.test(value) || /^[-+]?\.(?:inf|Inf|INF|nan|NaN|NAN)$/.test(value)) return true
  if (/^\d{4}-\d\d?-\d\d?/.test(value)) return true
  for (const version of ['1.1', '1.2'] as const) {
    try {
      if (parse(value, { version }) !== value) return true
    } catch {
      return true
    }
  }
  return false
}

/** The source text of a string scalar in a given style. */
export function formatScalar(value: string, style: Scalar.Type | undefined): string {
  if (style === 'QUOTE_SINGLE' && !/[\n\\]/.test(value)) return `'${value.replace(/'/g, "''")}'`
  if (style === 'QUOTE_DOUBLE' || style === 'QUOTE_SINGLE') return JSON.stringify(value)
  return needsQuoting(value) ? JSON.stringify(value) : value
}

/** A key of a map or an index of a sequence. */
export type PathSegment = string | number

/** A YAML file being edited: read through the parsed documents, write by splices. */
export class YamlEditor {
  readonly docs: Document.Parsed[]
  readonly lines = new LineCounter()
  private readonly splices: Splice[] = []
  /** The file's line ending, used for inserted lines (CRLF files stay CRLF). */
  readonly eol: string

  constructor(
    readonly source: string,
    readonly file = '<yaml>'
  ) {
    this.eol = /\r\n/.test(source) ? '\r\n' : '\n'
    this.docs = parseAllDocuments(source, { lineCounter: this.lines, keepSourceTokens: false })
    for (const doc of this.docs) {
      if (doc.errors.length > 0) {
        const e = doc.errors[0]!
        const at = e.linePos?.[0]
        throw new Error(
          `${file}${at ? `:${at.line}:${at.col}` : ''}: not valid YAML: ${e.message.split('\n')[0]}`
        )
      }
    }
  }

  /** 1-based line of a source offset. */
  lineOf(offset: number): number {
    return this.lines.linePos(offset).line
  }

  /** The node an alias points to, or the node itself. */
  resolve(node: unknown, doc: Document.Parsed): unknown {
    return isAlias(node) ? node.resolve(doc) : node
  }

  /** The node at `path` in document `docIndex`, or undefined. */
  get(docIndex: number, path: readonly PathSegment[]): unknown {
    const doc = this.docs[docIndex]
    if (!doc) return undefined
    let node: unknown = doc.contents
    for (const seg of path) {
      node = this.resolve(node, doc)
      if (typeof seg === 'number' && isSeq(node)) node = node.items[seg]
      else if (typeof seg === 'string' && isMap(node)) node = this.pairOf(node, seg)?.value
      else return undefined
    }
    return this.resolve(node, doc)
  }

  /** The pair of `map` with the string key `key`. */
  pairOf(map: YAMLMap, key: string): Pair<unknown, unknown> | undefined {
    return map.items.find(p => isScalar(p.key) && String(p.key.value) === key)
  }

  /** Replace the text of a scalar node, keeping its quoting style when possible. */
  setScalar(node: Scalar, value: string): boolean {
    if (!node.range) throw new Error(`${this.file}: scalar without a source range`)
    if (node.value === value && typeof node.value === 'string') return false
    let style = node.type
    if (style === 'BLOCK_FOLDED' || style === 'BLOCK_LITERAL') style = 'QUOTE_DOUBLE'
    this.splices.push({
      start: node.range[0],
      end: node.range[1],
      text: formatScalar(value, style)
    })
    return true
  }

  private lineStart(offset: number): number {
    return this.source.lastIndexOf('\n', offset - 1) + 1
  }

  private nextLineStart(offset: number): number {
    const nl = this.source.indexOf('\n', offset)
    return nl < 0 ? this.source.length : nl + 1
  }

  private column(offset: number): number {
    return offset - this.lineStart(offset)
  }

  /** Set `key` of a map to a string: update the scalar or insert a new line. */
  setKey(map: YAMLMap, key: string, value: string): boolean {
    const pair = this.pairOf(map, key)
    if (pair) {
      if (!isScalar(pair.value)) {
        throw new Error(`${this.file}: key "${key}" does not hold a scalar`)
      }
      return this.setScalar(pair.value, value)
    }
    this.insertKey(map, key, value)
    return true
  }

  /** Insert `key: value` at the end of a map (block or flow). */
  insertKey(map: YAMLMap, key: string, value: string): void {
    const text = `${formatScalar(key, 'PLAIN')}: ${formatScalar(value, 'PLAIN')}`
    if (!map.range) throw new Error(`${this.file}: map without a source range`)
    if (map.flow) {
      const close = this.source.lastIndexOf('}', map.range[1])
      const sep = map.items.length > 0 ? ', ' : ''
      this.splices.push({ start: close, end: close, text: `${sep}${text}` })
      return
    }
    const first = map.items[0]
    const last = map.items[map.items.length - 1]
    const keyNode = first?.key as YamlNode | undefined
    if (!first || !last || !keyNode?.range)
      throw new Error(`${this.file}: cannot add to an empty map`)
    const col = this.column(keyNode.range[0])
    const lastValue = (last.value ?? last.key) as YamlNode
    const at = this.nextLineStart(lastValue.range![1] - 1)
    const nl = at === this.source.length && !this.source.endsWith('\n') ? this.eol : ''
    this.splices.push({ start: at, end: at, text: `${nl}${' '.repeat(col)}${text}${this.eol}` })
  }

  /** Remove the line(s) of `key` from a block map. */
  deleteKey(map: YAMLMap, key: string): boolean {
    const pair = this.pairOf(map, key)
    if (!pair) return false
    const k = pair.key as YamlNode
    const v = (pair.value ?? pair.key) as YamlNode
    if (map.flow || map.items.length === 1) {
      throw new Error(`${this.file}: cannot remove "${key}" from this map in place`)
    }
    const start = this.lineStart(k.range![0])
    if (this.source.slice(start, k.range![0]).trim() !== '') {
      // `- key: value` opens a sequence item: blank the pair by moving the next key up.
      const next = map.items[map.items.indexOf(pair) + 1]
      if (!next) throw new Error(`${this.file}: cannot remove "${key}" in place`)
      const nk = next.key as YamlNode
      this.splices.push({ start: k.range![0], end: nk.range![0], text: '' })
      return true
    }
    this.splices.push({ start, end: this.nextLineStart(v.range![1] - 1), text: '' })
    return true
  }

  /** Append a map item (`- k: v` lines) to a block or flow sequence. */
  appendMapItem(seq: YAMLSeq, entries: [string, string][]): void {
    if (!seq.range) throw new Error(`${this.file}: sequence without a source range`)
    const pairs = entries.map(
      ([k, v]) => `${formatScalar(k, 'PLAIN')}: ${formatScalar(v, 'PLAIN')}`
    )
    if (seq.flow) {
      const close = this.source.lastIndexOf(']', seq.range[1])
      const sep = seq.items.length > 0 ? ', ' : ''
      this.splices.push({ start: close, end: close, text: `${sep}{${pairs.join(', ')}}` })
      return
    }
    const dash = this.source.lastIndexOf('-', (seq.items[0] as YamlNode).range![0])
    const col = this.column(dash)
    const last = seq.items[seq.items.length - 1] as YamlNode
    const at = this.nextLineStart(last.range![1] - 1)
    const nl = at === this.source.length && !this.source.endsWith('\n') ? this.eol : ''
    const pad = ' '.repeat(col)
    const text = pairs.map((p, i) => `${pad}${i === 0 ? '- ' : '  '}${p}${this.eol}`).join('')
    this.splices.push({ start: at, end: at, text: `${nl}${text}` })
  }

  /** Append raw lines at the end of a document (before the next document marker). */
  appendToDocument(docIndex: number, text: string): void {
    const doc = this.docs[docIndex]!
    const contents = doc.contents as YamlNode | null
    const end = contents?.range ? contents.range[2] : doc.range[1]
    const at =
      end >= this.source.length
        ? this.source.length
        : this.lineStart(end) === end
          ? end
          : this.nextLineStart(end)
    const nl = at > 0 && this.source[at - 1] !== '\n' ? this.eol : ''
    this.splices.push({ start: at, end: at, text: `${nl}${text.replace(/\r?\n/g, this.eol)}` })
  }

  /** Whether any edit is pending. */
  get changed(): boolean {
    return this.splices.length > 0
  }

  /** The edited source. */
  toString(): string {
    // Last position first; at one position the later edit first, so edits made in
    // order end up in that order.
    const sorted = this.splices
      .map((s, i) => ({ ...s, i }))
      .sort((a, b) => b.start - a.start || b.end - a.end || b.i - a.i)
    let out = this.source
    let limit = Infinity
    for (const s of sorted) {
      if (s.end > limit) throw new Error(`${this.file}: overlapping edits`)
      out = out.slice(0, s.start) + s.text + out.slice(s.end)
      limit = s.start
    }
    return out
  }
}

/** Whether a node is a scalar holding a string (or a plain number-like value). */
export function scalarText(node: unknown): string | undefined {
  if (!isScalar(node)) return undefined
  const v = node.value
  if (typeof v === 'string') return v
  if (typeof v === 'number' || typeof v === 'boolean') return node.source ?? String(v)
  return undefined
}

export { isMap, isPair, isScalar, isSeq }
