/**
 * The part of Handlebars that docker/metadata-action's tag rules use: `{{name}}`,
 * `{{name 'arg' key='value'}}`, `{{{name}}}` and `{{&name}}` (not HTML-escaped),
 * comments `{{! }}` / `{{!-- --}}`, whitespace control `{{~ ~}}` and `\{{` for a literal
 * `{{`. Output of `{{ }}` is HTML-escaped exactly as Handlebars does (metadata-action
 * renders through Handlebars, so `=` in a value becomes `&#x3D;` before tag sanitising).
 * Block helpers, partials and sub-expressions are refused: no rule of metadata-action's
 * documentation uses them. Pure: the caller resolves each expression.
 */

/** One argument of an expression, as Handlebars reads it. */
export type TemplateParam =
  | { kind: 'string'; value: string }
  | { kind: 'number'; value: number }
  | { kind: 'boolean'; value: boolean }
  | { kind: 'null' }
  | { kind: 'undefined' }
  /** A bare word: Handlebars looks it up as a variable (unquoted `YYYYMMDD` is one). */
  | { kind: 'path'; path: string }

/** One `{{ }}` expression. */
export interface Expression {
  name: string
  params: TemplateParam[]
  hash: Map<string, TemplateParam>
  /** Whether the output is HTML-escaped (`{{ }}`), or not (`{{{ }}}`, `{{& }}`). */
  escape: boolean
  /** The expression as written, for error messages. */
  source: string
}

type Node = { kind: 'text'; text: string } | { kind: 'expr'; expr: Expression }

/** Why a template could not be read; the caller names the input and the rule. */
export class TemplateError extends Error {
  override name = 'TemplateError'
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#x27;',
  '`': '&#x60;',
  '=': '&#x3D;'
}

