import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ConfigurationError } from '../../../src/core/errors.js'
import {
  InputReader,
  caCertificate,
  envInputs,
  mapInputs,
  parseCertificates
} from '../../../src/core/inputs.js'
import { secrets } from '../../../src/core/secrets.js'

/** A throwaway self-signed CA certificate (public; its key was never kept). */
const CA = readFileSync(
  join(import.meta.dirname, '..', '..', 'fixtures', 'tls', 'test-ca.pem'),
  'utf8'
)

const reader = (values: Record<string, string>): InputReader => new InputReader(mapInputs(values))

/** The ConfigurationError a call throws (fails the test when it does not throw one). */
function errorOf(fn: () => unknown): ConfigurationError {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError)
    return error as ConfigurationError
  }
  throw new Error('expected a ConfigurationError, nothing was thrown')
}

describe('envInputs', () => {
  it('reads INPUT_<NAME> upper-cased with spaces as underscores and hyphens kept', () => {
    const src = envInputs({ 'INPUT_REGISTRY-PASSWORD': 'a', INPUT_MY_INPUT: 'b', INPUT_X: 'c' })
    expect(src.get('registry-password')).toBe('a')
    expect(src.get('my input')).toBe('b')
    expect(src.get('x')).toBe('c')
    expect(src.get('registry_password')).toBeUndefined()
  })
})

