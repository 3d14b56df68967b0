/**
 * Offline Sigstore instances for the keyless tests: @sigstore/mock's Fulcio (with its
 * certificate transparency log), timestamp authority and Rekor, answering at the
 * instance's real https hosts through nock in this process (the hosts @actions/attest
 * has fixed: fulcio.githubapp.com + timestamp.githubapp.com for GitHub's instance,
 * fulcio.sigstore.dev + rekor.sigstore.dev for the public-good one), and the trusted
 * root made of their keys, as a `trusted_root.json` holds it. The runner's OIDC token
 * endpoint is a loopback server whose token carries the claims a test sets: the mock
 * Fulcio writes them into the certificate as the real one does (issuer, repository,
 * commit, workflow; see @sigstore/mock's fulcio handler), except the subject alternative
 * name, which it takes from `sub` (Fulcio derives it from `job_workflow_ref`), so tests
 * set `sub` to the workflow URI. nock refuses every host but 127.0.0.1 while fakes are
 * installed: no request leaves the machine.
 */
import { createHash, generateKeyPairSync } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { bundleFromJSON } from '@sigstore/bundle'
import * as mock from '@sigstore/mock'
import { HashAlgorithm, PublicKeyDetails, TrustedRoot } from '@sigstore/protobuf-specs'
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify'
import nock from 'nock'

/** Which instance a fake plays. */
export type FakeKind = 'github' | 'public-good'

/** One fake instance: install it to make signKeyless (of that kind) use it. */
export interface FakeInstance {
  kind: FakeKind
  /** The trusted root of this instance (protobuf object). */
  trustedRoot: TrustedRoot
  /** The same as `trusted_root.json` holds it (JSON, base64 bytes). */
  trustedRootJson: Record<string, unknown>
  /** Replace every interceptor with this instance's hosts. */
  install(): void
  /** Its proof of time: the TSA (GitHub's) or Rekor (public-good), shareable with another fake. */
  time: { handler: [string, Handler]; root: Record<string, unknown> }
}

type Reply = { statusCode: number; response: string | ArrayBufferView; contentType?: string }
type Handler = { path: string; fn: (body: string) => Promise<Reply> }

/** A mock handler as a nock reply function. */
function adapt(h: Handler) {
  return async (
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
}

/**
 * Rekor v1's handling of a proposed `dsse` entry: the log stores not what was proposed
 * but its canonical form (rekor pkg/types/dsse/v0.0.1: the payload and envelope hashes
 * and each signature with its verifier, the proposed content dropped), and that is what
 * a verifier compares the bundle with. @sigstore/mock logs the proposal as it came, so
 * this puts Rekor's step in front of it.
 */
function canonicalizingRekor(h: Handler): Handler {
  return {
    path: h.path,
    fn: body => {
      const entry = JSON.parse(body) as {
        kind: string
        spec: { proposedContent?: { envelope: string; verifiers: string[] } }
      }
      const proposed = entry.spec.proposedContent
      if (entry.kind !== 'dsse' || !proposed) return h.fn(body)
      const envelope = JSON.parse(proposed.envelope) as {
        payload: string
        signatures: { sig: string }[]
      }
      const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex')
      return h.fn(
        JSON.stringify({
          apiVersion: '0.0.1',
          kind: 'dsse',
          spec: {
            envelopeHash: { algorithm: 'sha256', value: sha256(proposed.envelope) },
            payloadHash: {
              algorithm: 'sha256',
              value: sha256(Buffer.from(envelope.payload, 'base64'))
            },
            signatures: envelope.signatures.map((sig, i) => ({
              signature: sig.sig,
              verifier: proposed.verifiers[i] ?? proposed.verifiers[0]
            }))
          }
        })
      )
    }
  }
}

const ecKeys = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' })

/** A fake's proof of time: GitHub's TSA, or the public-good Rekor. */
async function makeTime(kind: FakeKind, clock: Date, start: Date): Promise<FakeInstance['time']> {
  if (kind === 'github') {
    const tsa = await mock.initializeTSA(ecKeys(), clock)
    return {
      handler: ['https://timestamp.githubapp.com', mock.tsaHandler(tsa, { strict: true })],
      root: {
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
      }
    }
  } else {
    const tlogKeys = ecKeys()
    const tlog = await mock.initializeTLog('https://rekor.sigstore.dev', tlogKeys, clock)
    return {
      handler: ['https://rekor.sigstore.dev', canonicalizingRekor(mock.rekorHandler(tlog))],
      root: {
        tlogs: [
          {
            baseUrl: 'https://rekor.sigstore.dev',
            logId: { keyId: createHash('sha256').update(tlog.publicKey).digest() },
            hashAlgorithm: HashAlgorithm.SHA2_256,
            publicKey: {
              rawBytes: tlog.publicKey,
              keyDetails: PublicKeyDetails.PKIX_ECDSA_P256_SHA_256,
              validFor: { start }
            }
          }
        ]
      }
    }
  }
}

/**
 * A fresh fake instance (new keys, so its root trusts nothing another fake signed).
 * GitHub's: Fulcio + CT log + TSA, no transparency log. Public-good: Fulcio + CT log +
 * Rekor (v1 entries with an inclusion promise and proof). `timeOf` shares another
 * fake's TSA or Rekor: a stranger CA whose bundles carry a proof of time that the
 * other fake's root trusts.
 */
export async function makeFakeInstance(
  kind: FakeKind,
  options: { timeOf?: FakeInstance } = {}
): Promise<FakeInstance> {
  // Whole seconds: the mock TSA's time encoding fails on some fractions.
  const clock = new Date(Math.floor(Date.now() / 1000) * 1000)
  const start = new Date(clock.getTime() - 60_000)
  const caKeys = ecKeys()
  const ctlog = await mock.initializeCTLog(caKeys, clock)
  const ca = await mock.initializeCA(caKeys, ctlog, clock)
  const fulcioHost =
    kind === 'github' ? 'https://fulcio.githubapp.com' : 'https://fulcio.sigstore.dev'
  const handlers: [string, Handler][] = [[fulcioHost, mock.fulcioHandler(ca, { strict: true })]]
  const root: Record<string, unknown> = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    certificateAuthorities: [
      {
        subject: { commonName: 'sigstore', organization: 'sigstore.mock' },
        uri: fulcioHost,
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
        }
      }
    ],
    timestampAuthorities: []
  }
  const time = options.timeOf?.time ?? (await makeTime(kind, clock, start))
  handlers.push(time.handler)
  Object.assign(root, time.root)
  const trustedRoot = root as unknown as TrustedRoot
  return {
    kind,
    trustedRoot,
    trustedRootJson: TrustedRoot.toJSON(trustedRoot) as Record<string, unknown>,
    time,
    install() {
      nock.cleanAll()
      nock.disableNetConnect()
      nock.enableNetConnect('127.0.0.1')
      for (const [host, h] of handlers) nock(host).persist().post(h.path).reply(adapt(h))
    }
  }
}

