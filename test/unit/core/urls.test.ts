/**
 * URLs as errors may show them (scheme, host and path only) and the cleartext rule
 * (plain HTTP to another machine refused unless insecure-http, which warns).
 */
import { describe, expect, it } from 'vitest'
import { checkCleartext, isLoopbackHost, shownUrl } from '../../../src/core/urls.js'

const TOKEN = 'ghp_Tok3nThatMustNeverShow'

describe('shownUrl: scheme, host and path only', () => {
  it.each([
    [`http://host/c.git?access_token=${TOKEN}`, 'http://host/c.git'],
    [`https://x-access-token:${TOKEN}@github.com/acme/config`, 'https://github.com/acme/config'],
    [`https://${TOKEN}@github.com/a/b#frag-${TOKEN}`, 'https://github.com/a/b'],
    [`x:${TOKEN}@host:c.git`, 'host:c.git'],
    [`file://x:${TOKEN}@/path/to/c.git`, 'file:///path/to/c.git'],
    [`https://argocd.example.com/?token=${TOKEN}`, 'https://argocd.example.com/'],
    [`HTTPS://user:${TOKEN}@exa mple.com/x?y=${TOKEN}`, 'https://exa mple.com/x'],
    ['git@github.com:acme/config.git', 'github.com:acme/config.git'],
    [`ssh://git:${TOKEN}@host:2222/repo.git`, 'ssh://host:2222/repo.git'],
    ['acme/config', 'acme/config'],
    [`just-a-word?secret=${TOKEN}`, 'just-a-word']
  ])('%s → %s', (input, shown) => {
    expect(shownUrl(input)).toBe(shown)
    expect(shownUrl(input)).not.toContain(TOKEN)
  })
})

describe('isLoopbackHost', () => {
  it.each([
    ['localhost', true],
    ['LOCALHOST.', true],
    ['app.localhost', true],
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['[::1]', true],
    ['::1', true],
    ['127.0.0.256', false],
    ['128.0.0.1', false],
    ['10.0.0.1', false],
    ['localhost.example.com', false],
    ['example.com', false]
  ])('%s → %s', (host, loopback) => {
    expect(isLoopbackHost(host)).toBe(loopback)
  })
})

describe('checkCleartext', () => {
  it('https and loopback http pass silently', () => {
    expect(checkCleartext('server', new URL('https://a.example'), false, 'the token')).toBe(
      undefined
    )
    expect(checkCleartext('server', new URL('http://127.0.0.1:8080'), false, 'x')).toBe(undefined)
    expect(checkCleartext('server', new URL('http://localhost/x'), false, 'x')).toBe(undefined)
  })

  it('http to another machine is refused, naming the input, without the query', () => {
    expect(() =>
      checkCleartext(
        'repository',
        new URL(`http://git.example.com/c.git?t=${TOKEN}`),
        false,
        'the token'
      )
    ).toThrow(
      /^input "repository": got "http:\/\/git\.example\.com\/c\.git", plain HTTP to another machine: the token would cross the network in clear text; use https:\/\/, or set input "insecure-http" to true/
    )
  })

  it('insecure-http: accepted, with a warning that says what travels in the clear', () => {
    const warning = checkCleartext('server', new URL('http://argocd.lan'), true, 'the token')
    expect(warning).toMatch(
      /^input "insecure-http" is true: server http:\/\/argocd\.lan\/ is plain HTTP, so the token/
    )
  })
})