describe('InputReader readers', () => {
  it('string: trims, defaults, required', () => {
    const r = reader({ a: '  v  ', empty: '   ' })
    expect(r.string('a')).toBe('v')
    expect(r.string('a', { trim: false })).toBe('  v  ')
    expect(r.string('empty', { default: 'd' })).toBe('d')
    expect(r.string('missing')).toBe('')
    expect(errorOf(() => r.string('missing', { required: true })).message).toBe(
      'input "missing" is required but was empty'
    )
    expect(errorOf(() => reader({ n: 'a\0b' }).string('n')).message).toContain('input "n"')
  })

  it('optional: undefined when empty', () => {
    const r = reader({ a: 'x', b: '' })
    expect(r.optional('a')).toBe('x')
    expect(r.optional('b')).toBeUndefined()
    expect(r.optional('c')).toBeUndefined()
  })

  it('line: refuses newlines and checks the pattern', () => {
    const r = reader({ ok: 'main', two: 'a\nb', bad: 'Not OK' })
    expect(r.line('ok', { pattern: /^[a-z]+$/ })).toBe('main')
    expect(errorOf(() => r.line('two')).message).toBe(
      'input "two": got "a\\nb", expected a single line'
    )
    expect(errorOf(() => r.line('bad', { pattern: /^[a-z]+$/ })).message).toBe(
      'input "bad": got "Not OK", expected a value matching /^[a-z]+$/'
    )
    expect(
      errorOf(() => r.line('bad', { pattern: /^[a-z]+$/, expected: 'a branch name' })).message
    ).toContain('expected a branch name')
    expect(r.line('none', { pattern: /^[a-z]+$/, default: '' })).toBe('')
  })

  it.each([
    ['true', true],
    ['True', true],
    ['TRUE', true],
    ['false', false],
    ['False', false],
    ['FALSE', false],
    ['', true]
  ])('boolean %j', (value, expected) => {
    expect(reader({ b: value }).boolean('b', true)).toBe(expected)
  })

  it.each(['yes', 'no', '1', '0', 'on', 'tRUE'])('boolean %j is refused', value => {
    expect(errorOf(() => reader({ b: value }).boolean('b', false)).message).toBe(
      `input "b": got ${JSON.stringify(value)}, expected "true" or "false"`
    )
  })

  it('integer: bounds named in the error', () => {
    const r = reader({ n: '5', neg: '-3', big: '99', f: '1.5', junk: '5a', huge: '9'.repeat(30) })
    expect(r.integer('n', { default: 1 })).toBe(5)
    expect(r.integer('missing', { default: 7 })).toBe(7)
    expect(r.integer('neg', { default: 0 })).toBe(-3)
    expect(errorOf(() => r.integer('big', { default: 1, min: 1, max: 20 })).message).toBe(
      'input "big": got "99", expected an integer >= 1 and <= 20'
    )
    expect(errorOf(() => r.integer('neg', { default: 1, min: 0 })).message).toBe(
      'input "neg": got "-3", expected an integer >= 0'
    )
    expect(errorOf(() => r.integer('f', { default: 1, max: 3 })).message).toBe(
      'input "f": got "1.5", expected an integer <= 3'
    )
    expect(errorOf(() => r.integer('junk', { default: 1 })).message).toContain('input "junk"')
    expect(errorOf(() => r.integer('huge', { default: 1 })).message).toContain('input "huge"')
  })

  it('choice', () => {
    const r = reader({ mode: 'pr', bad: 'PR' })
    expect(r.choice('mode', ['push', 'pr'] as const, 'push')).toBe('pr')
    expect(r.choice('none', ['push', 'pr'] as const, 'push')).toBe('push')
    expect(errorOf(() => r.choice('bad', ['push', 'pr'] as const, 'push')).message).toBe(
      'input "bad": got "PR", expected one of "push", "pr"'
    )
  })

  it('duration: units, default, bounds', () => {
    const r = reader({ t: '1h30m', s: '300', bad: '5 minutes', low: '1s', high: '2h' })
    expect(r.duration('t', '5m')).toBe(5_400_000)
    expect(r.duration('s', '5m')).toBe(300_000)
    expect(r.duration('missing', '90s')).toBe(90_000)
    expect(errorOf(() => r.duration('bad', '5m')).message).toBe(
      'input "bad": got "5 minutes", expected a duration such as "300", "90s", "5m" or "1h30m"'
    )
    expect(errorOf(() => r.duration('low', '5m', { min: 5000 })).message).toContain('at least 5s')
    expect(errorOf(() => r.duration('high', '5m', { max: 3_600_000 })).message).toContain(
      'at most 3600s'
    )
  })

  it('list: lines, commas, comments and blanks', () => {
    const r = reader({ l: 'a\n\n  # comment\n b \r\nc, d', e: '' })
    expect(r.list('l')).toEqual(['a', 'b', 'c, d'])
    expect(r.list('l', { commas: true })).toEqual(['a', 'b', 'c', 'd'])
    expect(r.list('e')).toEqual([])
  })

  it('keyValues: key=value, colon, unique keys, key pattern', () => {
    const r = reader({
      kv: 'A=1\nB = two=2\n# c\nC=',
      colon: 'a: 1\nb=2',
      dup: 'A=1\nA=2',
      nokey: 'A=1\njust-text',
      pattern: 'good=1\nBad Key=2'
    })
    expect(Object.fromEntries(r.keyValues('kv'))).toEqual({ A: '1', B: 'two=2', C: '' })
    expect(Object.fromEntries(r.keyValues('colon', { colon: true }))).toEqual({ a: '1', b: '2' })
    expect(errorOf(() => r.keyValues('dup')).message).toBe(
      'input "dup": got "A", expected each key at most once'
    )
    expect(errorOf(() => r.keyValues('nokey')).message).toBe(
      'input "nokey": got "just-text", expected lines of the form key=value'
    )
    expect(errorOf(() => r.keyValues('pattern', { keyPattern: /^[a-z]+$/ })).message).toContain(
      'input "pattern": got "Bad Key"'
    )
  })

  it('url: http(s) only, no credentials', () => {
    const r = reader({
      u: 'https://argocd.example.com:8443/api',
      h: 'http://127.0.0.1:5000',
      f: 'ftp://x',
      rel: '/relative',
      cred: 'https://admin:pa55word-xyz@example.com'
    })
    expect(r.url('u')!.port).toBe('8443')
    expect(r.url('h')!.hostname).toBe('127.0.0.1')
    expect(r.url('missing')).toBeUndefined()
    expect(errorOf(() => r.url('missing', { required: true })).message).toContain('required')
    expect(errorOf(() => r.url('f')).message).toBe(
      'input "f": got "ftp://x", expected an http:// or https:// URL'
    )
    expect(errorOf(() => r.url('rel')).message).toContain('expected an absolute http://')
    const e = errorOf(() => r.url('cred'))
    expect(e.message).toContain('credentials in the URL are not accepted')
    expect(e.message).not.toContain('pa55word')
    expect(secrets.leaks('pa55word-xyz')).toBe(true)
  })

  it('url: a token in the user part is registered; a malformed escape is still an input error', () => {
    const r = reader({
      tok: 'https://ghp_tokenInUser123@github.com/acme/x',
      pct: 'https://user:bad%zzsecret@example.com'
    })
    const e = errorOf(() => r.url('tok'))
    expect(e.message).not.toContain('ghp_tokenInUser123')
    expect(secrets.redact('ghp_tokenInUser123')).toBe('***')
    const e2 = errorOf(() => r.url('pct'))
    expect(e2.message).toContain('input "pct"')
    expect(secrets.leaks('bad%zzsecret')).toBe(true)
    const bad = reader({ u: 'https://admin:hunter2-pw@exa mple.com/x' })
    const e3 = errorOf(() => bad.url('u'))
    expect(e3.message).toBe(
      'input "u": got "https://exa mple.com/x", expected an absolute http:// or https:// URL'
    )
    expect(secrets.leaks('hunter2-pw')).toBe(true)
  })

  it('url: a host name DNS can hold, and nothing the parser would silently drop', () => {
    const label = 'a'.repeat(63)
    const fits = `https://${[label, label, label, 'b'.repeat(61)].join('.')}`
    expect(new URL(fits).hostname).toHaveLength(253)
    const r = reader({
      fits,
      long: `${fits}c`,
      label: `https://${'a'.repeat(64)}.example`,
      huge: `https://${'a'.repeat(120 * 1024)}.example`,
      v6: 'http://[::1]:8080',
      nl: 'https://a.example\nhttps://b.example',
      tab: 'https://a.exa\tmple'
    })
    expect(r.url('fits')!.hostname).toHaveLength(253)
    expect(r.url('v6')!.hostname).toBe('[::1]')
    expect(errorOf(() => r.url('long')).message).toMatch(
      /^input "long": got ".*", expected a URL whose host name has at most 253 characters.*got a host of 254/
    )
    expect(errorOf(() => r.url('label')).message).toMatch(/at most 63 between dots/)
    const huge = errorOf(() => r.url('huge')).message
    expect(huge).toMatch(/^input "huge": got "https:\/\/aaa.*… \(122896 characters\)", expected/)
    expect(huge.length).toBeLessThan(400)
    expect(errorOf(() => r.url('nl')).message).toMatch(
      /input "nl": .*expected one URL without spaces or control characters/
    )
    expect(errorOf(() => r.url('tab')).message).toMatch(/without spaces or control characters/)
  })
})

