import { describe, expect, it } from 'vitest'
import { ConfigurationError } from '../../../../src/core/errors.js'
import {
  entryMatchesHost,
  fingerprint,
  keyTypeOf,
  knownHostsName,
  parseFingerprints,
  parseHostLines,
  parseKnownHosts,
  pinnedKeyTypes,
  verifyHostKey,
  type HostKeyPolicy
} from '../../../../src/deploy/ssh/host-keys.js'

// Generated with ssh-keygen; fingerprints as `ssh-keygen -lf` prints them.
const ED = 'AAAAC3NzaC1lZDI1NTE5AAAAIDNOYVse6AnHkTwuu0uKQAlaVNc/VveHSRJ6vEWQacc8'
const ED_FP = 'SHA256:razqhxiCRcqoTkPIux2sLGLohFlI01+x3FaSEDfLyJI'
const EC =
  'AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBAQnQ5H1FegSBzwA/zLUPG6kLs3DwF1si0/8+vlOha+6nNS2toGPPtq7VpbUSkis0+xBh/kPS4/bkdKcKP3TdXA='
const EC_FP = 'SHA256:5P1cEAhYIR9qgtH+k1yPDpmatph7t9klzeKp1faZNzk'
// `ssh-keygen -H` of "[example.com]:2222 ssh-ed25519 <ED>"
const HASHED = '|1|Fc0uxMT9EZlbH/Swuw/5sdrHctU=|nbssjDzAQ9zSSrB32V2R7lguGcg='

const edKey = Buffer.from(ED, 'base64')
const ecKey = Buffer.from(EC, 'base64')

function configError(fn: () => unknown): string {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError)
    return (error as Error).message
  }
  throw new Error('expected a ConfigurationError')
}

describe('fingerprint and key type', () => {
  it('matches ssh-keygen -l', () => {
    expect(fingerprint(edKey)).toBe(ED_FP)
    expect(fingerprint(ecKey)).toBe(EC_FP)
    expect(keyTypeOf(edKey)).toBe('ssh-ed25519')
    expect(keyTypeOf(ecKey)).toBe('ecdsa-sha2-nistp256')
    expect(keyTypeOf(Buffer.from('xx'))).toBe('unknown')
  })
  it.each([
    ['example.com', 22, 'example.com'],
    ['example.com', 2222, '[example.com]:2222'],
    ['127.0.0.1', 40022, '[127.0.0.1]:40022']
  ])('knownHostsName(%s, %d) = %s', (host, port, name) => {
    expect(knownHostsName(host, port)).toBe(name)
  })
})

describe('parseHostLines', () => {
  it.each([
    [['web1'], [{ host: 'web1', port: 22 }]],
    [['web1:2222'], [{ host: 'web1', port: 2222 }]],
    [
      ['10.0.0.5', 'b.example.com:23'],
      [
        { host: '10.0.0.5', port: 22 },
        { host: 'b.example.com', port: 23 }
      ]
    ],
    [['[::1]:2200'], [{ host: '::1', port: 2200 }]],
    [['[fe80::1]'], [{ host: 'fe80::1', port: 22 }]]
  ])('%j', (lines, expected) => {
    expect(parseHostLines(lines, 22)).toEqual(expected)
  })
  it('uses the default port', () => {
    expect(parseHostLines(['a'], 2022)).toEqual([{ host: 'a', port: 2022 }])
  })
  it.each([
    [['web 1'], 'expected one host[:port] per line'],
    [['user@web'], 'expected one host[:port] per line'],
    [['-oProxyCommand=x'], 'expected one host[:port] per line'],
    [['web:0'], 'between 1 and 65535'],
    [['web:70000'], 'between 1 and 65535'],
    [['web', 'web:22'], 'listed twice']
  ])('rejects %j', (lines, message) => {
    expect(configError(() => parseHostLines(lines, 22))).toContain(message)
    expect(configError(() => parseHostLines(lines, 22))).toContain('input "hosts"')
  })
})

describe('parseFingerprints', () => {
  it('accepts SHA256 fingerprints with or without padding', () => {
    expect(parseFingerprints([ED_FP, `${EC_FP}=`])).toEqual([ED_FP, EC_FP])
  })
  it.each([['MD5:aa:bb'], ['SHA256:short'], ['razqhxiCRcqoTkPIux2sLGLohFlI01+x3FaSEDfLyJI']])(
    'rejects %s naming the item',
    bad => {
      const message = configError(() => parseFingerprints([ED_FP, bad]))
      expect(message).toContain('input "fingerprints": item 2')
    }
  )
})

