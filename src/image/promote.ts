/**
 * Tagging through the registry API: a manifest PUT under more tags (a promotion of an
 * image built before, the extra tags of a fresh build, a merged index), the size of
 * what was tagged, and the client these calls go through.
 */
import type { Logger } from '../core/logger.js'
import type { ImageRef } from '../model/image-ref.js'
import type { RegistryLogin } from './distribution.js'
import { RegistryClient, type Manifest } from './registry.js'

/** A client for the image's registry with its login; warns when TLS is not verified. */
export function openRegistry(login: RegistryLogin, log: Logger): RegistryClient {
  if (login.insecure) {
    log.warning(
      `registry-insecure: talking to ${login.registry} over plain HTTP or unverified TLS; use this for local registries only`
    )
  }
  return new RegistryClient({ ...login, logger: log })
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
 * (the manifest's exact bytes, or nothing), then that manifest PUT under every tag,
 * while `alongside` (the lookup of its attestations) runs on the same connection.
 * Returns the manifest promoted and what `alongside` found, or undefined when there is
 * none to promote.
 */
export async function promoteBuilt<T = undefined>(
  client: RegistryClient,
  image: ImageRef,
  ctxTag: string,
  tags: readonly string[],
  service: string,
  log: Logger,
  alongside?: (manifest: Manifest) => Promise<T>
): Promise<{ manifest: Manifest; found?: T } | undefined> {
  const manifest = await log.group(`Look for ${image.name}:${ctxTag}`, () =>
    client.getManifest(image.repository, ctxTag)
  )
  if (!manifest) return undefined
  // The lookup goes out first: on a registry without the referrers API it takes two
  // round trips one after the other (the API's 404, then the fallback tag), the tags one.
  const [found] = await log.group('Promote the existing image (no build)', () => {
    const finding = alongside?.(manifest)
    return Promise.all([finding, putTags(client, image.repository, manifest, tags, log)])
  })
  log.notice(`${service}: inputs unchanged (${ctxTag}); reused ${manifest.digest} without building`)
  return { manifest, found }
}