describe('parseCertificates', () => {
  it('parses every certificate of a bundle, text between blocks allowed', () => {
    const certs = parseCertificates('ca', `# ours\n${CA}\nsecond:\n${CA}`, 'x')
    expect(certs).toHaveLength(2)
    expect(certs[0]!.subject).toContain('Conveyor Unit Test CA')
  })

  it.each([
    ['no PEM block', 'just text', /got T, expected PEM certificate\(s\)/],
    [
      'a block that does not parse',
      '-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----',
      /got T \(certificate 1 of 1 does not parse: .+\), expected PEM certificate/
    ],
    [
      'a second block that does not parse',
      `${CA}-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n`,
      /certificate 2 of 2 does not parse/
    ],
    [
      'a private key',
      '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMG-secret-key-body\n-----END PRIVATE KEY-----',
      /got T \(holding a "PRIVATE KEY" block\)/
    ],
    ['a block without END', `${CA}-----BEGIN CERTIFICATE-----\nMIIB`, /without its END line/]
  ])('refuses %s, naming the input, never echoing the text', (_, pem, message) => {
    const e = errorOf(() => parseCertificates('ca-input', pem, 'T'))
    expect(e.message).toMatch(/^input "ca-input": /)
    expect(e.message).toMatch(message)
    expect(e.message).not.toMatch(/garbage|secret-key-body|MIIB/)
  })
})

