/**
 * A client of the OCI distribution spec (the registry HTTP API): manifests (HEAD, GET,
 * PUT) with the OCI and Docker media types, tag listing and blobs, over one registry's
 * session (registry-session.ts: TLS or not, the token flows). Enough to re-tag an image
 * without moving a layer and to stitch an index from per-platform manifests.
 */
import {
  MANIFEST_ACCEPT,
  RegistryError,
  sha256Digest,
  type Manifest,
  type ManifestInfo
} from './distribution.js'
import { RegistrySession } from './registry-session.js'

// The vocabulary and the options, for callers that know the client only.
export * from './distribution.js'
export type { RegistryOptions, TransferStats } from './registry-session.js'

/** A distribution-spec client for one registry. */
export class RegistryClient extends RegistrySession {
  /** Describe a manifest by tag or digest; undefined when it does not exist. */
  async headManifest(repository: string, reference: string): Promise<ManifestInfo | undefined> {
    const what = `read ${repository}:${reference}`
    const res = await this.call(
      `/v2/${repository}/manifests/${reference}`,
      { method: 'HEAD', headers: { accept: MANIFEST_ACCEPT } },
      this.scope(repository, 'pull'),
      what
    )
    if (res.status === 404) return undefined
    if (res.status !== 200) this.fail(res, `HEAD ${repository}:${reference}`)
    const digest = res.headers['docker-content-digest']
    if (!digest) {
      // Some registries omit the header on HEAD; GET and hash instead.
      const m = await this.getManifest(repository, reference)
      return m && { digest: m.digest, mediaType: m.mediaType, size: m.size }
    }
    return {
      digest,
      mediaType: (res.headers['content-type'] ?? '').split(';')[0]!.trim(),
      size: Number(res.headers['content-length'] ?? 0)
    }
  }

  /** Fetch a manifest's exact bytes; undefined when it does not exist. */
  async getManifest(repository: string, reference: string): Promise<Manifest | undefined> {
    const res = await this.call(
      `/v2/${repository}/manifests/${reference}`,
      { headers: { accept: MANIFEST_ACCEPT } },
      this.scope(repository, 'pull'),
      `read ${repository}:${reference}`
    )
    if (res.status === 404) return undefined
    if (res.status !== 200) this.fail(res, `GET manifest ${repository}:${reference}`)
    const digest = sha256Digest(res.body)
    if (reference.startsWith('sha256:') && reference !== digest) {
      throw new RegistryError(
        `registry ${this.host}: manifest ${repository}@${reference} has digest ${digest}`
      )
    }
    let mediaType = (res.headers['content-type'] ?? '').split(';')[0]!.trim()
    try {
      mediaType = res.json<{ mediaType?: string }>().mediaType ?? mediaType
    } catch {
      // keep the header's
    }
    return { digest, mediaType, size: res.body.length, body: res.body }
  }

  /**
   * Store a manifest under a tag (or its digest). Returns the digest the registry
   * reports, checked against the bytes sent.
   */
  async putManifest(
    repository: string,
    reference: string,
    body: Buffer,
    mediaType: string
  ): Promise<string> {
    const pushed = await this.pushManifest(repository, reference, body, mediaType)
    if (pushed.conflict) {
      throw new RegistryError(
        `registry ${this.host}: PUT ${repository}:${reference} answered HTTP 412 (precondition failed)`,
        412
      )
    }
    return pushed.digest
  }

  /**
   * `putManifest` with the registry's response headers (`OCI-Subject` tells whether it
   * handled a manifest's `subject`) and extra request headers (`If-Match`); a 412 (the
   * condition failed) comes back as `conflict` instead of an error.
   */
  async pushManifest(
    repository: string,
    reference: string,
    body: Buffer,
    mediaType: string,
    headers: Record<string, string> = {}
  ): Promise<{ digest: string; headers: Record<string, string>; conflict?: true }> {
    const res = await this.call(
      `/v2/${repository}/manifests/${reference}`,
      { method: 'PUT', headers: { ...headers, 'content-type': mediaType }, body },
      this.scope(repository, 'pull,push'),
      `push to ${repository}`
    )
    if (res.status === 412)
      return { digest: sha256Digest(body), headers: res.headers, conflict: true }
    if (res.status !== 201 && res.status !== 200) {
      this.fail(res, `PUT ${repository}:${reference} (tag rejected?)`)
    }
    const digest = sha256Digest(body)
    const reported = res.headers['docker-content-digest']
    if (reported && reported !== digest) {
      throw new RegistryError(
        `registry ${this.host}: stored ${repository}:${reference} as ${reported}, expected ${digest}`
      )
    }
    return { digest, headers: res.headers }
  }

  /** Every tag of a repository (follows `Link` pagination); [] when the repository is unknown. */
  async listTags(repository: string): Promise<string[]> {
    const out: string[] = []
    let path: string | undefined = `/v2/${repository}/tags/list?n=1000`
    for (let page = 0; path && page < 100; page++) {
      const res = await this.call(
        path,
        {},
        this.scope(repository, 'pull'),
        `list tags of ${repository}`
      )
      if (res.status === 404) return out
      if (res.status !== 200) this.fail(res, `list tags of ${repository}`)
      out.push(...(res.json<{ tags?: string[] | null }>().tags ?? []))
      const next = /<([^>]+)>\s*;\s*rel="?next"?/.exec(res.headers.link ?? '')?.[1]
      path = next
        ? new URL(next, `${this.scheme}://${this.host}`).pathname +
          new URL(next, `${this.scheme}://${this.host}`).search
        : undefined
    }
    return out
  }

  /** Whether a blob exists in a repository. */
  async blobExists(repository: string, digest: string): Promise<boolean> {
    const res = await this.call(
      `/v2/${repository}/blobs/${digest}`,
      { method: 'HEAD' },
      this.scope(repository, 'pull'),
      `read ${repository}`
    )
    if (res.status === 404) return false
    if (res.status === 200 || res.status === 307 || res.status === 302) return true
    this.fail(res, `HEAD blob ${repository}@${digest}`)
  }

  /** A small blob's bytes (image configs); follows one redirect without credentials. */
  async getBlob(repository: string, digest: string): Promise<Buffer> {
    let res = await this.call(
      `/v2/${repository}/blobs/${digest}`,
      {},
      this.scope(repository, 'pull'),
      `read ${repository}`
    )
    if ([301, 302, 303, 307, 308].includes(res.status) && res.headers.location) {
      res = await this.send(new URL(res.headers.location, this.baseUrl).href, {})
    }
    if (res.status !== 200) this.fail(res, `GET blob ${repository}@${digest}`)
    if (sha256Digest(res.body) !== digest) {
      throw new RegistryError(`registry ${this.host}: blob ${digest} does not match its digest`)
    }
    return res.body
  }
}
