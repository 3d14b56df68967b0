/**
 * deploy's keyless verification when the trusted root must be fetched and cannot be:
 * an image in the real TLS + htpasswd registry carries a Sigstore bundle whose
 * certificate GitHub's instance issued (organization `GitHub, Inc.`), no
 * `sigstore-trusted-root` is given, and GitHub's TUF repository cannot be reached (a
 * host nock refuses: no request leaves the machine). The deploy stops with one error
 * that names the instance, the repository and the input to set, and the TUF cache
 * directory it made under RUNNER_TEMP is gone.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import nock from 'nock'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { verifyImages, type VerifyInputs } from '../../../../src/actions/deploy/verify.js'
import { memoryLogger } from '../../../../src/core/logger.js'
import { SIGSTORE_BUNDLE_MEDIA_TYPE } from '../../../../src/image/attest/oci.js'
import { SLSA_PROVENANCE_V1 } from '../../../../src/image/attest/provenance.js'
import { pushAttestations } from '../../../../src/image/attest/referrers.js'
import { TUF_MIRRORS } from '../../../../src/image/attest/sigstore-tuf.js'
import type { RegistryClient } from '../../../../src/image/registry.js'
import { pushTinyImage, testClient } from '../../../support/attest.js'
import { startRegistry, type TestRegistry } from '../../../support/registry.js'

const tmp = mkdtempSync(join(tmpdir(), 'conveyor-verify-keyless-'))
const saved = { ...process.env }
let registry: TestRegistry
let client: RegistryClient
let digest: string

/** A bundle as @actions/attest writes it, its certificate issued by GitHub's Fulcio (by name). */
function githubBundle(): Buffer {
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
      join(tmp, 'key.pem'),
      '-out',
      join(tmp, 'cert.pem'),
      '-days',
      '1',
      '-subj',
      '/O=GitHub, Inc./CN=Fulcio Intermediate l2',
      '-outform',
      'DER'
    ],
    { stdio: 'ignore' }
  )
  const der = readFileSync(join(tmp, 'cert.pem'))
  return Buffer.from(
    JSON.stringify({
      mediaType: SIGSTORE_BUNDLE_MEDIA_TYPE,
      verificationMaterial: {
        certificate: { rawBytes: der.toString('base64') },
        tlogEntries: [],
        timestampVerificationData: { rfc3161Timestamps: [] }
      },
      dsseEnvelope: {
        payload: Buffer.from('{}').toString('base64'),
        payloadType: 'application/vnd.in-toto+json',
        signatures: [{ sig: Buffer.from('sig').toString('base64'), keyid: '' }]
      }
    })
  )
}

beforeAll(async () => {
  registry = await startRegistry({ users: { bot: 'secret-pass' } })
  client = testClient(registry)
  const subject = await pushTinyImage(client, 'acme/cart', 'v1')
  digest = subject.digest
  await pushAttestations(client, 'acme/cart', subject, [
    {
      mediaType: SIGSTORE_BUNDLE_MEDIA_TYPE,
      predicateType: SLSA_PROVENANCE_V1,
      bytes: githubBundle()
    }
  ])
  process.env.RUNNER_TEMP = mkdtempSync(join(tmp, 'runner-temp-'))
  nock.disableNetConnect()
  nock.enableNetConnect('127.0.0.1')
}, 60_000)

afterAll(async () => {
  nock.cleanAll()
  nock.enableNetConnect()
  process.env = saved
  await client?.close()
  await registry?.stop()
  rmSync(tmp, { recursive: true, force: true })
})

describe('keyless verification without a trusted root, offline', () => {
  it('stops with one error naming the instance, its TUF repository and sigstore-trusted-root', async () => {
    const inputs: VerifyInputs = {
      mode: 'provenance',
      allowedSources: ['acme/shop'],
      serverUrl: 'https://github.com',
      username: 'bot',
      password: 'secret-pass',
      ca: registry.caPem
    }
    const log = memoryLogger()
    const error = await verifyImages(
      [{ label: 'cart', ref: `${registry.host}/acme/cart@${digest}` }],
      inputs,
      log,
      {
        tufMirrors: {
          ...TUF_MIRRORS,
          github: { ...TUF_MIRRORS.github, url: 'https://tuf-repo.unreachable.test' }
        }
      }
    ).catch((e: unknown) => e)
    expect(String(error)).toMatch(
      /^Error: verify: provenance could not obtain the trusted root of GitHub's Sigstore instance from https:\/\/tuf-repo\.unreachable\.test \(TUF\): .*Disallowed net connect.*; nothing was written\. Set input "sigstore-trusted-root" to a Sigstore trusted_root\.json/
    )
    expect(log.text()).toMatch(/fetched with TUF/)
    expect(readdirSync(process.env.RUNNER_TEMP!)).toEqual([])
  }, 60_000)
})
