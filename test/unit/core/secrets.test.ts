import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  MIN_SECRET_LENGTH,
  SecretRegistry,
  base64Alignments,
  deriveEncodings
} from '../../../src/core/secrets.js'
import { encodingsOf } from '../../support/canary.js'

const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64')

function registry(): { reg: SecretRegistry; masked: string[] } {
  const masked: string[] = []
  return { reg: new SecretRegistry(v => masked.push(...v)), masked }
}

const SECRET = 'hunter2-Sup3r/Secret+Value=='

describe('secrets registry: every encoding is redacted', () => {
  // Each row encodes SECRET the way some tool might print or store it.
  const table: { encoding: string; make: (s: string) => string }[] = [
    { encoding: 'plain', make: s => `token is ${s} here` },
    { encoding: 'base64', make: s => `auth ${b64(s)} end` },
    { encoding: 'base64url', make: s => Buffer.from(s).toString('base64url') },
    { encoding: 'double base64', make: s => `x ${b64(b64(s))} y` },
    {
      encoding: 'URL (encodeURIComponent)',
      make: s => `https://h/?t=${encodeURIComponent(s)}&a=1`
    },
    {
      encoding: 'URL (form, + for space)',
      make: s => `t=${encodeURIComponent(s + ' x').replace(/%20/g, '+')}`
    },
    { encoding: 'JSON-escaped', make: s => JSON.stringify({ password: s }) },
    { encoding: 'hex', make: s => `0x${Buffer.from(s).toString('hex')}` },
    { encoding: 'HEX', make: s => Buffer.from(s).toString('hex').toUpperCase() }
  ]
  it.each(table)('$encoding', ({ make }) => {
    const { reg } = registry()
    reg.add(SECRET)
    const text = make(SECRET)
    expect(reg.leaks(text)).toBe(true)
    const redacted = reg.redact(text)
    expect(redacted).toContain('***')
    expect(reg.leaks(redacted)).toBe(false)
    // Independently computed forms (test/support/canary.ts) are gone too.
    for (const [, forms] of Object.entries(encodingsOf(SECRET))) {
      for (const f of forms) expect(redacted).not.toContain(f)
    }
    expect(redacted).not.toContain(SECRET)
  })

  it.each([0, 1, 2])(
    'base64 of a longer text with the secret at byte offset %i (mod 3) is redacted',
    offset => {
      for (let trial = 0; trial < 20; trial++) {
        const { reg } = registry()
        const secret = `s3cr3t-${randomBytes(9).toString('hex')}`
        reg.add(secret)
        const prefix = randomBytes(offset + 3 * (trial % 4))
        const suffix = randomBytes(trial % 5)
        const whole = Buffer.concat([prefix, Buffer.from(secret), suffix])
        const encoded = b64(whole)
        expect(reg.leaks(encoded)).toBe(true)
        const redacted = reg.redact(encoded)
        expect(redacted).toContain('***')
        // What is left can no longer be decoded to the secret, at any alignment.
        for (const piece of redacted.split('***')) {
          for (let cut = 0; cut < 4; cut++) {
            expect(Buffer.from(piece.slice(cut), 'base64').toString('latin1')).not.toContain(
              secret.slice(0, 8)
            )
          }
        }
        for (const f of encodingsOf(secret).base64!) expect(redacted).not.toContain(f)
      }
    }
  )

  it('random secrets (ASCII and multi-byte UTF-8, 6..64 bytes) in random base64 text', () => {
    const alphabet = 'abcXYZ019-_/+=:@ éü中🔑'
    for (let trial = 0; trial < 200; trial++) {
      const { reg } = registry()
      const chars = [...alphabet]
      let secret = ''
      while (Buffer.byteLength(secret) < 6 + (trial % 58)) {
        secret += chars[randomBytes(1)[0]! % chars.length]
      }
      if (secret.trim().length < MIN_SECRET_LENGTH) continue
      reg.add(secret)
      const whole = Buffer.concat([
        randomBytes(trial % 7),
        Buffer.from(secret),
        randomBytes(trial % 3)
      ])
      const encoded = b64(whole)
      expect(reg.leaks(encoded), `${JSON.stringify(secret)} at ${trial % 7}`).toBe(true)
      const redacted = reg.redact(encoded)
      for (const f of encodingsOf(secret).base64!) expect(redacted).not.toContain(f)
      for (const text of [
        JSON.stringify({ secret }),
        encodeURIComponent(secret),
        Buffer.from(secret).toString('hex'),
        b64(b64(secret))
      ]) {
        expect(reg.redact(text)).not.toContain(text.length > 8 ? text.slice(2, -2) : text)
      }
    }
  })

  it('base64Alignments gives the secret-only characters at each offset', () => {
    const secret = 'abcdefghijkl'
    const forms = base64Alignments(secret)
    expect(forms).toHaveLength(3)
    for (let offset = 0; offset < 3; offset++) {
      const encoded = b64(Buffer.concat([randomBytes(offset), Buffer.from(secret)]))
      expect(encoded).toContain(forms[offset])
    }
  })

  it.each([0, 1, 2])('double base64 inside a longer base64 text (offset %i)', offset => {
    const { reg } = registry()
    reg.add(SECRET)
    const inner = `${'p'.repeat(offset)}{"auth":"${b64(SECRET)}"}`
    const text = b64(inner)
    expect(reg.leaks(text)).toBe(true)
    expect(reg.redact(text)).toContain('***')
  })

  it('user:secret base64 (HTTP Basic, docker auth) at every alignment', () => {
    const { reg } = registry()
    reg.add(SECRET, { user: 'robot' })
    const basic = `Authorization: Basic ${b64(`robot:${SECRET}`)}`
    expect(reg.redact(basic)).toBe('Authorization: Basic ***')
    for (let offset = 0; offset < 3; offset++) {
      const doc = b64(`${'x'.repeat(offset)}robot:${SECRET}"}`)
      expect(reg.leaks(doc)).toBe(true)
    }
  })

  it.each(['robot', 'robot1', 'robot12'])(
    'a base64 dockerconfigjson (base64 of JSON holding base64 %s:secret) is redacted',
    user => {
      const { reg } = registry()
      reg.add(SECRET, { user })
      for (const host of ['r.io', 'registry.example.com', 'localhost:5000']) {
        const config = JSON.stringify({ auths: { [host]: { auth: b64(`${user}:${SECRET}`) } } })
        const secretData = b64(config) // what a Kubernetes secret or a CI variable holds
        expect(reg.leaks(secretData)).toBe(true)
      }
    }
  )

  it('URLSearchParams (form) encoding of a secret with reserved characters', () => {
    const { reg } = registry()
    const secret = "p@ss!w'(o)rd~*"
    reg.add(secret)
    const body = new URLSearchParams({ grant_type: 'password', password: secret }).toString()
    expect(reg.leaks(body)).toBe(true)
    expect(reg.redact(body)).toBe('grant_type=password&password=***')
  })

  it('JSON-escaped forms of quotes, backslashes and newlines', () => {
    const { reg } = registry()
    const secret = 'a"b\\c\td-long'
    reg.add(secret)
    const json = JSON.stringify({ s: secret })
    expect(json).not.toContain(secret)
    expect(reg.redact(json)).toBe('{"s":"***"}')
  })

  it('each line of a multi-line value (a PEM key) is redacted on its own', () => {
    const { reg } = registry()
    const pem = [
      '-----BEGIN OPENSSH PRIVATE KEY-----',
      'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW',
      'QyNTUxOQAAACBX0lJ4kG6c2f5gHnWQ5u7dfF4u0v0m8Rk0oHc7bJqY8QAAAJgAAAAA',
      '-----END OPENSSH PRIVATE KEY-----'
    ].join('\n')
    reg.add(pem)
    for (const line of pem.split('\n')) {
      expect(reg.redact(`log: ${line}`)).toBe('log: ***')
    }
    expect(reg.redact(`x${pem}x`)).toBe('x***x')
    // CRLF and indented lines too
    const { reg: r2 } = registry()
    r2.add('first-line-secret\r\n   second-line-secret  ')
    expect(r2.redact('second-line-secret')).toBe('***')
    expect(r2.redact('first-line-secret')).toBe('***')
  })

  it('short values are ignored (masking them would garble every log line)', () => {
    const { reg, masked } = registry()
    reg.add('abc')
    reg.add('   ')
    reg.add('')
    reg.add(undefined)
    reg.add('  ab  ')
    expect(masked).toEqual([])
    expect(reg.values()).toEqual([])
    expect(reg.redact('abc ab')).toBe('abc ab')
    expect(MIN_SECRET_LENGTH).toBe(4)
    // A long value with a short line: the short line is not masked alone.
    reg.add('long-enough-value\nab')
    expect(reg.redact('ab long-enough-value')).toBe('ab ***')
    expect(deriveEncodings('x\nyz').every(f => f.length >= MIN_SECRET_LENGTH)).toBe(true)
  })

  it('masks every derived form exactly once, and replays them on setMask', () => {
    const { reg, masked } = registry()
    reg.add(SECRET)
    reg.add(SECRET)
    expect(new Set(masked).size).toBe(masked.length)
    expect(masked).toContain(SECRET)
    expect(masked).toContain(b64(b64(SECRET)))
    const later: string[] = []
    reg.setMask(v => later.push(...v))
    expect(later.sort()).toEqual([...masked].sort())
    expect(reg.allForms().sort()).toEqual([...masked].sort())
    expect(reg.values()).toEqual([SECRET])
  })

  it('redacts the longest form first, so no fragment of a longer form survives', () => {
    const { reg } = registry()
    reg.add('abcd1234')
    reg.add('abcd1234-and-more')
    expect(reg.redact('x abcd1234-and-more y abcd1234')).toBe('x *** y ***')
  })

  it('find names a form, leaks is false on clean text, special characters are literal', () => {
    const { reg } = registry()
    const secret = '$(rm -rf) .* [a-z]+ ^$'
    reg.add(secret)
    expect(reg.find('clean text')).toBeUndefined()
    expect(reg.leaks('clean text')).toBe(false)
    expect(reg.find(`x${secret}`)).toBe(secret)
    expect(reg.redact('.* [a-z]+')).toBe('.* [a-z]+')
  })

  it('deriveEncodings covers every encoding the canary scanner looks for', () => {
    const user = 'deploy-bot'
    for (let i = 0; i < 10; i++) {
      const secret = `CANARY-${randomBytes(12).toString('hex')}`
      const forms = deriveEncodings(secret, { user })
      for (const [encoding, list] of Object.entries(encodingsOf(secret, user))) {
        for (const f of list) {
          expect(
            forms.some(g => g.includes(f) || f.includes(g)),
            `${encoding} ${f}`
          ).toBe(true)
        }
      }
    }
  })
})
