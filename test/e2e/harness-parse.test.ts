/** The harness's parsers for workflow commands and file commands, and its Node 24 check. */
import { describe, expect, it } from 'vitest'
import { node24, parseCommands, parseFileCommands } from '../support/harness.js'
import { execFileSync } from 'node:child_process'

describe('parseCommands', () => {
  it('parses names, properties and escaped messages; ignores other lines', () => {
    const stdout = [
      'plain log line',
      '::add-mask::s3cret',
      '::error file=a.yml,line=3,title=Bad%3A key%2C here::line one%0Aline two 100%25',
      '::warning::careful',
      '::group::Phase',
      '::endgroup::',
      ':: not a command',
      '::notice title=x::note'
    ].join('\n')
    const commands = parseCommands(stdout)
    expect(commands.map(c => c.name)).toEqual([
      'add-mask',
      'error',
      'warning',
      'group',
      'endgroup',
      'notice'
    ])
    expect(commands[1]).toEqual({
      name: 'error',
      props: { file: 'a.yml', line: '3', title: 'Bad: key, here' },
      message: 'line one\nline two 100%'
    })
    expect(commands[0]!.message).toBe('s3cret')
  })
})

describe('parseFileCommands', () => {
  it('parses heredoc values (multi-line, empty) and key=value lines', () => {
    const text = [
      'a<<ghadelimiter_1',
      'line 1',
      '',
      'line 3',
      'ghadelimiter_1',
      'empty<<EOF',
      'EOF',
      'legacy=value=with=equals',
      ''
    ].join('\n')
    expect(parseFileCommands(text)).toEqual({
      a: 'line 1\n\nline 3',
      empty: '',
      legacy: 'value=with=equals'
    })
  })

  it('refuses an unterminated value and a malformed line', () => {
    expect(() => parseFileCommands('a<<EOF\nvalue\n')).toThrow(/unterminated value for a/)
    expect(() => parseFileCommands('no equals here\n')).toThrow(/malformed/)
  })
})

describe('node24', () => {
  it('is the Node 24 binary from the node devDependency', () => {
    const version = execFileSync(node24(), ['--version'], { encoding: 'utf8' }).trim()
    expect(version).toMatch(/^v24\./)
  })
})
