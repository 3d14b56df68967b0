/**
 * Attestations in the registry, over the project's registry client: push them as OCI
 * 1.1 referrers of an image (blobs, then one manifest each), and find them again. Per
 * the distribution spec 1.1, a registry that handled a manifest's `subject` answers the
 * PUT with `OCI-Subject`; when it does not (distribution 2.8, as Debian ships it), the
 * client keeps the list itself in an image index under the tag `sha256-<hex>`: read,
 * add what is missing, write back with `If-Match` where the registry honours it, read
 * again to check that our entries are there, and retry on a conflict. Discovery asks
 * `GET /v2/<name>/referrers/<digest>` and, on a 404, reads that tag.
 */
import type { Logger } from '../../core/logger.js'
import { backoffDelay, sleep } from '../../core/retry.js'
import { MANIFEST_ACCEPT, MediaTypes, RegistryClient, RegistryError } from '../registry.js'
import {
  attestationManifest,
  EMPTY_CONFIG,
  emptyIndex,
  mergeReferrers,
  parseIndex,
  referrersTag,
  selectReferrers,
  type AttestationBlob,
  type Descriptor,
  type ReferrersIndex
} from './oci.js'

/** Upload a blob unless the repository has it (POST for a session, then PUT with the digest). */
export async function pushBlob(
  client: RegistryClient,
  repository: string,
  bytes: Buffer,
  digest: string,
  options: { skipCheck?: boolean } = {}
): Promise<void> {
  if (!options.skipCheck && (await client.blobExists(repository, digest))) return
  const what = `upload a blob to ${repository}`
  const start = await client.request(
    repository,
    `/v2/${repository}/blobs/uploads/`,
    { method: 'POST' },
    'push',
    what
  )
  if (start.status === 201) return
  if (start.status !== 202 || !start.headers.location)
    client.fail(start, `POST ${repository} blob upload`)
  const location = new URL(start.headers.location, client.baseUrl)
  location.searchParams.set('digest', digest)
  const put = await client.request(
    repository,
    location.href,
    { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: bytes },
    'push',
    what
  )
  if (put.status !== 201) client.fail(put, `PUT ${repository} blob ${digest}`)
}

/** What pushing attestations did. */
export interface PushedAttestations {
  /** The referrer manifests, in the order of the attestations given. */
  manifests: Descriptor[]
  /** `api` when the registry took the `subject` itself, `tag` when we kept the fallback index. */
  via: 'api' | 'tag'
}

/**
 * Push attestations about `subject` (an image manifest or index descriptor) as
 * referrers. Idempotent: a referrer already listed is not listed twice.
 */
export async function pushAttestations(
  client: RegistryClient,
  repository: string,
  subject: Descriptor,
  attestations: AttestationBlob[],
  logger?: Logger
): Promise<PushedAttestations> {
  const built = attestations.map(a => attestationManifest(subject, a))
  // Independent requests go out together (HTTP/2 shares one connection): the config
  // blob, and each layer, new every time (a signature is never the same twice) so
  // uploaded without asking first.
  await Promise.all([
    pushBlob(client, repository, Buffer.from('{}'), EMPTY_CONFIG.digest),
    ...built.map((m, i) =>
      pushBlob(client, repository, attestations[i]!.bytes, m.layer.digest, { skipCheck: true })
    )
  ])
  const answers = await Promise.all(
    built.map(m => client.pushManifest(repository, m.digest, m.body, MediaTypes.ociManifest))
  )
  const handled = answers.every(a => a.headers['oci-subject'] === subject.digest)
  const manifests = built.map(m => m.descriptor)
  if (handled) return { manifests, via: 'api' }
  logger?.debug(
    `${client.host}/${repository}: no OCI-Subject header; keeping the referrers tag ${referrersTag(subject.digest)}`
  )
  await addToReferrersTag(client, repository, subject.digest, manifests, logger)
  return { manifests, via: 'tag' }
}

/** The fallback index under the referrers tag, with its ETag; an empty one when absent. */
async function readReferrersTag(
  client: RegistryClient,
  repository: string,
  tag: string
): Promise<{ index: ReferrersIndex; etag?: string; exists: boolean }> {
  const res = await client.request(
    repository,
    `/v2/${repository}/manifests/${tag}`,
    // Every type: a tag holding an image manifest must be seen as such, not as absent.
    { headers: { accept: MANIFEST_ACCEPT } },
    'pull',
    `read ${repository}:${tag}`
  )
  if (res.status === 404) return { index: emptyIndex(), exists: false }
  if (res.status !== 200) client.fail(res, `GET ${repository}:${tag}`)
  try {
    return {
      index: parseIndex(res.body, `${repository}:${tag}`),
      etag: res.headers.etag,
      exists: true
    }
  } catch (error) {
    // The spec: a tag holding something else is a failure, and nothing is overwritten.
    throw new RegistryError(
      `registry ${client.host}: the referrers tag ${repository}:${tag} holds something else (${(error as Error).message}); not overwriting it`
    )
  }
}

