/**
 * Tagging through the registry API: a manifest PUT under more tags (a promotion of an
 * image built before, the extra tags of a fresh build, a merged index), the size of
 * what was tagged, and the client these calls go through.
 */
import type { Logger } from '../core/logger.js'
import type { ImageRef } from '../model/image-ref.js'
import type { OwnRegistry } from './base-images.js'
import { RegistryClient, type Manifest } from './registry.js'

/** A client for the image's registry with its login; warns when TLS is not verified. */
export function openRegistry(registry: OwnRegistry, log: Logger): RegistryClient {
  if (registry.insecure) {
    log.warning(
      `registry-insecure: talking to ${registry.host} over plain HTTP or unverified TLS; use this for local registries only`
    )
  }
  return new RegistryClient({
    registry: registry.host,
    username: registry.username,
    password: registry.password,
    ca: registry.ca,
    insecure: registry.insecure,
    logger: log
  })
}

/** Size of an image: config + layers, or for an index the sum over its manifests. */
export async function imageSize(
  client: RegistryClient,
  repository: string,
  manifest: Manifest
): Promise<number | undefined> {
  try {
    const doc = JSON.parse(manifest.body.toString('utf8')) as {
      config?: { size?: number }
      layers?: { size?: number }[]
      manifests?: { digest: string }[]
    }
    if (doc.manifests) {
      let total = 0
      for (const m of doc.manifests) {
        const child = await client.getManifest(repository, m.digest)
        if (child) total += (await imageSize(client, repository, child)) ?? 0
      }
      return total
    }
    return (doc.config?.size ?? 0) + (doc.layers ?? []).reduce((s, l) => s + (l.size ?? 0), 0)
  } catch {
    return undefined
  }
}

/**
 * PUT one manifest under every tag, all at once (each tag costs the registry a round
 * trip; the TLS context is shared, so extra connections are cheap). putManifest
 * checks the digest. Logged in tag order; the first failure is thrown once all ended.
 */
export async function putTags(
  client: RegistryClient,
  repository: string,
  manifest: Manifest,
  tags: readonly string[],
  log: Logger
): Promise<void> {
  const results = await Promise.allSettled(
    tags.map(tag => client.putManifest(repository, tag, manifest.body, manifest.mediaType))
  )
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') log.info(`tagged ${repository}:${tags[i]} -> ${r.value}`)
  })
  const failed = results.find(r => r.status === 'rejected')
  if (failed) throw failed.reason
}

/**
 * Promote the image built before from identical inputs: one GET of `<image>:<ctxTag>`
 * (the manifest's exact bytes, or nothing), then that manifest PUT under every tag.
 * Returns the manifest promoted, or undefined when there is none to promote.
 */
export async function promoteBuilt(
  client: RegistryClient,
  image: ImageRef,
  ctxTag: string,
  tags: readonly string[],
  service: string,
  log: Logger
): Promise<Manifest | undefined> {
  const manifest = await log.group(`Look for ${image.name}:${ctxTag}`, () =>
    client.getManifest(image.repository, ctxTag)
  )
  if (!manifest) return undefined
  await log.group('Promote the existing image (no build)', () =>
    putTags(client, image.repository, manifest, tags, log)
  )
  log.notice(`${service}: inputs unchanged (${ctxTag}); reused ${manifest.digest} without building`)
  return manifest
}
