/**
 * The trusted root fetched with TUF when deploy is given none, offline: the Sigstore
 * instance is told by the certificate issuer's organization (certificates made by
 * openssl, read by node as deploy reads them); a TUF repository signed by
 * @tufjs/repo-mock (served through nock) stands in for tuf-repo-cdn.sigstore.dev and
 * tuf-repo.github.com, and @sigstore/tuf walks it from the root it is given to the
 * `trusted_root.json` target, once per instance. The embedded root of GitHub's TUF
 * repository carries its own threshold of valid signatures; with the real mirrors and
 * no network (nock refuses every host), the client asks tuf-repo.github.com for the
 * root after it, and the failure names the instance and the repository. No request
 * leaves the machine.
 */
import { execFileSync } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Metadata, MetadataKind } from '@tufjs/models'
import { initializeTUFRepo, tufHandlers } from '@tufjs/repo-mock'
import nock from 'nock'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  instanceOf,
  issuerOrganization,
  TrustedRootUnavailable,
  tufTrust,
  TUF_MIRRORS,
  type TufMirror
} from '../../../../src/image/attest/sigstore-tuf.js'
import { GITHUB_TUF_ROOT } from '../../../../src/image/attest/tuf-github-root.js'
import { makeFakeInstance, type FakeInstance } from '../../../support/sigstore-fakes.js'

const tmp = mkdtempSync(join(tmpdir(), 'conveyor-tuf-'))
let fake: FakeInstance

/** A certificate issued by `subject` (self-signed: only its issuer name matters here). */
function certIssuedBy(subject: string): X509Certificate {
  const dir = mkdtempSync(join(tmp, 'cert-'))
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
      '-days',
      '1',
      '-subj',
      subject
    ],
    { stdio: 'ignore' }
  )
  return new X509Certificate(readFileSync(join(dir, 'cert.pem')))
}

beforeAll(async () => {
  fake = await makeFakeInstance('github')
  nock.disableNetConnect()
})
afterEach(() => nock.cleanAll())
afterAll(() => {
  nock.enableNetConnect()
  rmSync(tmp, { recursive: true, force: true })
})

describe('the instance of a certificate', () => {
  it.each([
    ['/O=sigstore.dev/CN=sigstore-intermediate', 'sigstore.dev', 'public-good'],
    ['/O=GitHub, Inc./CN=Fulcio Intermediate l2', 'GitHub, Inc.', 'github'],
    ['/O=sigstore.mock/CN=sigstore', 'sigstore.mock', undefined],
    ['/CN=no organization', undefined, undefined]
  ])('issuer %s', (subject, org, instance) => {
    const issuer = certIssuedBy(subject).issuer
    expect(issuerOrganization(issuer)).toBe(org)
    expect(instanceOf(issuer)).toBe(instance)
  })
})

describe("GitHub's TUF root, embedded", () => {
  it('is signed by a threshold of its own root keys (the data is intact)', () => {
    const root = Metadata.fromJSON(MetadataKind.Root, structuredClone(GITHUB_TUF_ROOT) as never)
    expect(root.signed.version).toBe(3)
    expect(() => root.verifyDelegate('root', root)).not.toThrow()
    const tampered = structuredClone(GITHUB_TUF_ROOT) as { signed: { expires: string } }
    tampered.signed.expires = '2099-01-01T00:00:00Z'
    const bad = Metadata.fromJSON(MetadataKind.Root, tampered as never)
    expect(() => bad.verifyDelegate('root', bad)).toThrow(/root was signed by 0\/3 keys/)
  })
  it('is where the github instance starts; the public-good one starts from @sigstore/tuf', () => {
    expect(TUF_MIRRORS.github).toEqual({
      url: 'https://tuf-repo.github.com',
      root: GITHUB_TUF_ROOT
    })
    expect(TUF_MIRRORS['public-good']).toEqual({ url: 'https://tuf-repo-cdn.sigstore.dev' })
  })
})