/** Handlebars' `escapeExpression`. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"'`=]/g, ch => ESCAPES[ch]!)
}

function readParam(token: string): TemplateParam {
  if (/^-?\d+(?:\.\d+)?$/.test(token)) return { kind: 'number', value: Number(token) }
  if (token === 'true' || token === 'false') return { kind: 'boolean', value: token === 'true' }
  if (token === 'null') return { kind: 'null' }
  if (token === 'undefined') return { kind: 'undefined' }
  return { kind: 'path', path: token }
}

/** Read the inside of one `{{ }}`: a name, then arguments and `key=value` pairs. */
function readExpression(inner: string, escape: boolean, source: string): Expression {
  const tokens: Array<{ param: TemplateParam; key?: string }> = []
  let i = 0
  const skipSpace = (): void => {
    while (i < inner.length && /\s/.test(inner[i]!)) i++
  }
  const readValue = (): TemplateParam => {
    const quote = inner[i]
    if (quote === "'" || quote === '"') {
      let value = ''
      i++
      while (i < inner.length && inner[i] !== quote) {
        if (inner[i] === '\\' && inner[i + 1] === quote) i++
        value += inner[i]
        i++
      }
      if (i >= inner.length) throw new TemplateError(`${source}: a quote is never closed`)
      i++
      return { kind: 'string', value }
    }
    const m = /^[^\s=(){}'"|~]+/.exec(inner.slice(i))
    if (!m) {
      const what = inner[i] === '(' ? 'sub-expressions are not supported' : 'unexpected'
      throw new TemplateError(`${source}: ${JSON.stringify(inner[i])} ${what}`)
    }
    i += m[0].length
    return readParam(m[0])
  }
  for (skipSpace(); i < inner.length; skipSpace()) {
    const start = i
    const value = readValue()
    skipSpace()
    if (inner[i] === '=') {
      if (value.kind !== 'path' || tokens.length === 0) {
        throw new TemplateError(`${source}: "=" must follow a name (key='value')`)
      }
      i++
      skipSpace()
      if (i >= inner.length) throw new TemplateError(`${source}: ${value.path}= has no value`)
      tokens.push({ key: value.path, param: readValue() })
    } else {
      if (tokens.some(t => t.key !== undefined)) {
        throw new TemplateError(
          `${source}: ${inner.slice(start, i).trim()} comes after a key=value pair`
        )
      }
      tokens.push({ param: value })
    }
  }
  const head = tokens[0]
  if (!head || head.param.kind !== 'path') {
    throw new TemplateError(`${source}: expected a name such as {{branch}} inside the braces`)
  }
  const hash = new Map<string, TemplateParam>()
  for (const t of tokens.slice(1)) if (t.key !== undefined) hash.set(t.key, t.param)
  return {
    name: head.param.path,
    params: tokens.slice(1).flatMap(t => (t.key === undefined ? [t.param] : [])),
    hash,
    escape,
    source
  }
}

/** Parse a template into text and expressions. */
export function parseTemplate(template: string): Node[] {
  const nodes: Node[] = []
  let text = ''
  let stripNext = false
  let i = 0
  const pushText = (stripEnd: boolean): void => {
    let t = text
    if (stripEnd) t = t.replace(/\s+$/, '')
    if (t !== '') nodes.push({ kind: 'text', text: t })
    text = ''
  }
  while (i < template.length) {
    const open = template.indexOf('{{', i)
    if (open < 0) {
      text += template.slice(i)
      break
    }
    if (open > 0 && template[open - 1] === '\\') {
      // `\{{` is a literal `{{` (and the text up to the next `{{` stays text).
      text += template.slice(i, open - 1)
      const next = template.indexOf('{{', open + 2)
      const end = next < 0 ? template.length : next
      text += template.slice(open, end)
      i = end
      continue
    }
    text += template.slice(i, open)
    if (stripNext) {
      text = text.replace(/^\s+/, '')
      stripNext = false
    }
    const comment = /^\{\{(~?)!--/.exec(template.slice(open))
    if (comment) {
      // `{{!-- ... --}}` may hold `}}`: it ends at the first `--}}` (or `--~}}`).
      const m = /--(~?)\}\}/.exec(template.slice(open + comment[0].length))
      if (!m)
        throw new TemplateError(`${JSON.stringify(template.slice(open))}: "{{!--" is never closed`)
      pushText(comment[1] === '~')
      stripNext = m[1] === '~'
      i = open + comment[0].length + m.index + m[0].length
      continue
    }
    const triple = template.startsWith('{{{', open)
    const close = template.indexOf(triple ? '}}}' : '}}', open)
    if (close < 0) {
      throw new TemplateError(`${JSON.stringify(template.slice(open))}: "{{" is never closed`)
    }
    const source = template.slice(open, close + (triple ? 3 : 2))
    let inner = template.slice(open + (triple ? 3 : 2), close)
    const stripBefore = inner.startsWith('~')
    if (stripBefore) inner = inner.slice(1)
    if (inner.endsWith('~')) {
      inner = inner.slice(0, -1)
      stripNext = true
    }
    pushText(stripBefore)
    i = close + (triple ? 3 : 2)
    if (inner.startsWith('!')) continue
    const sigil = inner.trimStart()[0]
    if (sigil !== undefined && '#/^>*'.includes(sigil)) {
      throw new TemplateError(
        `${source}: block helpers, partials and decorators are not supported; use a plain expression such as {{branch}}`
      )
    }
    const unescaped = triple || inner.trimStart().startsWith('&')
    if (!triple && unescaped) inner = inner.trimStart().slice(1)
    const expr = readExpression(inner, !unescaped, source)
    if (expr.name === 'else') throw new TemplateError(`${source}: {{else}} outside a block`)
    nodes.push({ kind: 'expr', expr })
  }
  if (stripNext) text = text.replace(/^\s+/, '')
  pushText(false)
  return nodes
}

/**
 * Render a template: text as is, each expression through `resolve` (its value
 * HTML-escaped unless written `{{{ }}}`; `undefined` renders as nothing).
 */
export function renderTemplate(
  template: string,
  resolve: (expr: Expression) => string | number | undefined
): string {
  let out = ''
  for (const node of parseTemplate(template)) {
    if (node.kind === 'text') {
      out += node.text
      continue
    }
    const value = resolve(node.expr)
    const text = value === undefined ? '' : String(value)
    out += node.expr.escape ? escapeHtml(text) : text
  }
  return out
}

/**
 * Whether a pattern is exactly `{{raw}}` (spaces inside the braces allowed): metadata-action
 * then keeps a pre-release's raw tag instead of falling back to `{{version}}`.
 */
export function isRawStatement(pattern: string): boolean {
  try {
    const nodes = parseTemplate(pattern)
    return nodes.length === 1 && nodes[0]!.kind === 'expr' && nodes[0]!.expr.name === 'raw'
  } catch {
    return false
  }
}
