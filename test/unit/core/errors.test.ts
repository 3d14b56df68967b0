import { describe, expect, it } from 'vitest'
import { ConfigurationError, errorMessage, invalidInput, quote } from '../../../src/core/errors.js'

describe('errors', () => {
  it('ConfigurationError is an Error with its own name', () => {
    const e = new ConfigurationError('bad')
    expect(e).toBeInstanceOf(Error)
    expect(e.name).toBe('ConfigurationError')
    expect(e.message).toBe('bad')
  })

  it('quote shortens huge values and says how long they were', () => {
    expect(quote('abc')).toBe('"abc"')
    expect(quote('a\nb')).toBe('"a\\nb"')
    const long = 'x'.repeat(1000)
    const q = quote(long)
    expect(q.length).toBeLessThan(200)
    expect(q).toContain('(1000 characters)')
    expect(quote('abcdef', 3)).toBe('"abc… (6 characters)"')
  })

  it('invalidInput names the input, what it got and what was expected', () => {
    const e = invalidInput('timeout', '5x', 'a duration')
    expect(e).toBeInstanceOf(ConfigurationError)
    expect(e.message).toBe('input "timeout": got "5x", expected a duration')
  })

  it('invalidInput never shows a secret, only its length', () => {
    const e = invalidInput('password', 'hunter2-secret', 'a single line', { secret: true })
    expect(e.message).not.toContain('hunter2')
    expect(e.message).toBe('input "password": got a value of 14 characters, expected a single line')
  })

  it.each([
    [new Error('boom'), 'boom'],
    [new ConfigurationError('cfg'), 'cfg'],
    ['plain string', 'plain string'],
    [42, '42'],
    [undefined, 'undefined'],
    [{ toString: () => 'obj' }, 'obj']
  ])('errorMessage(%s)', (thrown, message) => {
    expect(errorMessage(thrown)).toBe(message)
  })
})
