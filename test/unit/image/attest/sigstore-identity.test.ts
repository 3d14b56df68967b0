/**
 * Who signed a keyless attestation (pure): the OIDC issuer GitHub Actions uses on each
 * kind of GitHub (github.com and an enterprise's custom issuer, ghe.com tenants, GitHub
 * Enterprise Server as its OIDC reference documents), the workflow identity in the
 * subject alternative name, the source repository extension (a reusable workflow signs
 * for its caller), and Fulcio's DER-encoded extension values. Each refusal says what
 * the certificate holds and what was expected.
 */
import { describe, expect, it } from 'vitest'
import {
  checkIdentity,
  expectedIssuer,
  extensionText,
  FULCIO_OID,
  issuerMatches,
  parseWorkflowIdentity,
  type CertificateIdentity
} from '../../../../src/image/attest/sigstore-identity.js'

const GH = 'https://token.actions.githubusercontent.com'
const SAN = 'https://github.com/acme/shop/.github/workflows/ci.yml@refs/heads/main'

/** A certificate identity as Fulcio writes it for a run of `repository` (v2 extensions). */
function cert(
  overrides: { san?: string; issuer?: string; source?: string; commit?: string } = {},
  drop: string[] = []
): CertificateIdentity {
  const extensions: Record<string, string> = {
    [FULCIO_OID.issuer]: overrides.issuer ?? GH,
    [FULCIO_OID.sourceRepositoryUri]: overrides.source ?? 'https://github.com/acme/shop',
    [FULCIO_OID.sourceRepositoryDigest]: overrides.commit ?? 'c'.repeat(40)
  }
  for (const d of drop) delete extensions[d]
  return { subjectAlternativeName: overrides.san ?? SAN, extensions }
}

const policy = { serverUrl: 'https://github.com', allowedRepositories: ['acme/shop'] }

describe('expectedIssuer / issuerMatches', () => {
  it.each([
    ['https://github.com', GH, true],
    ['https://github.com', `${GH}/acme-enterprise`, true],
    ['https://github.com', `${GH}/a/b`, false],
    ['https://github.com', `${GH}evil.example`, false],
    ['https://github.com', 'https://token.actions.githubusercontent.com.evil.example', false],
    ['https://github.com', 'https://accounts.google.com', false],
    ['https://octo.ghe.com', 'https://token.actions.octo.ghe.com', true],
    ['https://octo.ghe.com', GH, false],
    ['https://ghes.example.com', 'https://ghes.example.com/_services/token', true],
    ['https://ghes.example.com/', 'https://ghes.example.com/_services/token', true],
    ['https://ghes.example.com', GH, false],
    ['https://ghes.example.com', 'https://other.example.com/_services/token', false]
  ])('on %s, issuer %s: %s', (server, issuer, ok) => {
    expect(issuerMatches(issuer, server)).toBe(ok)
  })
  it('names the issuer of each kind of GitHub', () => {
    expect(expectedIssuer('https://github.com').issuer).toBe(GH)
    expect(expectedIssuer('https://Octo.GHE.com').issuer).toBe('https://token.actions.octo.ghe.com')
    expect(expectedIssuer('https://ghes.example.com:8443').issuer).toBe(
      'https://ghes.example.com:8443/_services/token'
    )
  })
})

describe('parseWorkflowIdentity', () => {
  it.each([
    [
      SAN,
      {
        origin: 'https://github.com',
        repository: 'acme/shop',
        path: '.github/workflows/ci.yml',
        ref: 'refs/heads/main'
      }
    ],
    [
      'https://ghes.example.com/acme/shop/.github/workflows/sub/release.yaml@refs/tags/v1.2',
      {
        origin: 'https://ghes.example.com',
        repository: 'acme/shop',
        path: '.github/workflows/sub/release.yaml',
        ref: 'refs/tags/v1.2'
      }
    ],
    ['https://github.com/acme/shop/.github/workflows/ci.yml', undefined],
    ['https://github.com/acme/shop/src/ci.yml@refs/heads/main', undefined],
    ['http://github.com/acme/shop/.github/workflows/ci.yml@refs/heads/main', undefined],
    ['https://github.com/acme/shop/.github/workflows/ci.yml@main?x=1', undefined],
    ['https://github.com/acme/shop/.github/workflows/%E0%A4%A@main', undefined],
    ['dev@example.com', undefined],
    ['', undefined]
  ])('%s', (san, want) => {
    expect(parseWorkflowIdentity(san)).toEqual(want)
  })
})

