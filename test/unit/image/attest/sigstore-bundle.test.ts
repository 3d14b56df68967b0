/**
 * Keyless bundles verified the way deploy verifies them, offline: bundles made by the
 * build's own keyless signing (@actions/attest) against fakes of GitHub's Sigstore
 * instance (Fulcio + TSA) and of the public-good one (Fulcio + Rekor), then checked by
 * `verifyBundle` against trusted roots read from their JSON (one document, or the JSON
 * lines `gh attestation trusted-root` prints). A tampered payload, a certificate of
 * another CA, and a bundle stripped of its proof of time are refused, each saying why;
 * `checkKeylessProvenance` then holds the statement to the certificate: another
 * repository's run, or a statement naming another repository or commit than the
 * certificate, fails. No request leaves the machine.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signKeyless } from '../../../../src/image/attest/keyless.js'
import { provenanceStatement, type WorkflowRun } from '../../../../src/image/attest/provenance.js'
import {
  fixedTrust,
  parseTrustedRootText,
  trustRoots,
  verifyBundle,
  type TrustRoot
} from '../../../../src/image/attest/sigstore-bundle.js'
import { checkKeylessProvenance } from '../../../../src/image/attest/verify.js'
import {
  githubClaims,
  makeFakeInstance,
  reliableFake,
  startFakeOidc,
  uninstallFakes,
  type FakeInstance,
  type FakeKind,
  type FakeOidc
} from '../../../support/sigstore-fakes.js'

const DIGEST = `sha256:${'a'.repeat(64)}`
const SHA = 'b'.repeat(40)
const run = (repository: string, sha = SHA): WorkflowRun => ({
  serverUrl: 'https://github.com',
  repository,
  ref: 'refs/heads/main',
  sha,
  workflowRef: `${repository}/.github/workflows/ci.yml@refs/heads/main`,
  runId: '7',
  runAttempt: '1',
  eventName: 'push'
})
const statementOf = (repository: string, sha = SHA) =>
  provenanceStatement(run(repository, sha), { image: 'ghcr.io/acme/cart', digest: DIGEST })

const saved = { ...process.env }
let oidc: FakeOidc
const fakes = {} as Record<FakeKind, FakeInstance>
const good = {} as Record<FakeKind, Buffer>

/** Sign `statement` with the fake of `kind`, as a run of `repository` at `sha`. */
async function sign(
  kind: FakeKind,
  repository = 'acme/shop',
  statement = statementOf('acme/shop'),
  sha = SHA
): Promise<Buffer> {
  fakes[kind]?.install()
  oidc.claims = githubClaims(repository, { sha })
  const att = await signKeyless(statement, { token: 'ghs_unused', sigstore: kind, store: false })
  return att.blob.bytes
}

const rootsOf = (...f: FakeInstance[]) =>
  trustRoots(parseTrustedRootText(f.map(x => JSON.stringify(x.trustedRootJson)).join('\n')))

beforeAll(async () => {
  oidc = await startFakeOidc(githubClaims('acme/shop'))
  Object.assign(process.env, {
    ACTIONS_ID_TOKEN_REQUEST_URL: oidc.url,
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: oidc.requestToken,
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_REPOSITORY: 'acme/shop'
  })
  for (const kind of ['github', 'public-good'] as const) {
    fakes[kind] = await reliableFake(kind, async () => JSON.parse((await sign(kind)).toString()))
    good[kind] = await sign(kind)
  }
}, 60_000)

afterAll(async () => {
  uninstallFakes()
  process.env = saved
  await oidc?.stop()
})

