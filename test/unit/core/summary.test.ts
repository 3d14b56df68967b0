import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { secrets } from '../../../src/core/secrets.js'
import { Summary, cell, code, inline } from '../../../src/core/summary.js'

describe('summary escaping', () => {
  it.each([
    ['plain', 'plain'],
    ['a|b', 'a\\|b'],
    ['line1\nline2', 'line1<br>line2'],
    ['crlf\r\nend', 'crlf<br>end'],
    ['lone\rcarriage', 'lone<br>carriage'],
    ['a\r::warning::x', 'a<br>::warning::x'],
    ['<script>alert(1)</script>', '&lt;script>alert(1)&lt;/script>'],
    ['back\\slash', 'back\\\\slash'],
    ['', ' '],
    [undefined, ' '],
    [42, '42'],
    [false, 'false']
  ])('cell(%j) → %j', (input, out) => {
    expect(cell(input)).toBe(out)
  })

  it.each([
    ['*bold* _it_', '\\*bold\\* \\_it\\_'],
    ['[link](x)', '\\[link\\](x)'],
    ['# heading', '\\# heading'],
    ['a\nb', 'a b'],
    ['a\rb', 'a b'],
    ['<img>', '\\<img\\>'],
    ['`tick`', '\\`tick\\`']
  ])('inline(%j) → %j', (input, out) => {
    expect(inline(input)).toBe(out)
  })

  it.each([
    ['abc', '`abc`'],
    ['a`b', '``a`b``'],
    ['`start', '`` `start ``'],
    ['x\ny', '`x y`'],
    ['x\ry', '`x y`']
  ])('code(%j) → %j', (input, out) => {
    expect(code(input)).toBe(out)
  })
})

describe('Summary builder', () => {
  it('a file name with a carriage return cannot end a table row or start a line', () => {
    const text = new Summary()
      .table(['file'], [['evil\r| injected | row |\r# heading']])
      .paragraph('tail\rline')
      .toString()
    expect(text).not.toContain('\r')
    const rows = text.split('\n').filter(l => l.startsWith('|'))
    expect(rows).toHaveLength(3)
    expect(rows[2]).toBe('| evil<br>\\| injected \\| row \\|<br># heading |')
  })

  it('builds headings, paragraphs, lists, tables, code blocks and details', () => {
    const md = new Summary()
      .heading('Plan')
      .paragraph('2 services changed')
      .list(['cart', 'checkout'])
      .list([])
      .table(
        ['service', 'reason'],
        [
          ['cart', 'services/cart/a|b.ts\nx'],
          ['web', undefined]
        ]
      )
      .codeBlock('echo ```hi```\n', 'sh')
      .details('more <info>', 'body')
      .raw('raw text')
      .toString()
    expect(md).toContain('### Plan\n')
    expect(md).toContain('- cart\n- checkout\n')
    expect(md).toContain(
      '| service | reason |\n| --- | --- |\n| cart | services/cart/a\\|b.ts<br>x |\n| web |   |'
    )
    expect(md).toContain('````sh\necho ```hi```\n````\n')
    expect(md).toContain('<details><summary>more &lt;info></summary>\n\nbody\n</details>')
    expect(md.endsWith('raw text\n')).toBe(true)
    expect(new Summary().heading('H', 2).toString()).toBe('## H\n')
  })

  it('redacts secrets everywhere in the summary, including table cells and code', () => {
    const secret = 'summary-secret-000'
    secrets.add(secret)
    const md = new Summary()
      .heading(`h ${secret}`)
      .table(['k'], [[secret]])
      .codeBlock(`token=${secret}`)
      .paragraph(Buffer.from(secret).toString('base64'))
      .toString()
    expect(md).not.toContain(secret)
    expect(md).not.toContain(Buffer.from(secret).toString('base64'))
    expect(md.match(/\*\*\*/g)!.length).toBeGreaterThanOrEqual(4)
  })

  it('write appends to GITHUB_STEP_SUMMARY and returns the Markdown', () => {
    const dir = mkdtempSync(join(tmpdir(), 'conveyor-summary-'))
    try {
      const path = join(dir, 'summary.md')
      const first = new Summary().paragraph('one').write(path)
      new Summary().paragraph('two').write(path)
      expect(first).toBe('one\n')
      expect(readFileSync(path, 'utf8')).toBe('one\n\ntwo\n\n')
      const saved = process.env.GITHUB_STEP_SUMMARY
      delete process.env.GITHUB_STEP_SUMMARY
      try {
        expect(new Summary().paragraph('nowhere').write()).toBe('nowhere\n')
      } finally {
        if (saved !== undefined) process.env.GITHUB_STEP_SUMMARY = saved
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