describe('parseKnownHosts', () => {
  it('parses plain, bracketed, hashed, comment and marker lines with line numbers', () => {
    const text = [
      '# pinned hosts',
      '',
      `web1,10.0.0.5 ssh-ed25519 ${ED} comment here`,
      `[127.0.0.1]:2222 ecdsa-sha2-nistp256 ${EC}`,
      `${HASHED} ssh-ed25519 ${ED}`,
      `@revoked * ecdsa-sha2-nistp256 ${EC}`
    ].join('\n')
    const entries = parseKnownHosts(text)
    expect(entries.map(e => [e.line, e.patterns, e.keyType, e.marker])).toEqual([
      [3, ['web1', '10.0.0.5'], 'ssh-ed25519', undefined],
      [4, ['[127.0.0.1]:2222'], 'ecdsa-sha2-nistp256', undefined],
      [5, [HASHED], 'ssh-ed25519', undefined],
      [6, ['*'], 'ecdsa-sha2-nistp256', 'revoked']
    ])
    expect(entries[0]!.key.equals(edKey)).toBe(true)
  })
  it.each([
    [`web1 ssh-ed25519`, 'line 2: too few fields'],
    [`web1 ssh-ed25519 not*base64`, 'line 2: the key is not base64'],
    [`web1 ecdsa-sha2-nistp256 ${ED}`, 'line 2: the key data is of type "ssh-ed25519"'],
    [`@bogus web1 ssh-ed25519 ${ED}`, 'line 2: unknown marker'],
    [`|1|x web1 ssh-ed25519 ${ED}`.replace(' web1', ''), 'line 2: malformed hashed host']
  ])('rejects %s with its line number', (bad, message) => {
    const text = `web0 ssh-ed25519 ${ED}\n${bad}`
    const error = configError(() => parseKnownHosts(text))
    expect(error).toContain(`input "known-hosts", ${message}`)
  })
})

describe('host pattern matching', () => {
  const entry = (patterns: string): ReturnType<typeof parseKnownHosts>[number] =>
    parseKnownHosts(`${patterns} ssh-ed25519 ${ED}`)[0]!
  it.each([
    ['web1', 'web1', 22, true],
    ['web1', 'WEB1', 22, true],
    ['web1', 'web1', 2222, false],
    ['[web1]:2222', 'web1', 2222, true],
    ['[web1]:2222', 'web1', 22, false],
    ['*.example.com', 'a.example.com', 22, true],
    ['*.example.com', 'example.com', 22, false],
    ['web?', 'web7', 22, true],
    ['*.example.com,!bad.example.com', 'bad.example.com', 22, false],
    ['*.example.com,!bad.example.com', 'ok.example.com', 22, true],
    [HASHED, 'example.com', 2222, true],
    [HASHED, 'example.com', 22, false],
    [HASHED, 'other.com', 2222, false]
  ])('%s vs %s:%d = %s', (patterns, host, port, expected) => {
    expect(entryMatchesHost(entry(patterns), host, port)).toBe(expected)
  })
})

describe('verifyHostKey', () => {
  const policy = (over: Partial<HostKeyPolicy>): HostKeyPolicy => ({
    knownHosts: [],
    fingerprints: [],
    insecure: false,
    ...over
  })
  const kh = parseKnownHosts(`[h]:2222 ssh-ed25519 ${ED}\nother ecdsa-sha2-nistp256 ${EC}`)

  it('accepts the pinned key of the host', () => {
    const v = verifyHostKey(policy({ knownHosts: kh }), 'h', 2222, edKey)
    expect(v).toEqual({ ok: true, reason: 'known-hosts line 1' })
  })
  it('refuses another key and names what is pinned for the host', () => {
    const v = verifyHostKey(policy({ knownHosts: kh }), 'h', 2222, ecKey)
    expect(v.ok).toBe(false)
    expect(v.reason).toContain(`the server presented a ecdsa-sha2-nistp256 key ${EC_FP}`)
    expect(v.reason).toContain(`known-hosts pins ssh-ed25519 ${ED_FP} (line 1) for [h]:2222`)
  })
  it('refuses a key pinned for another host', () => {
    const v = verifyHostKey(policy({ knownHosts: kh }), 'h', 2222, ecKey)
    expect(v.ok).toBe(false)
    const w = verifyHostKey(policy({ knownHosts: kh }), 'nohost', 22, ecKey)
    expect(w.ok).toBe(false)
    expect(w.reason).toContain('known-hosts has no line for nohost')
  })
  it('hints at the [host]:port form when only port 22 lines exist', () => {
    const v = verifyHostKey(
      policy({ knownHosts: parseKnownHosts(`h ssh-ed25519 ${ED}`) }),
      'h',
      2222,
      edKey
    )
    expect(v.ok).toBe(false)
    expect(v.reason).toContain('write "[h]:2222"')
  })
  it('accepts any pinned fingerprint, refuses others', () => {
    expect(verifyHostKey(policy({ fingerprints: [EC_FP, ED_FP] }), 'x', 22, edKey).ok).toBe(true)
    const v = verifyHostKey(policy({ fingerprints: [EC_FP] }), 'x', 22, edKey)
    expect(v.ok).toBe(false)
    expect(v.reason).toContain('matches none of the 1 pinned fingerprint(s)')
  })
  it('insecure accepts anything except a revoked key', () => {
    expect(verifyHostKey(policy({ insecure: true }), 'x', 22, edKey).ok).toBe(true)
    const revoked = parseKnownHosts(`@revoked * ssh-ed25519 ${ED}\nx ssh-ed25519 ${ED}`)
    const v = verifyHostKey(policy({ insecure: true, knownHosts: revoked }), 'x', 22, edKey)
    expect(v.ok).toBe(false)
    expect(v.reason).toContain('@revoked (line 1)')
  })
  it('pinnedKeyTypes lists the types pinned for a host, in order, once', () => {
    const entries = parseKnownHosts(
      `[h]:2222 ecdsa-sha2-nistp256 ${EC}\n[h]:2222 ssh-ed25519 ${ED}\n[h]:2222 ssh-ed25519 ${ED}\nz ssh-ed25519 ${ED}`
    )
    expect(pinnedKeyTypes(policy({ knownHosts: entries }), 'h', 2222)).toEqual([
      'ecdsa-sha2-nistp256',
      'ssh-ed25519'
    ])
  })
})