describe('parseTrustedRootText', () => {
  const doc = () => ({
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    certificateAuthorities: [{ uri: 'https://fulcio.example' }]
  })
  it('reads one document, or JSON lines of them', () => {
    expect(parseTrustedRootText(JSON.stringify(doc(), null, 2))).toHaveLength(1)
    expect(
      parseTrustedRootText(`${JSON.stringify(doc())}\n\n${JSON.stringify(doc())}\n`)
    ).toHaveLength(2)
  })
  it.each([
    ['', /holds no trusted root/],
    [`${JSON.stringify(doc())}\n{"x":`, /line 2 is not JSON/],
    ['[]', /is not a JSON object/],
    [
      JSON.stringify({ ...doc(), mediaType: 'application/json' }),
      /mediaType "application\/json", expected application\/vnd\.dev\.sigstore\.trustedroot/
    ],
    [JSON.stringify({ ...doc(), certificateAuthorities: [] }), /lists no certificateAuthorities/],
    [
      `${JSON.stringify(doc())}\n${JSON.stringify({ mediaType: 'x' })}`,
      /trusted root 2 has mediaType "x"/
    ]
  ])('refuses %j', (text, message) => {
    expect(() => parseTrustedRootText(text)).toThrow(message)
  })
})

describe('verifyBundle', () => {
  let both: TrustRoot[]
  beforeAll(async () => {
    both = await rootsOf(fakes.github, fakes['public-good'])
  })

  it('asks of each root what it can prove: a Rekor entry and an SCT (public-good), a timestamp (GitHub)', () => {
    expect(both.map(r => [r.name, r.options])).toEqual([
      [
        'https://fulcio.githubapp.com',
        { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 1 }
      ],
      [
        'https://fulcio.sigstore.dev',
        { tlogThreshold: 1, ctlogThreshold: 1, timestampThreshold: 1 }
      ]
    ])
  })

  it.each(['github', 'public-good'] as const)(
    'a bundle of the %s instance verifies; its identity and payload come out',
    async kind => {
      const r = await verifyBundle(good[kind], fixedTrust(both))
      expect(r.ok).toBe(true)
      if (!r.ok) return
      expect(r.detail).toMatch(
        kind === 'github'
          ? /trusted root of https:\/\/fulcio\.githubapp\.com \(certificate chain, 0 transparency log entries, 1 signed timestamp\)/
          : /trusted root of https:\/\/fulcio\.sigstore\.dev \(certificate chain, 1 transparency log entry, 0 signed timestamps\)/
      )
      expect(r.identity.subjectAlternativeName).toBe(
        'https://github.com/acme/shop/.github/workflows/ci.yml@refs/heads/main'
      )
      expect(r.identity.extensions['1.3.6.1.4.1.57264.1.12']).toBe('https://github.com/acme/shop')
      expect(
        Object.keys(r.identity.extensions).every(o => o.startsWith('1.3.6.1.4.1.57264.'))
      ).toBe(true)
      expect(JSON.parse(r.payload.toString())).toEqual(statementOf('acme/shop'))
    }
  )

  it('a payload changed after signing does not verify', async () => {
    const bundle = JSON.parse(good.github.toString())
    bundle.dsseEnvelope.payload = Buffer.from(
      JSON.stringify(statementOf('acme/shop', 'c'.repeat(40)))
    ).toString('base64')
    const r = await verifyBundle(Buffer.from(JSON.stringify(bundle)), fixedTrust(both))
    expect(r).toMatchObject({ ok: false })
    expect(r.detail).toMatch(
      /does not verify against any of 2 trusted roots: .*signature verification failed/
    )
    // Only the roots whose CA issued the certificate are tried, when one did.
    const [gh, pg] = both
    const narrowed = await verifyBundle(
      Buffer.from(JSON.stringify(bundle)),
      fixedTrust([gh!, { ...pg!, caSubjects: ['O=elsewhere\nCN=other'] }])
    )
    expect(narrowed.detail).toMatch(
      /does not verify against the trusted root: https:\/\/fulcio\.githubapp\.com: signature verification failed$/
    )
  })

  it('a certificate of a CA the root does not hold does not verify', async () => {
    // The stranger's bundle carries a timestamp of the trusted TSA: only the chain fails.
    const stranger = await makeFakeInstance('github', { timeOf: fakes.github })
    stranger.install()
    oidc.claims = githubClaims('acme/shop')
    const bytes = (
      await signKeyless(statementOf('acme/shop'), { token: 't', sigstore: 'github', store: false })
    ).blob.bytes
    const r = await verifyBundle(bytes, fixedTrust(both))
    expect(r.ok).toBe(false)
    expect(r.detail).toMatch(
      /certificate issued by CN=sigstore, O=sigstore\.mock\) does not verify against any of 2 trusted roots: https:\/\/fulcio\.githubapp\.com: Failed to verify certificate chain: no valid certificate path found/
    )
    // A whole other instance (CA and TSA) fails at its timestamp already.
    const other = await verifyBundle(
      good.github,
      fixedTrust(await rootsOf(await makeFakeInstance('github')))
    )
    expect(other).toMatchObject({
      ok: false,
      detail: expect.stringMatching(
        /does not verify against the trusted root: https:\/\/fulcio\.githubapp\.com: timestamp could not be verified/
      )
    })
  })

  it('a bundle without its proof of time does not verify (a TSA timestamp, a Rekor entry)', async () => {
    const github = JSON.parse(good.github.toString())
    github.verificationMaterial.timestampVerificationData = { rfc3161Timestamps: [] }
    const a = await verifyBundle(Buffer.from(JSON.stringify(github)), fixedTrust(both))
    expect(a.ok).toBe(false)
    expect(a.detail).toMatch(/expected 1 timestamps, got 0/)
    const pg = JSON.parse(good['public-good'].toString())
    pg.verificationMaterial.tlogEntries = []
    const b = await verifyBundle(Buffer.from(JSON.stringify(pg)), fixedTrust(both))
    expect(b.ok).toBe(false)
    expect(b.detail).toMatch(/expected 1 (timestamps|tlog entries), got 0/)
  })

  it('what is not a bundle, and a trust without a root for it, say so', async () => {
    const notBundle = await verifyBundle(
      Buffer.from(
        JSON.stringify({ payloadType: 'application/vnd.in-toto+json', payload: '', signatures: [] })
      ),
      fixedTrust(both)
    )
    expect(notBundle).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/^not a valid Sigstore bundle/)
    })
    const none = await verifyBundle(good.github, {
      rootsFor: () => Promise.resolve('no root here')
    })
    expect(none).toEqual({
      ok: false,
      detail: 'the Sigstore bundle cannot be verified: no root here'
    })
  })
})

