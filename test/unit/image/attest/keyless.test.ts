/**
 * Keyless signing through @actions/attest, offline: GitHub's Sigstore instance
 * (fulcio. and timestamp.githubapp.com) is played by @sigstore/mock's Fulcio and TSA
 * intercepted in-process with nock (the library's endpoints are fixed https hosts, so
 * this cannot reach a spawned bundle), the runner's OIDC token endpoint by a loopback
 * server, GitHub's attestations API by the OpenAPI-checked simulator. The bundle is
 * then verified with @sigstore/verify against a trusted root made of the fakes' keys:
 * the certificate identity must be the workflow's, and another identity is refused.
 * No request leaves the machine (nock refuses every host but 127.0.0.1).
 */
import { generateKeyPairSync, createHash } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { bundleFromJSON } from '@sigstore/bundle'
import * as mock from '@sigstore/mock'
import { HashAlgorithm, PublicKeyDetails, type TrustedRoot } from '@sigstore/protobuf-specs'
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify'
import nock from 'nock'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  keylessAvailable,
  SIGSTORE_BUNDLE_MEDIA_TYPE,
  signKeyless
} from '../../../../src/image/attest/keyless.js'
import { provenanceStatement } from '../../../../src/image/attest/provenance.js'
import { startGitHubSim, type GitHubSim } from '../../../support/github-sim.js'

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
let oidc: Server
let sim: GitHubSim
let trustedRoot: TrustedRoot
/** A verifier trusting the fakes: Fulcio's CA and CT log, and the TSA (no Rekor). */
const verifier = (): Verifier =>
  new Verifier(toTrustMaterial(trustedRoot), {
    tlogThreshold: 0,
    ctlogThreshold: 1,
    timestampThreshold: 1
  })

/** Fresh fakes of Fulcio (with its CT log) and the TSA, and the trusted root made of them. */
async function startFakes(): Promise<void> {
  nock.cleanAll()
  // Whole seconds: the mock TSA's time encoding fails on some fractions.
  const clock = new Date(Math.floor(Date.now() / 1000) * 1000)
  const keys = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  const caKeys = keys()
  const ctlog = await mock.initializeCTLog(caKeys, clock)
  const ca = await mock.initializeCA(caKeys, ctlog, clock)
  const tsa = await mock.initializeTSA(keys(), clock)
  const fulcio = mock.fulcioHandler(ca, { strict: true })
  const timestamp = mock.tsaHandler(tsa, { strict: true })
  type Reply = { statusCode: number; response: string | ArrayBufferView; contentType?: string }
  const adapt =
    (h: { fn: (body: string) => Promise<Reply> }) =>
    async (
      _uri: string,
      body: unknown
    ): Promise<[number, string | Buffer, Record<string, string>]> => {
      const r = await h.fn(typeof body === 'string' ? body : JSON.stringify(body))
      const payload =
        typeof r.response === 'string'
          ? r.response
          : Buffer.from(r.response.buffer, r.response.byteOffset, r.response.byteLength)
      return [r.statusCode, payload, { 'content-type': r.contentType ?? 'text/plain' }]
    }
  nock.disableNetConnect()
  nock.enableNetConnect('127.0.0.1')
  nock('https://fulcio.githubapp.com').persist().post(fulcio.path).reply(adapt(fulcio))
  nock('https://timestamp.githubapp.com').persist().post(timestamp.path).reply(adapt(timestamp))
  const start = new Date(clock.getTime() - 60_000)
  trustedRoot = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    certificateAuthorities: [
      {
        subject: { commonName: 'sigstore', organization: 'sigstore.mock' },
        uri: 'https://fulcio.githubapp.com',
        certChain: { certificates: [{ rawBytes: Buffer.from(ca.rootCertificate.buffer) }] },
        validFor: { start }
      }
    ],
    tlogs: [],
    ctlogs: [
      {
        baseUrl: 'https://ctfe.sigstore.dev',
        logId: { keyId: Buffer.from(ctlog.logID.buffer) },
        hashAlgorithm: HashAlgorithm.SHA2_256,
        publicKey: {
          rawBytes: ctlog.publicKey,
          keyDetails: PublicKeyDetails.PKIX_ECDSA_P256_SHA_256,
          validFor: { start }
        },
        checkpointKeyId: undefined
      }
    ],
    timestampAuthorities: [
      {
        subject: { commonName: 'tsa', organization: 'sigstore.mock' },
        uri: 'https://timestamp.githubapp.com',
        certChain: {
          certificates: [
            { rawBytes: Buffer.from(tsa.intCertificate.buffer) },
            { rawBytes: Buffer.from(tsa.rootCertificate.buffer) }
          ]
        },
        validFor: { start }
      }
    ]
  } as unknown as TrustedRoot
}

beforeAll(async () => {
  // The runner's OIDC endpoint: a token whose `sub` Fulcio (the mock) puts in the certificate.
  const b64u = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url')
  const jwt = `${b64u({ alg: 'none', typ: 'JWT' })}.${b64u({ iss: 'https://token.actions.githubusercontent.com', sub: IDENTITY, aud: 'sigstore', exp: Math.floor(Date.now() / 1000) + 600 })}.c2ln`
  oidc = createServer((req, res) => {
    const ok =
      req.headers.authorization === 'Bearer oidc-request-token' &&
      req.url?.includes('audience=sigstore')
    res
      .writeHead(ok ? 200 : 401, { 'content-type': 'application/json' })
      .end(ok ? JSON.stringify({ value: jwt }) : '{}')
  })
  await new Promise<void>(r => oidc.listen(0, '127.0.0.1', r))
  sim = await startGitHubSim({ owner: 'acme', repo: 'shop', token: TOKEN })
  Object.assign(process.env, {
    ACTIONS_ID_TOKEN_REQUEST_URL: `http://127.0.0.1:${(oidc.address() as AddressInfo).port}/token?api-version=2.0`,
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'oidc-request-token',
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_API_URL: sim.url,
    GITHUB_REPOSITORY: 'acme/shop'
  })
  // @sigstore/mock sets up, about once in ten, a TSA whose timestamps @sigstore/verify
  // rejects ("timestamp could not be verified"), for the whole life of that fake; a
  // probe signature tells, and the fakes are made again. A real TSA's chain is fixed.
  for (let attempt = 1; ; attempt++) {
    await startFakes()
    const probe = await signKeyless(statement, { token: TOKEN, sigstore: 'github', store: false })
    try {
      verifier().verify(
        toSignedEntity(bundleFromJSON(JSON.parse(probe.blob.bytes.toString()) as object)),
        { subjectAlternativeName: IDENTITY }
      )
      break
    } catch (error) {
      if (attempt >= 5 || !/timestamp could not be verified/.test(String(error))) throw error
    }
  }
})

afterAll(async () => {
  nock.cleanAll()
  nock.enableNetConnect()
  process.env = saved
  await new Promise(r => oidc?.close(r))
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
