/**
 * Helpers of the supply-chain end-to-end tests: ECDSA P-256 key pairs made by openssl,
 * the referrers of an image read straight from the registry (the fallback tag index,
 * the manifests, the layers), and a DSSE signature judged by `openssl dgst -verify`
 * over a PAE the test builds itself from the DSSE spec (not with Conveyor's code), and
 * a small image pushed without a builder where only its digest matters.
 * No test framework imports.
 */
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pushBlob } from '../../src/image/attest/referrers.js'
import { MediaTypes, RegistryClient } from '../../src/image/registry.js'
import type { TestRegistry } from './registry.js'

/** A key pair written by openssl; `password` encrypts the private key (PKCS#8, AES-256). */
export interface KeyPair {
  privatePem: string
  publicPem: string
  publicFile: string
}

/** `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 [-aes256]`. */
export function opensslKeyPair(dir: string, password?: string): KeyPair {
  const d = mkdtempSync(join(dir, 'key-'))
  const key = join(d, 'key.pem')
  const pass = password ? ['-aes256', '-pass', 'env:KEYPASS'] : []
  const env = { ...process.env, KEYPASS: password ?? '' }
  execFileSync(
    'openssl',
    ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', ...pass, '-out', key],
    { env }
  )
  const publicFile = join(d, 'pub.pem')
  execFileSync(
    'openssl',
    [
      'pkey',
      '-in',
      key,
      '-pubout',
      '-out',
      publicFile,
      ...(password ? ['-passin', 'env:KEYPASS'] : [])
    ],
    { env }
  )
  return {
    privatePem: readFileSync(key, 'utf8'),
    publicPem: readFileSync(publicFile, 'utf8'),
    publicFile
  }
}

/** A client for the test registry (TLS with its CA, or plain HTTP). */
export function testClient(registry: TestRegistry): RegistryClient {
  return new RegistryClient({
    registry: registry.host,
    username: registry.username,
    password: registry.password,
    ca: registry.caPem,
    insecure: !registry.tls
  })
}

/** One referrer read back: its manifest, and its layer's bytes. */
export interface ReadReferrer {
  digest: string
  manifest: {
    artifactType: string
    subject: { digest: string }
    layers: { mediaType: string; digest: string; annotations?: Record<string, string> }[]
    config: { mediaType: string }
    annotations?: Record<string, string>
  }
  layer: Buffer
}

/** The fallback index `sha256-<hex>` of `digest` (distribution 2.8 has no referrers API). */
export async function referrersIndex(
  client: RegistryClient,
  repository: string,
  digest: string
): Promise<{ mediaType: string; manifests: { digest: string; artifactType?: string }[] }> {
  const m = await client.getManifest(repository, digest.replace(':', '-'))
  if (!m) return { mediaType: '', manifests: [] }
  return JSON.parse(m.body.toString('utf8')) as {
    mediaType: string
    manifests: { digest: string }[]
  }
}

/** Read a referrer manifest and its single layer. */
export async function readReferrer(
  client: RegistryClient,
  repository: string,
  digest: string
): Promise<ReadReferrer> {
  const m = await client.getManifest(repository, digest)
  if (!m) throw new Error(`referrer ${digest} is not in ${repository}`)
  const manifest = JSON.parse(m.body.toString('utf8')) as ReadReferrer['manifest']
  const layer = await client.getBlob(repository, manifest.layers[0]!.digest)
  return { digest, manifest, layer }
}

/** The DSSE PAE, written out from the spec. */
function paeOf(type: string, body: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${Buffer.byteLength(type)} ${type} ${body.length} `),
    body
  ])
}

/**
 * Verify every signature of a DSSE envelope with `openssl dgst -sha256 -verify`; returns
 * the decoded statement when one verifies, else throws with openssl's answer.
 */
export function opensslVerifyEnvelope(
  envelopeBytes: Buffer,
  publicFile: string,
  dir: string
): Record<string, unknown> {
  const env = JSON.parse(envelopeBytes.toString('utf8')) as {
    payloadType: string
    payload: string
    signatures: { sig: string }[]
  }
  const body = Buffer.from(env.payload, 'base64')
  const d = mkdtempSync(join(dir, 'verify-'))
  writeFileSync(join(d, 'pae'), paeOf(env.payloadType, body))
  const answers: string[] = []
  for (const s of env.signatures) {
    writeFileSync(join(d, 'sig'), Buffer.from(s.sig, 'base64'))
    try {
      const out = execFileSync(
        'openssl',
        ['dgst', '-sha256', '-verify', publicFile, '-signature', join(d, 'sig'), join(d, 'pae')],
        { encoding: 'utf8', stdio: 'pipe' }
      )
      if (out.trim() === 'Verified OK') {
        return JSON.parse(body.toString('utf8')) as Record<string, unknown>
      }
      answers.push(out.trim())
    } catch (error) {
      answers.push(String((error as { stdout?: string }).stdout ?? error).trim())
    }
  }
  throw new Error(`openssl: no signature verifies (${answers.join('; ')})`)
}

/** sha256 of bytes, `sha256:<hex>`. */
export function sha256(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`
}

/**
 * Push a small single-layer OCI image to `repository:tag` (no builder needed when only
 * its digest matters); its manifest descriptor.
 */
export async function pushTinyImage(
  client: RegistryClient,
  repository: string,
  tag: string
): Promise<{ mediaType: string; digest: string; size: number }> {
  const layer = Buffer.from(`${repository}:${tag} ${Math.random()}`)
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [sha256(layer)] }
    })
  )
  await pushBlob(client, repository, layer, sha256(layer))
  await pushBlob(client, repository, config, sha256(config))
  const body = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: sha256(config),
        size: config.length
      },
      layers: [
        {
          mediaType: 'application/vnd.oci.image.layer.v1.tar',
          digest: sha256(layer),
          size: layer.length
        }
      ]
    })
  )
  const digest = await client.putManifest(repository, tag, body, MediaTypes.ociManifest)
  return { mediaType: MediaTypes.ociManifest, digest, size: body.length }
}