describe('tufTrust', () => {
  /**
   * A signed TUF repository at `url` serving the fake's trusted root (its handlers put
   * on this test's nock; the first root is handed to the client, never fetched).
   */
  const repo = (url: string): TufMirror => {
    const tuf = initializeTUFRepo([
      { name: 'trusted_root.json', content: JSON.stringify(fake.trustedRootJson) }
    ])
    for (const h of tufHandlers(tuf, { metadataPathPrefix: '' })) {
      if (h.path.endsWith('/1.root.json')) continue
      nock(url)
        .get(h.path)
        .reply(() => {
          const r = h.fn()
          return [r.statusCode, r.response, { 'content-type': r.contentType ?? 'text/plain' }]
        })
    }
    return { url, root: tuf.rootMeta.toJSON() }
  }

  it("fetches the signing instance's trusted_root.json once, from its own repository", async () => {
    const cacheDir = mkdtempSync(join(tmp, 'cache-'))
    const mirrors = {
      'public-good': repo('https://tuf-pg.test'),
      github: repo('https://tuf-gh.test')
    }
    const trust = tufTrust({ cacheDir, mirrors })
    const leaf = certIssuedBy('/O=GitHub, Inc./CN=Fulcio Intermediate l2')
    const roots = await trust.rootsFor(leaf)
    expect(typeof roots).not.toBe('string')
    if (typeof roots === 'string') return
    expect(roots.map(r => r.name)).toEqual([
      "GitHub's Sigstore instance (https://fulcio.githubapp.com)"
    ])
    expect(roots[0]!.options).toEqual({
      tlogThreshold: 0,
      ctlogThreshold: 0,
      timestampThreshold: 1
    })
    expect(existsSync(join(cacheDir, 'github'))).toBe(true)
    expect(existsSync(join(cacheDir, 'public-good'))).toBe(false)
    // Once per run: a second bundle of the same instance asks nobody.
    nock.cleanAll()
    expect(await trust.rootsFor(leaf)).toBe(roots)
  })

  it('a certificate of another CA has no root: the bundle fails, naming the issuer', async () => {
    const trust = tufTrust({ cacheDir: mkdtempSync(join(tmp, 'cache-')) })
    expect(await trust.rootsFor(certIssuedBy('/O=sigstore.mock/CN=sigstore'))).toMatch(
      /^its certificate is issued by O=sigstore\.mock, CN=sigstore, neither Sigstore's public-good instance nor GitHub's Sigstore instance/
    )
  })

  it('a repository that cannot be reached throws TrustedRootUnavailable naming the instance and the repository', async () => {
    const trust = tufTrust({
      cacheDir: mkdtempSync(join(tmp, 'cache-')),
      mirrors: {
        ...TUF_MIRRORS,
        github: { url: 'https://tuf-gone.test', root: repo('https://tuf-other.test').root }
      }
    })
    const error = await trust
      .rootsFor(certIssuedBy('/O=GitHub, Inc./CN=x'))
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(TrustedRootUnavailable)
    expect(String(error)).toMatch(
      /could not obtain the trusted root of GitHub's Sigstore instance from https:\/\/tuf-gone\.test \(TUF\): /
    )
  })

  it.each([
    ['github', '/O=GitHub, Inc./CN=Fulcio Intermediate l2', /tuf-repo\.github\.com.*4\.root\.json/],
    [
      'public-good',
      '/O=sigstore.dev/CN=sigstore-intermediate',
      /tuf-repo-cdn\.sigstore\.dev.*15\.root\.json/
    ]
  ])(
    'the real %s repository is asked for the root after the shipped one (refused here: no network)',
    async (_kind, subject, asked) => {
      const trust = tufTrust({ cacheDir: mkdtempSync(join(tmp, 'cache-')), timeoutMs: 2000 })
      const error = await trust.rootsFor(certIssuedBy(subject)).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(TrustedRootUnavailable)
      expect(String(error)).toMatch(asked)
    }
  )
})