describe('caCertificate: PEM text or a PEM file confined to the workspace', () => {
  const ws = mkdtempSync(join(tmpdir(), 'conveyor-ca-'))
  mkdirSync(join(ws, 'certs'))
  writeFileSync(join(ws, 'certs', 'ca.pem'), CA)
  writeFileSync(join(ws, 'certs', 'notes.txt'), 'root:x:0:0:secret-looking-line\n')
  symlinkSync('/etc/passwd', join(ws, 'certs', 'link.pem'))
  const read = (value: string): string | undefined => caCertificate(reader({ ca: value }), 'ca', ws)

  it('PEM text, a relative path and an absolute path inside the workspace', () => {
    expect(read(CA)).toBe(CA)
    expect(read('certs/ca.pem')).toBe(CA)
    expect(read(join(ws, 'certs', 'ca.pem'))).toBe(CA)
    expect(read('')).toBeUndefined()
  })

  it.each([
    ['/proc/self/environ', /input "ca": "\/proc\/self\/environ" is outside the workspace/],
    ['../../etc/passwd', /input "ca": "\.\.\/\.\.\/etc\/passwd" is outside the workspace/],
    ['certs/link.pem', /is outside the workspace .* \(through a symlink\)/],
    ['certs/missing.pem', /input "ca": got "certs\/missing\.pem", expected PEM text or the path/],
    ['certs', /expected PEM text or the path of a PEM file in the workspace/],
    ['certs/notes.txt', /input "ca": got the file "certs\/notes\.txt", expected PEM certificate/]
  ])('refuses %s without echoing any content', (value, message) => {
    const e = errorOf(() => read(value))
    expect(e.message).toMatch(message)
    expect(e.message).not.toMatch(/root:x|secret-looking|PATH=/)
  })
})

describe('keyValues: the error says the syntax the input documents', () => {
  it('colon inputs (headers) say "Name: value", the others key=value', () => {
    expect(
      errorOf(() => reader({ h: 'NoColonHere' }).keyValues('h', { colon: true })).message
    ).toBe('input "h": got "NoColonHere", expected lines of the form "Name: value"')
    expect(errorOf(() => reader({ l: 'novalue' }).keyValues('l')).message).toBe(
      'input "l": got "novalue", expected lines of the form key=value'
    )
  })
})

describe('secret inputs are registered on read and never echoed', () => {
  it('registers the value (and its encodings) the moment it is read', () => {
    const value = 'registered-on-read-1'
    expect(secrets.leaks(value)).toBe(false)
    reader({ token: `  ${value}  ` }).string('token', { secret: true })
    expect(secrets.redact(`x ${value} ${Buffer.from(value).toString('base64')}`)).toBe('x *** ***')
  })

  it('optional and raw register too, even when unused afterwards', () => {
    reader({ a: 'optional-secret-2' }).optional('a', { secret: true })
    reader({ b: 'raw-secret-3' }).raw('b', { secret: true })
    expect(secrets.leaks('optional-secret-2')).toBe(true)
    expect(secrets.leaks('raw-secret-3')).toBe(true)
  })

  it.each([
    ['line with a newline', (r: InputReader) => r.line('s', { secret: true })],
    [
      'line not matching the pattern',
      (r: InputReader) => r.line('s', { secret: true, pattern: /^x$/ })
    ],
    ['url that is not one', (r: InputReader) => r.url('s', { secret: true })],
    ['keyValues without a key', (r: InputReader) => r.keyValues('s', { secret: true })],
    [
      'keyValues with a bad key',
      (r: InputReader) => r.keyValues('s', { secret: true, keyPattern: /^[a-z]+$/ })
    ]
  ])('%s: the error names the input and not the value', (_label, read) => {
    const value = 'Top=Secret\nVALUE-zz9'
    const e = errorOf(() => read(reader({ s: value })))
    expect(e.message).toContain('input "s"')
    expect(e.message).not.toContain('Secret')
    expect(e.message).not.toContain('VALUE-zz9')
    expect(e.message).not.toContain('Top')
  })

  it('comma-separated items of a secret list are each registered', () => {
    const items = reader({ tokens: 'first-token-aaa,second-token-bbb' }).list('tokens', {
      commas: true,
      secret: true
    })
    expect(items).toEqual(['first-token-aaa', 'second-token-bbb'])
    expect(secrets.redact('second-token-bbb')).toBe('***')
  })

  it('keyValues values of a secret input are each registered', () => {
    const kv = reader({ creds: 'user=alice\npassword=s3cret-value-q' }).keyValues('creds', {
      secret: true
    })
    expect(kv.get('password')).toBe('s3cret-value-q')
    expect(secrets.redact('s3cret-value-q')).toBe('***')
  })
})
