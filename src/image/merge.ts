/**
 * Merge mode: per-platform images, pushed by earlier jobs, stitched into one OCI image
 * index through the registry API, and the index PUT under every tag. Two images for one
 * platform are refused; an index given as a digest contributes its manifests.
 */
import { ConfigurationError } from '../core/errors.js'
import type { Logger } from '../core/logger.js'
import { parseImageRef, type ImageRef } from '../model/image-ref.js'
import { attestMerged } from './attest/attach.js'
import { withResult, type MergeJob, type Outcome } from './job.js'
import { openRegistry, putTags } from './promote.js'
import {
  isIndexType,
  MediaTypes,
  sha256Digest,
  type Manifest,
  type RegistryClient
} from './registry.js'
import { imageMetadata } from './tagging.js'

/** One entry of an OCI index. */
interface IndexEntry {
  digest: string
  mediaType: string
  size: number
  platform?: Record<string, string>
}

/** The manifests a digest contributes: an index's entries, or the image with its platform. */
async function entriesOf(
  client: RegistryClient,
  image: ImageRef,
  digest: string
): Promise<IndexEntry[]> {
  const m = await client.getManifest(image.repository, digest)
  if (!m) {
    throw new ConfigurationError(
      `input "digests": ${digest} is not in ${image.name}; push each platform's image first`
    )
  }
  if (isIndexType(m.mediaType)) {
    return (JSON.parse(m.body.toString('utf8')) as { manifests: IndexEntry[] }).manifests
  }
  const doc = JSON.parse(m.body.toString('utf8')) as { config: { digest: string } }
  const config = JSON.parse(
    (await client.getBlob(image.repository, doc.config.digest)).toString('utf8')
  ) as { os?: string; architecture?: string; variant?: string }
  const platform: Record<string, string> = {
    architecture: config.architecture ?? 'unknown',
    os: config.os ?? 'unknown'
  }
  if (config.variant) platform.variant = config.variant
  return [{ digest: m.digest, mediaType: m.mediaType, size: m.size, platform }]
}

/** Stitch the job's per-platform digests into one index and tag it. */
export async function mergeImages(job: MergeJob, log: Logger): Promise<Outcome> {
  const image = parseImageRef(job.image)
  const { tags, version } = imageMetadata(
    job.tagging,
    { name: image.name, service: job.service },
    job.source.metadata,
    log
  )
  const client = openRegistry(job.login, log)
  try {
    const entries: Record<string, unknown>[] = []
    const seen = new Map<string, string>()
    await log.group('Read the per-platform manifests', async () => {
      await client.ping()
      for (const digest of job.digests) {
        for (const c of await entriesOf(client, image, digest)) {
          const p = c.platform
            ? [c.platform.os, c.platform.architecture, c.platform.variant].filter(Boolean).join('/')
            : c.digest
          const other = seen.get(p)
          if (other && other !== c.digest) {
            throw new ConfigurationError(
              `input "digests": two images for platform ${p} (${other} and ${c.digest})`
            )
          }
          if (other) continue
          seen.set(p, c.digest)
          entries.push({
            mediaType: c.mediaType,
            digest: c.digest,
            size: c.size,
            platform: c.platform
          })
          log.info(`${p}: ${c.digest}`)
        }
      }
    })
    const body = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: entries })
    )
    const index: Manifest = {
      body,
      digest: sha256Digest(body),
      mediaType: MediaTypes.ociIndex,
      size: body.length
    }
    await log.group('Push the index', () => putTags(client, image.repository, index, tags, log))
    const platforms = [...seen.keys()]
    const attestations = await attestMerged(
      client,
      image,
      index,
      job.service,
      platforms,
      job.attest,
      log
    )
    return withResult(
      {
        kind: 'merged',
        service: job.service,
        image: image.name,
        tags: tags.map(t => `${image.name}:${t}`),
        version,
        platforms,
        digest: index.digest,
        why: `merged ${entries.length} platform images`,
        pushed: true,
        attestations
      },
      job.source
    )
  } finally {
    await client.close()
  }
}
