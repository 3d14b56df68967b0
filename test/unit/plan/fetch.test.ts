/**
 * How plan talks to origin: what a failed fetch's stderr means (real git 2.39 messages,
 * over file:// and smart HTTP), the error that says so, whether the token is sent and
 * to which server, and which names may go into a refspec.
 */
import { describe, expect, it } from 'vitest'
import { ConfigurationError } from '../../../src/core/errors.js'
import { fetchAuth, fetchError, fetchFailure, isRefName } from '../../../src/plan/fetch.js'
import { secrets } from '../../../src/core/secrets.js'

describe('fetchFailure: what git said', () => {
  it.each([
    // missing: the one failure a plan may answer by choosing another base
    [
      'fatal: remote error: upload-pack: not our ref aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
      'missing'
    ],
    ["fatal: couldn't find remote ref refs/heads/nope", 'missing'],
    ['error: Server does not allow request for unadvertised object 1234', 'missing'],
    // authentication
    ["fatal: could not read Username for 'https://github.com': terminal prompts disabled", 'auth'],
    [
      "remote: Invalid username or password.\nfatal: Authentication failed for 'https://github.com/a/b/'",
      'auth'
    ],
    ["fatal: unable to access 'https://h/x/': The requested URL returned error: 403", 'auth'],
    ['git@github.com: Permission denied (publickey).', 'auth'],
    [
      "remote: Repository not found.\nfatal: repository 'https://github.com/a/b/' not found",
      'auth'
    ],
    ['\nPlease make sure you have the correct access rights\nand the repository exists.', 'auth'],
    // network
    [
      "fatal: unable to access 'http://127.0.0.1:9/x.git/': Failed to connect to 127.0.0.1 port 9 after 0 ms: Couldn't connect to server",
      'network'
    ],
    [
      "fatal: unable to access 'http://no-such-host.invalid/x.git/': Could not resolve host: no-such-host.invalid",
      'network'
    ],
    ['error: RPC failed; curl 56 GnuTLS recv error (-9)\nfatal: early EOF', 'network'],
    // anything else is not taken for "missing"
    ['fatal: something new and unexpected', 'other']
  ])('%j → %s', (stderr, failure) => {
    expect(fetchFailure(stderr)).toBe(failure)
  })

  it('a timed-out fetch is a network failure, whatever git printed', () => {
    expect(fetchFailure("fatal: couldn't find remote ref x", true)).toBe('network')
  })
})

describe('fetchError: says why, what to do, never a credential', () => {
  it('authentication: a ConfigurationError naming input "token", the origin without userinfo or query', () => {
    secrets.add('ghs_fetchTokenCanary0123', { label: 'input "token"' })
    const e = fetchError(
      'fetching',
      'auth',
      "fatal: could not read Username for 'https://x:ghs_fetchTokenCanary0123@github.com/a/b?t=1': terminal prompts disabled",
      'https://x:ghs_fetchTokenCanary0123@github.com/acme/shop.git?access_token=zzz'
    )
    expect(e).toBeInstanceOf(ConfigurationError)
    expect(e.message).toMatch(
      /^fetching from origin https:\/\/github\.com\/acme\/shop\.git failed: origin refused the credentials, or asked for some and got none \(git said "fatal: could not read Username for 'https:\/\/github\.com\/a\/b': terminal prompts disabled"\)\. plan needs that history/
    )
    expect(e.message).toContain('does not answer "every service" for a fetch that failed')
    expect(e.message).toContain('input "token"')
    expect(e.message).not.toMatch(/ghs_fetchTokenCanary0123|access_token|zzz/)
  })

  it('network: a plain Error that says to retry', () => {
    const e = fetchError('fetching', 'network', 'fatal: early EOF', 'https://github.com/a/b')
    expect(e).not.toBeInstanceOf(ConfigurationError)
    expect(e.message).toMatch(/origin could not be reached, or the transfer broke off/)
    expect(e.message).toMatch(/retry the job/)
  })
})

describe('fetchAuth: the token goes only to the GitHub server, as a scoped header', () => {
  const server = 'https://github.com'
  it.each<[string | undefined, string, boolean, boolean, string | undefined, RegExp]>([
    [
      'https://github.com/acme/shop',
      server,
      true,
      false,
      'http.https://github.com/.extraheader',
      /authenticate with input "token"/
    ],
    ['https://github.com/acme/shop', server, false, false, undefined, /no input "token"/],
    [
      'https://github.com/acme/shop',
      server,
      true,
      true,
      undefined,
      /credentials the checkout configured/
    ],
    [
      'https://gitlab.example.com/a/b',
      server,
      true,
      false,
      undefined,
      /origin gitlab\.example\.com is not the GitHub server github\.com/
    ],
    ['git@github.com:acme/shop.git', server, true, false, undefined, /not an http\(s\) URL/],
    ['file:///srv/git/shop.git', server, true, false, undefined, /not an http\(s\) URL/],
    [
      'http://127.0.0.1:8080/shop.git',
      'http://127.0.0.1:8080',
      true,
      false,
      'http.http://127.0.0.1:8080/.extraheader',
      /authenticate/
    ],
    [
      'http://127.0.0.1:8081/shop.git',
      'http://127.0.0.1:8080',
      true,
      false,
      undefined,
      /is not the GitHub server/
    ]
  ])(
    '%s (server %s, token %s, configured %s)',
    (origin, serverUrl, token, configured, key, why) => {
      const r = fetchAuth(origin, serverUrl, token, configured)
      expect(r.key).toBe(key)
      expect(r.why).toMatch(why)
    }
  )
})

describe('isRefName: what may go into a refspec', () => {
  it.each(['main', 'feature/x', 'v1.2.3', 'refs/tags/v1', 'release-2024.10'])('%s is a name', n => {
    expect(isRefName(n)).toBe(true)
  })
  it.each([
    'HEAD~3',
    'main^',
    'a..b',
    'x:y',
    'a b',
    '-x',
    'a/',
    'a.lock',
    '@',
    'a@{1}',
    'a//b',
    ''
  ])('%j is not', n => {
    expect(isRefName(n)).toBe(false)
  })
})