describe('checkKeylessProvenance: the statement must agree with the certificate', () => {
  const policy = {
    digest: DIGEST,
    allowedRepositories: ['acme/shop', 'acme/tools'],
    serverUrl: 'https://github.com'
  }
  const judge = async (bytes: Buffer, allowed = policy.allowedRepositories) =>
    checkKeylessProvenance(await verifyBundle(bytes, fixedTrust(await rootsOf(fakes.github))), {
      ...policy,
      allowedRepositories: allowed
    })

  it('a good bundle passes every check, identity included', async () => {
    const v = await judge(good.github, ['acme/shop'])
    expect(v.ok).toBe(true)
    expect(v.checks.map(c => c.check)).toEqual([
      'found',
      'signature',
      'identity',
      'statement',
      'subject',
      'repository',
      'commit'
    ])
  })

  it('a run of another repository fails the identity check, whatever its statement says', async () => {
    const v = await judge(await sign('github', 'evil/fork'), ['acme/shop'])
    expect(v.failed).toMatchObject({
      check: 'identity',
      detail: expect.stringMatching(/issued to a workflow run of evil\/fork .*expected acme\/shop/)
    })
  })

  it('a statement naming another allowed repository than the certificate fails the repository check', async () => {
    const v = await judge(await sign('github', 'acme/shop', statementOf('acme/tools')))
    expect(v.failed).toMatchObject({
      check: 'repository',
      detail:
        'the provenance says built from https://github.com/acme/tools, but the certificate was issued to a run of https://github.com/acme/shop'
    })
  })

  it('a statement naming another commit than the certificate fails the commit check', async () => {
    const v = await judge(
      await sign('github', 'acme/shop', statementOf('acme/shop'), 'd'.repeat(40))
    )
    expect(v.failed).toMatchObject({
      check: 'commit',
      detail: `the provenance names commit ${SHA}, but the certificate was issued to a run of commit ${'d'.repeat(40)}`
    })
  })
})