describe('checkIdentity', () => {
  it.each<[string, CertificateIdentity, RegExp]>([
    [
      'another issuer',
      cert({ issuer: 'https://accounts.google.com' }),
      /OIDC issuer "https:\/\/accounts\.google\.com", expected https:\/\/token\.actions\.githubusercontent\.com/
    ],
    ['no issuer', cert({}, [FULCIO_OID.issuer]), /OIDC issuer \(none\)/],
    [
      'an e-mail identity',
      cert({ san: 'dev@example.com' }),
      /identity "dev@example\.com" is not a GitHub Actions workflow of https:\/\/github\.com/
    ],
    [
      'a workflow of another GitHub',
      cert({ san: 'https://ghes.example.com/acme/shop/.github/workflows/ci.yml@refs/heads/main' }),
      /is not a GitHub Actions workflow of https:\/\/github\.com/
    ],
    [
      'a run of another repository',
      cert({
        san: 'https://github.com/evil/fork/.github/workflows/ci.yml@refs/heads/main',
        source: 'https://github.com/evil/fork'
      }),
      /issued to a workflow run of evil\/fork \(workflow https:\/\/github\.com\/evil\/fork\/\.github\/workflows\/ci\.yml@refs\/heads\/main\), expected acme\/shop/
    ],
    [
      'our reusable workflow called by another repository',
      cert({ source: 'https://github.com/evil/fork' }),
      /workflow run of evil\/fork \(workflow https:\/\/github\.com\/acme\/shop\/\.github\/workflows\/ci\.yml@refs\/heads\/main, a reusable workflow\), expected acme\/shop/
    ],
    [
      'a source repository on another host',
      cert({ source: 'https://gitlab.com/acme/shop' }),
      /source repository "https:\/\/gitlab\.com\/acme\/shop", not a repository of https:\/\/github\.com/
    ]
  ])('refuses %s', (_name, identity, message) => {
    const r = checkIdentity(identity, policy)
    expect(r.ok).toBe(false)
    expect(r.detail).toMatch(message)
  })

  it.each<[string, CertificateIdentity, string, string | undefined]>([
    ['a workflow of this repository', cert(), 'https://github.com/acme/shop', 'c'.repeat(40)],
    [
      'repository names compared case-insensitively',
      cert({
        source: 'https://github.com/ACME/Shop',
        san: 'https://github.com/ACME/Shop/.github/workflows/ci.yml@refs/heads/main'
      }),
      'https://github.com/ACME/Shop',
      'c'.repeat(40)
    ],
    [
      'a reusable workflow of another repository called by this one',
      cert({
        san: 'https://github.com/tools/conveyor/.github/workflows/pipeline.yml@refs/tags/v1'
      }),
      'https://github.com/acme/shop',
      'c'.repeat(40)
    ],
    [
      'an enterprise custom issuer',
      cert({ issuer: `${GH}/acme-ent` }),
      'https://github.com/acme/shop',
      'c'.repeat(40)
    ],
    [
      'an older certificate (v1 extensions only)',
      {
        subjectAlternativeName: SAN,
        extensions: {
          [FULCIO_OID.issuerV1]: GH,
          [FULCIO_OID.workflowRepositoryV1]: 'acme/shop',
          [FULCIO_OID.workflowShaV1]: 'd'.repeat(40)
        }
      },
      'https://github.com/acme/shop',
      'd'.repeat(40)
    ],
    [
      'no source repository extension: the signer workflow is the run',
      { subjectAlternativeName: SAN, extensions: { [FULCIO_OID.issuer]: GH } },
      'https://github.com/acme/shop',
      undefined
    ]
  ])('accepts %s', (_name, identity, repositoryUrl, commit) => {
    const r = checkIdentity(identity, policy)
    expect(r).toMatchObject({
      ok: true,
      signer: { repositoryUrl, workflow: identity.subjectAlternativeName }
    })
    expect(r.ok ? r.signer.commit : 'refused').toBe(commit)
  })

  it('accepts the issuer and workflows of a GitHub Enterprise Server', () => {
    const r = checkIdentity(
      {
        subjectAlternativeName:
          'https://ghes.example.com/acme/shop/.github/workflows/ci.yml@refs/heads/main',
        extensions: {
          [FULCIO_OID.issuer]: 'https://ghes.example.com/_services/token',
          [FULCIO_OID.sourceRepositoryUri]: 'https://ghes.example.com/acme/shop'
        }
      },
      { serverUrl: 'https://ghes.example.com', allowedRepositories: ['acme/shop'] }
    )
    expect(r.ok).toBe(true)
    expect(r.detail).toMatch(/issuer https:\/\/ghes\.example\.com\/_services\/token/)
  })

  it('an allowed-sources list admits each of its repositories', () => {
    const fork = cert({
      san: 'https://github.com/acme/tools/.github/workflows/ci.yml@refs/heads/main',
      source: 'https://github.com/acme/tools'
    })
    expect(checkIdentity(fork, policy).ok).toBe(false)
    expect(
      checkIdentity(fork, { ...policy, allowedRepositories: ['acme/shop', 'acme/tools'] }).ok
    ).toBe(true)
  })
})

describe('extensionText', () => {
  it.each([
    ['a DER UTF8String (v2 extensions)', Buffer.from([0x0c, 3, 0x61, 0x62, 0x63]), 'abc'],
    [
      'a long DER UTF8String',
      Buffer.concat([Buffer.from([0x0c, 0x81, 200]), Buffer.alloc(200, 0x78)]),
      'x'.repeat(200)
    ],
    ['bare text (v1 extensions)', Buffer.from(GH), GH],
    ['a length that does not match: bare', Buffer.from([0x0c, 9, 0x61]), '\x0c\x09a']
  ])('%s', (_name, bytes, text) => {
    expect(extensionText(bytes)).toBe(text)
  })
})
