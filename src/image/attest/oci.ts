/**
 * The OCI 1.1 structures of attestations stored next to an image (image-spec 1.1
 * "artifacts" guidance, distribution-spec 1.1 "referrers"): one image manifest per
 * attestation with `artifactType`, the empty config descriptor, one layer holding the
 * DSSE envelope or the bare statement, and `subject` = the image; the referrers list as
 * an image index; and the fallback tag `sha256-<hex>` for registries without the
 * referrers API. Pure.
 */
import { MediaTypes, sha256Digest } from '../registry.js'
import { DSSE_MEDIA_TYPE, signEnvelope } from './dsse.js'
import type { SigningKey } from './keys.js'
import { IN_TOTO_MEDIA_TYPE, type Statement } from './statement.js'

/** An OCI descriptor. */
export interface Descriptor {
  mediaType: string
  digest: string
  size: number
  artifactType?: string
  annotations?: Record<string, string>
  data?: string
  [other: string]: unknown
}

/** The media type of a Sigstore bundle v0.3 (a layer and an artifact type). */
export const SIGSTORE_BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json'

/** The annotation that names an attestation's predicate type (as BuildKit and cosign set it). */
export const PREDICATE_TYPE_ANNOTATION = 'in-toto.io/predicate-type'

/** The OCI empty descriptor: `{}` as a config blob, its bytes inline. */
export const EMPTY_CONFIG: Descriptor = {
  mediaType: 'application/vnd.oci.empty.v1+json',
  digest: sha256Digest('{}'),
  size: 2,
  data: Buffer.from('{}').toString('base64')
}

/** One attestation to store: its bytes and what they are. */
export interface AttestationBlob {
  /** `application/vnd.dsse.envelope.v1+json` (signed) or `application/vnd.in-toto+json`. */
  mediaType: string
  predicateType: string
  bytes: Buffer
}

/**
 * The blob of a statement: a DSSE envelope signed with `key`, or the bare statement
 * when there is no key.
 */
export function statementBlob(statement: Statement, key?: SigningKey): AttestationBlob {
  const json = Buffer.from(JSON.stringify(statement))
  if (!key)
    return { mediaType: IN_TOTO_MEDIA_TYPE, predicateType: statement.predicateType, bytes: json }
  const envelope = signEnvelope(IN_TOTO_MEDIA_TYPE, json, key)
  return {
    mediaType: DSSE_MEDIA_TYPE,
    predicateType: statement.predicateType,
    bytes: Buffer.from(JSON.stringify(envelope))
  }
}

/** An attestation manifest ready to push, and the descriptor the referrers list gets. */
export interface AttestationManifest {
  body: Buffer
  digest: string
  layer: Descriptor
  descriptor: Descriptor
}

/** The manifest of one attestation about `subject`. */
export function attestationManifest(
  subject: Descriptor,
  attestation: AttestationBlob
): AttestationManifest {
  const annotations = { [PREDICATE_TYPE_ANNOTATION]: attestation.predicateType }
  const layer: Descriptor = {
    mediaType: attestation.mediaType,
    digest: sha256Digest(attestation.bytes),
    size: attestation.bytes.length,
    annotations
  }
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    artifactType: attestation.mediaType,
    config: EMPTY_CONFIG,
    layers: [layer],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    annotations
  }
  const body = Buffer.from(JSON.stringify(manifest))
  const digest = sha256Digest(body)
  return {
    body,
    digest,
    layer,
    descriptor: {
      mediaType: MediaTypes.ociManifest,
      digest,
      size: body.length,
      artifactType: attestation.mediaType,
      annotations
    }
  }
}

/**
 * The referrers tag of a digest: the algorithm cut to 32 characters, `-`, the encoded
 * part cut to 64, characters a tag may not hold replaced by `-`.
 */
export function referrersTag(digest: string): string {
  const colon = digest.indexOf(':')
  const alg = digest.slice(0, colon).slice(0, 32)
  const enc = digest.slice(colon + 1).slice(0, 64)
  return `${alg}-${enc}`.replace(/[^a-zA-Z0-9_.-]/g, '-')
}

/** An image index as the referrers API and the fallback tag hold it. */
export interface ReferrersIndex {
  schemaVersion: 2
  mediaType: string
  manifests: Descriptor[]
  [other: string]: unknown
}

/** An empty referrers list. */
export function emptyIndex(): ReferrersIndex {
  return { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [] }
}

/** Parse a referrers index from bytes; throws when it is not an image index. */
export function parseIndex(body: Buffer | string, where: string): ReferrersIndex {
  let value: Partial<ReferrersIndex>
  try {
    value = JSON.parse(Buffer.isBuffer(body) ? body.toString('utf8') : body) as ReferrersIndex
  } catch {
    throw new Error(`${where} is not JSON`)
  }
  if (!value || !Array.isArray(value.manifests) || value.mediaType !== MediaTypes.ociIndex) {
    throw new Error(
      `${where} is not an OCI image index (mediaType ${JSON.stringify(value?.mediaType)})`
    )
  }
  return value as ReferrersIndex
}

/**
 * `index` with each descriptor of `add` appended unless an entry with its digest is
 * there already. Everything else (entries written by other tools, fields we do not know)
 * is kept as it was. `added` is how many were new.
 */
export function mergeReferrers(
  index: ReferrersIndex,
  add: Descriptor[]
): { index: ReferrersIndex; added: number } {
  const have = new Set(index.manifests.map(d => d.digest))
  const fresh = add.filter(d => !have.has(d.digest) && have.add(d.digest))
  return { index: { ...index, manifests: [...index.manifests, ...fresh] }, added: fresh.length }
}

/** Referrers of an artifact type and, optionally, a predicate type (by annotation). */
export function selectReferrers(
  list: Descriptor[],
  filter: { artifactType?: string; predicateType?: string }
): Descriptor[] {
  return list.filter(
    d =>
      (filter.artifactType === undefined || d.artifactType === filter.artifactType) &&
      (filter.predicateType === undefined ||
        d.annotations?.[PREDICATE_TYPE_ANNOTATION] === filter.predicateType)
  )
}