/** Verify a bundle (JSON) against a fake's root the way the deploy does for that instance. */
export function verifyWithFake(fake: FakeInstance, bundle: object): void {
  const material = toTrustMaterial(fake.trustedRoot)
  new Verifier(material, {
    tlogThreshold: material.tlogs.length > 0 ? 1 : 0,
    ctlogThreshold: 1,
    timestampThreshold: 1
  }).verify(toSignedEntity(bundleFromJSON(bundle)))
}

/**
 * A fake instance whose signatures verify: @sigstore/mock sets up, about once in ten, a
 * TSA whose timestamps @sigstore/verify rejects ("timestamp could not be verified") for
 * the whole life of that fake; `probe` signs once with it installed, and the fake is
 * made again when that signature does not verify. A real TSA's chain is fixed.
 */
export async function reliableFake(
  kind: FakeKind,
  probe: () => Promise<object>
): Promise<FakeInstance> {
  for (let attempt = 1; ; attempt++) {
    const fake = await makeFakeInstance(kind)
    fake.install()
    try {
      verifyWithFake(fake, await probe())
      return fake
    } catch (error) {
      if (attempt >= 5 || !/timestamp could not be verified/.test(String(error))) throw error
    }
  }
}

/** The runner's OIDC token endpoint, serving an unsigned JWT with the claims set last. */
export interface FakeOidc {
  url: string
  requestToken: string
  claims: Record<string, unknown>
  stop(): Promise<void>
}

/** Claims of a GitHub Actions token of `repository`'s workflow `file` on `ref` at `sha`. */
export function githubClaims(
  repository: string,
  options: { workflow?: string; ref?: string; sha?: string; signer?: string } = {}
): Record<string, unknown> {
  const ref = options.ref ?? 'refs/heads/main'
  const workflowRef = `${repository}/.github/workflows/${options.workflow ?? 'ci.yml'}@${ref}`
  const signer = options.signer ?? workflowRef
  return {
    iss: 'https://token.actions.githubusercontent.com',
    // The mock takes the subject alternative name from here (Fulcio: from job_workflow_ref).
    sub: `https://github.com/${signer}`,
    aud: 'sigstore',
    repository,
    repository_owner: repository.split('/')[0],
    ref,
    sha: options.sha ?? 'b'.repeat(40),
    workflow_ref: workflowRef,
    job_workflow_ref: signer,
    event_name: 'push',
    runner_environment: 'github-hosted',
    exp: Math.floor(Date.now() / 1000) + 3600
  }
}

/** Start the OIDC endpoint; point ACTIONS_ID_TOKEN_REQUEST_URL/TOKEN at it. */
export async function startFakeOidc(claims: Record<string, unknown>): Promise<FakeOidc> {
  const requestToken = 'oidc-request-token'
  const state = { claims }
  const b64u = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url')
  const server: Server = createServer((req, res) => {
    const ok =
      req.headers.authorization === `Bearer ${requestToken}` &&
      Boolean(req.url?.includes('audience=sigstore'))
    const jwt = `${b64u({ alg: 'none', typ: 'JWT' })}.${b64u(state.claims)}.c2ln`
    res
      .writeHead(ok ? 200 : 401, { 'content-type': 'application/json' })
      .end(ok ? JSON.stringify({ value: jwt }) : '{}')
  })
  await new Promise<void>(r => server.listen(0, '127.0.0.1', r))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/token?api-version=2.0`,
    requestToken,
    get claims() {
      return state.claims
    },
    set claims(c: Record<string, unknown>) {
      state.claims = c
    },
    stop: () => new Promise<void>(r => server.close(() => r()))
  }
}

/** Remove every interceptor and allow connections again. */
export function uninstallFakes(): void {
  nock.cleanAll()
  nock.enableNetConnect()
}
