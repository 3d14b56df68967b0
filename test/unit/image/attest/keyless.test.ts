/**
 * Keyless signing through @actions/attest, offline: GitHub's Sigstore instance
 * (fulcio. and timestamp.githubapp.com) is played by @sigstore/mock's Fulcio and TSA
 * intercepted in-process with nock (test/support/sigstore-fakes.ts; the library's
 * endpoints are fixed https hosts, so this cannot reach a spawned bundle), the runner's
 * OIDC token endpoint by a loopback server, GitHub's attestations API by the
 * OpenAPI-checked simulator. The bundle is then verified with @sigstore/verify against a
 * trusted root made of the fakes' keys: the certificate identity must be the workflow's,
 * and another identity is refused. No request leaves the machine (nock refuses every
 * host but 127.0.0.1).
 */
import { createHash } from 'node:crypto'
import { bundleFromJSON } from '@sigstore/bundle'
import type { TrustedRoot } from '@sigstore/protobuf-specs'
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  keylessAvailable,
  SIGSTORE_BUNDLE_MEDIA_TYPE,
  signKeyless
} from '../../../../src/image/attest/keyless.js'
import { provenanceStatement } from '../../../../src/image/attest/provenance.js'
import { startGitHubSim, type GitHubSim } from '../../../support/github-sim.js'
import {
  githubClaims,
  reliableFake,
  startFakeOidc,
  uninstallFakes,
  type FakeOidc
} from '../../../support/sigstore-fakes.js'

const IDENTITY = 'https://github.com/acme/shop/.github/workflows/ci.yml@refs/heads/main'
const TOKEN = 'ghs_keylessTestToken0123456789'
const DIGEST = `sha256:${'a'.repeat(64)}`
const statement = provenanceStatement(
  {
    serverUrl: 'https://github.com',
    repository: 'acme/shop',
    ref: 'refs/heads/main',
    sha: 'b'.repeat(40),
    workflowRef: 'acme/shop/.github/workflows/ci.yml@refs/heads/main',
    runId: '7',
    runAttempt: '1',
    eventName: 'push'
  },
  { image: 'ghcr.io/acme/cart', digest: DIGEST }
)

const saved = { ...process.env }
let oidc: FakeOidc
let sim: GitHubSim
let trustedRoot: TrustedRoot
/** A verifier trusting the fakes: Fulcio's CA and CT log, and the TSA (no Rekor). */
const verifier = (): Verifier =>
  new Verifier(toTrustMaterial(trustedRoot), {
    tlogThreshold: 0,
    ctlogThreshold: 1,
    timestampThreshold: 1
  })

beforeAll(async () => {
  // The runner's OIDC endpoint: a token whose `sub` Fulcio (the mock) puts in the certificate.
  oidc = await startFakeOidc(githubClaims('acme/shop'))
  sim = await startGitHubSim({ owner: 'acme', repo: 'shop', token: TOKEN })
  Object.assign(process.env, {
    ACTIONS_ID_TOKEN_REQUEST_URL: oidc.url,
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: oidc.requestToken,
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_API_URL: sim.url,
    GITHUB_REPOSITORY: 'acme/shop'
  })
  const fake = await reliableFake('github', async () =>
    JSON.parse(
      (
        await signKeyless(statement, { token: TOKEN, sigstore: 'github', store: false })
      ).blob.bytes.toString()
    )
  )
  trustedRoot = fake.trustedRoot
})

afterAll(async () => {
  uninstallFakes()
  process.env = saved
  await oidc?.stop()
  await sim?.stop()
})

describe("keyless signing (GitHub's Sigstore instance, faked offline)", () => {
  it('needs the OIDC variables', () => {
    expect(keylessAvailable({})).toBe(false)
    expect(keylessAvailable(process.env)).toBe(true)
  })

  it('signs, stores the bundle in the attestations API, and the bundle verifies for the workflow identity only', async () => {
    const att = await signKeyless(statement, { token: TOKEN, sigstore: 'github' })
    expect(att.blob.mediaType).toBe(SIGSTORE_BUNDLE_MEDIA_TYPE)
    expect(att.attestationId).toBe('1')
    expect(att.certificate).toMatch(/^-----BEGIN CERTIFICATE-----/)
    expect(sim.violations).toEqual([])
    expect(sim.attestations).toHaveLength(1)
    expect(
      sim.requests.find(r => r.path === '/repos/acme/shop/attestations')?.headers.authorization
    ).toMatch(/ghs_keylessTestToken/)

    const json = JSON.parse(att.blob.bytes.toString()) as {
      dsseEnvelope: { payload: string; payloadType: string }
    }
    expect(sim.attestations[0]).toEqual(json)
    expect(json.dsseEnvelope.payloadType).toBe('application/vnd.in-toto+json')
    expect(JSON.parse(Buffer.from(json.dsseEnvelope.payload, 'base64').toString())).toEqual(
      statement
    )

    const entity = toSignedEntity(bundleFromJSON(json))
    const signer = verifier().verify(entity, { subjectAlternativeName: IDENTITY })
    expect(signer.identity?.subjectAlternativeName).toBe(IDENTITY)
    expect(() =>
      verifier().verify(entity, {
        subjectAlternativeName:
          'https://github.com/evil/fork/.github/workflows/ci.yml@refs/heads/main'
      })
    ).toThrow(/certificate identity error/)
    // a payload changed after signing does not verify
    const tampered = structuredClone(json)
    tampered.dsseEnvelope.payload = Buffer.from(
      JSON.stringify({ ...statement, subject: [{ name: 'x', digest: { sha256: 'c'.repeat(64) } }] })
    ).toString('base64')
    expect(() =>
      verifier().verify(toSignedEntity(bundleFromJSON(tampered)), {
        subjectAlternativeName: IDENTITY
      })
    ).toThrow()
    // and the certificate's key is not trusted by a root that does not hold the fake CA
    const other = new Verifier(
      toTrustMaterial({ ...trustedRoot, certificateAuthorities: [] } as TrustedRoot),
      { tlogThreshold: 0, ctlogThreshold: 1, timestampThreshold: 1 }
    )
    expect(() => other.verify(entity, { subjectAlternativeName: IDENTITY })).toThrow()
    expect(createHash('sha256').update(att.blob.bytes).digest('hex')).toMatch(/^[0-9a-f]{64}$/)
  })

  it('store: false writes nothing to GitHub', async () => {
    const before = sim.attestations.length
    const att = await signKeyless(statement, { token: TOKEN, sigstore: 'github', store: false })
    expect(att.attestationId).toBeUndefined()
    expect(sim.attestations).toHaveLength(before)
  })

  it('without the OIDC variables: a clear error naming the permission', async () => {
    const url = process.env.ACTIONS_ID_TOKEN_REQUEST_URL
    delete process.env.ACTIONS_ID_TOKEN_REQUEST_URL
    try {
      await expect(signKeyless(statement, { token: TOKEN })).rejects.toThrow(
        /permissions: id-token: write/
      )
    } finally {
      process.env.ACTIONS_ID_TOKEN_REQUEST_URL = url
    }
  })
})
