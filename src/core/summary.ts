/**
 * A small Markdown builder for step summaries. Cells are escaped (a line break of any
 * kind, `\r` too, cannot end a table row), everything is redacted before it is written
 * to GITHUB_STEP_SUMMARY: a summary is for people and quotes free text (a server's
 * message), so a secret there becomes `***`. Machine-readable values shown in a summary
 * are outputs too, and an output that masking would rewrite fails the step first.
 */
import { appendFileSync } from 'node:fs'
import { secrets } from './secrets.js'

/** Escape text for a Markdown table cell. */
export function cell(text: string | number | boolean | undefined): string {
  if (text === undefined || text === '') return ' '
  return String(text)
    .replace(/\\/g, '\\\\')
    .replace(/\|/g, '\\|')
    .replace(/\r\n|\r|\n/g, '<br>')
    .replace(/</g, '&lt;')
    .replace(/&lt;br>/g, '<br>')
}

/** Escape inline text (no Markdown interpretation of `*_[]` etc.). */
export function inline(text: string): string {
  return text.replace(/([\\`*_{}[\]<>#|])/g, '\\$1').replace(/\r\n|\r|\n/g, ' ')
}

/** Wrap text in an inline code span that survives backticks inside. */
export function code(text: string): string {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map(m => m[0].length))
  const fence = '`'.repeat(longest + 1)
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : ''
  return `${fence}${pad}${text.replace(/\r\n|\r|\n/g, ' ')}${pad}${fence}`
}

/** Builds one step summary. */
export class Summary {
  private readonly parts: string[] = []

  heading(text: string, level = 3): this {
    this.parts.push(`${'#'.repeat(level)} ${text}\n`)
    return this
  }

  paragraph(text: string): this {
    this.parts.push(`${text}\n`)
    return this
  }

  list(items: string[]): this {
    if (items.length > 0) this.parts.push(items.map(i => `- ${i}`).join('\n') + '\n')
    return this
  }

  table(header: string[], rows: (string | number | boolean | undefined)[][]): this {
    const lines = [
      `| ${header.map(cell).join(' | ')} |`,
      `| ${header.map(() => '---').join(' | ')} |`,
      ...rows.map(r => `| ${r.map(cell).join(' | ')} |`)
    ]
    this.parts.push(lines.join('\n') + '\n')
    return this
  }

  codeBlock(text: string, language = ''): this {
    const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map(m => m[0].length))
    const fence = '`'.repeat(longest + 1)
    this.parts.push(`${fence}${language}\n${text.replace(/\n$/, '')}\n${fence}\n`)
    return this
  }

  details(summaryText: string, body: string): this {
    this.parts.push(`<details><summary>${cell(summaryText)}</summary>\n\n${body}\n</details>\n`)
    return this
  }

  raw(markdown: string): this {
    this.parts.push(markdown.endsWith('\n') ? markdown : `${markdown}\n`)
    return this
  }

  /**
   * The Markdown, redacted. A lone `\r` left in free text (a heading, a paragraph, a
   * code block) ends a line for a Markdown reader: it becomes a plain line break.
   */
  toString(): string {
    return secrets.redact(this.parts.join('\n').replace(/\r\n?/g, '\n'))
  }

  /** Append to the step summary file (no-op outside a runner). Returns the Markdown. */
  write(path = process.env.GITHUB_STEP_SUMMARY): string {
    const text = this.toString()
    if (path) appendFileSync(path, text + '\n', 'utf8')
    return text
  }
}