/** How often the fallback index is re-read and re-written before giving up. */
const TAG_ATTEMPTS = 10

/**
 * Add descriptors to the fallback index of `subjectDigest`, keeping every entry that is
 * there. The write carries `If-Match` (or `If-None-Match: *` for a new tag), which a
 * registry that supports conditional requests enforces (412 → read again); the index is
 * then read back, and written again while one of ours is missing (a writer without
 * conditions got in between). On a registry with neither the referrers API nor
 * conditional writes, two writers racing on one subject can still drop each other's
 * entry between those reads: the spec leaves that to the referrers API.
 */
export async function addToReferrersTag(
  client: RegistryClient,
  repository: string,
  subjectDigest: string,
  add: Descriptor[],
  logger?: Logger,
  pause: (ms: number) => Promise<void> = sleep
): Promise<void> {
  const tag = referrersTag(subjectDigest)
  for (let attempt = 1; attempt <= TAG_ATTEMPTS; attempt++) {
    const current = await readReferrersTag(client, repository, tag)
    const { index, added } = mergeReferrers(current.index, add)
    if (added === 0) return
    const body = Buffer.from(JSON.stringify(index))
    const condition: Record<string, string> = current.exists
      ? current.etag
        ? { 'if-match': current.etag }
        : {}
      : { 'if-none-match': '*' }
    const res = await client.pushManifest(repository, tag, body, MediaTypes.ociIndex, condition)
    if (!res.conflict) {
      const check = await readReferrersTag(client, repository, tag)
      const have = new Set(check.index.manifests.map(d => d.digest))
      if (add.every(d => have.has(d.digest))) return
    }
    logger?.debug(
      `${repository}:${tag} changed while we wrote it (attempt ${attempt}); reading it again`
    )
    await pause(backoffDelay(attempt - 1, { baseMs: 50, capMs: 400, jitter: [0.5, 1.5] }))
  }
  throw new RegistryError(
    `registry ${client.host}: could not add to the referrers tag ${repository}:${tag} after ${TAG_ATTEMPTS} attempts (other writers kept changing it)`
  )
}

/** The referrers found, and how. */
export interface ReferrersList {
  referrers: Descriptor[]
  via: 'api' | 'tag'
}

/**
 * The referrers of `subjectDigest`, filtered by artifact type (by the registry when it
 * applies the filter, else here) and by predicate type (by annotation).
 */
export async function listReferrers(
  client: RegistryClient,
  repository: string,
  subjectDigest: string,
  filter: { artifactType?: string; predicateType?: string } = {}
): Promise<ReferrersList> {
  const query = filter.artifactType
    ? `?artifactType=${encodeURIComponent(filter.artifactType)}`
    : ''
  let path: string | undefined = `/v2/${repository}/referrers/${subjectDigest}${query}`
  const found: Descriptor[] = []
  for (let page = 0; path && page < 50; page++) {
    const res = await client.request(
      repository,
      path,
      { headers: { accept: MediaTypes.ociIndex } },
      'pull',
      `list the referrers of ${repository}@${subjectDigest}`
    )
    if (res.status === 404 && page === 0) {
      const { index } = await readReferrersTag(client, repository, referrersTag(subjectDigest))
      return { referrers: selectReferrers(index.manifests, filter), via: 'tag' }
    }
    if (res.status !== 200) client.fail(res, `GET referrers of ${repository}@${subjectDigest}`)
    found.push(...parseIndex(res.body, `the referrers of ${repository}@${subjectDigest}`).manifests)
    const next = /<([^>]+)>\s*;\s*rel="?next"?/.exec(res.headers.link ?? '')?.[1]
    path = next ? new URL(next, client.baseUrl).href : undefined
  }
  return { referrers: selectReferrers(found, filter), via: 'api' }
}

/** One attestation read back: its manifest and the bytes of its layer. */
export interface FetchedAttestation {
  descriptor: Descriptor
  layer: Descriptor
  bytes: Buffer
}

/** Read a referrer manifest and its (single) layer; digests are checked by the client. */
export async function fetchAttestation(
  client: RegistryClient,
  repository: string,
  descriptor: Descriptor
): Promise<FetchedAttestation> {
  const manifest = await client.getManifest(repository, descriptor.digest)
  if (!manifest) {
    throw new RegistryError(
      `registry ${client.host}: referrer ${repository}@${descriptor.digest} is listed but missing`
    )
  }
  const parsed = JSON.parse(manifest.body.toString('utf8')) as { layers?: Descriptor[] }
  const layer = parsed.layers?.[0]
  if (!layer || parsed.layers!.length !== 1) {
    throw new RegistryError(
      `registry ${client.host}: referrer ${repository}@${descriptor.digest} does not have exactly one layer`
    )
  }
  if (layer.size > 16 * 1024 * 1024) {
    throw new RegistryError(
      `registry ${client.host}: referrer ${repository}@${descriptor.digest} has a layer of ${layer.size} bytes (over 16 MiB)`
    )
  }
  return { descriptor, layer, bytes: await client.getBlob(repository, layer.digest) }
}
