/**
 * An in-memory OCI distribution registry (spec 1.1) on 127.0.0.1 over plain HTTP, for
 * what the real distribution 2.8 cannot show: the referrers API
 * (`GET /v2/<name>/referrers/<digest>`, `artifactType` filtering with
 * `OCI-Filters-Applied`, `Link` pagination, `OCI-Subject` on a manifest PUT with a
 * subject) and conditional manifest writes (`If-Match` / `If-None-Match: *` → 412).
 * Blob uploads (POST then PUT ?digest=), manifests by tag and digest with checks of the
 * blobs they name, as the spec says. No test framework imports.
 */
import { createHash, randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/** Options of the stub. */
export interface OciRegistryOptions {
  /** Serve the referrers API (default true); without it, 404 as distribution 2.8 does. */
  referrersApi?: boolean
  /** Apply the artifactType filter (default true). */
  filter?: boolean
  /** Referrers per page (default: all on one). */
  pageSize?: number
  /** Honour If-Match / If-None-Match on manifest PUT (default true). */
  conditional?: boolean
}

/** A running stub. */
export interface OciRegistry {
  host: string
  log: string[]
  manifests: Map<string, Buffer>
  tags: Map<string, string>
  stop(): Promise<void>
}

const digestOf = (b: Buffer | string): string =>
  `sha256:${createHash('sha256').update(b).digest('hex')}`

function error(res: ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify({ errors: [{ code, message }] }))
}

/** Start the stub. */
export async function startOciRegistry(options: OciRegistryOptions = {}): Promise<OciRegistry> {
  const api = options.referrersApi ?? true
  const blobs = new Map<string, Buffer>() // `${repo}@${digest}`
  const manifests = new Map<string, Buffer>() // `${repo}@${digest}`
  const types = new Map<string, string>()
  const tags = new Map<string, string>() // `${repo}:${tag}` → digest
  const uploads = new Set<string>()
  const log: string[] = []

  const handle = (req: IncomingMessage, res: ServerResponse, body: Buffer): void => {
    const url = new URL(req.url!, 'http://stub')
    const method = req.method!
    log.push(`${method} ${url.pathname}${url.search}`)
    if (url.pathname === '/v2/' || url.pathname === '/v2') return void res.writeHead(200).end('{}')
    let m = /^\/v2\/(.+)\/blobs\/uploads\/([^/]*)$/.exec(url.pathname)
    if (m) {
      const [, repo, id] = m
      if (method === 'POST' && !id) {
        const uuid = randomUUID()
        uploads.add(uuid)
        res.writeHead(202, {
          location: `/v2/${repo}/blobs/uploads/${uuid}`,
          'docker-upload-uuid': uuid
        })
        return void res.end()
      }
      if (method === 'PUT' && id && uploads.has(id)) {
        const digest = url.searchParams.get('digest') ?? ''
        if (digestOf(body) !== digest) return error(res, 400, 'DIGEST_INVALID', 'digest mismatch')
        uploads.delete(id)
        blobs.set(`${repo}@${digest}`, body)
        res.writeHead(201, {
          location: `/v2/${repo}/blobs/${digest}`,
          'docker-content-digest': digest
        })
        return void res.end()
      }
      return error(res, 404, 'BLOB_UPLOAD_UNKNOWN', 'upload unknown')
    }
    m = /^\/v2\/(.+)\/blobs\/(sha256:[a-f0-9]{64})$/.exec(url.pathname)
    if (m) {
      const blob = blobs.get(`${m[1]}@${m[2]}`)
      if (!blob) return error(res, 404, 'BLOB_UNKNOWN', 'blob unknown')
      res.writeHead(200, { 'content-length': blob.length, 'docker-content-digest': m[2] })
      return void res.end(method === 'HEAD' ? undefined : blob)
    }
    m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url.pathname)
    if (m) {
      const [, repo, ref] = m
      const current = ref!.startsWith('sha256:') ? ref : tags.get(`${repo}:${ref}`)
      if (method === 'PUT') {
        if (options.conditional ?? true) {
          const ifMatch = req.headers['if-match']
          const ifNone = req.headers['if-none-match']
          if ((ifMatch && ifMatch !== `"${current}"`) || (ifNone === '*' && current)) {
            return error(res, 412, 'PRECONDITION_FAILED', 'condition failed')
          }
        }
        const digest = digestOf(body)
        if (ref!.startsWith('sha256:') && ref !== digest)
          return error(res, 400, 'DIGEST_INVALID', 'digest mismatch')
        let parsed: {
          config?: { digest: string }
          layers?: { digest: string }[]
          manifests?: unknown[]
          subject?: { digest: string }
        }
        try {
          parsed = JSON.parse(body.toString()) as typeof parsed
        } catch {
          return error(res, 400, 'MANIFEST_INVALID', 'not JSON')
        }
        for (const d of [parsed.config, ...(parsed.layers ?? [])]) {
          if (d && !blobs.has(`${repo}@${d.digest}`))
            return error(res, 400, 'MANIFEST_BLOB_UNKNOWN', d.digest)
        }
        manifests.set(`${repo}@${digest}`, body)
        types.set(`${repo}@${digest}`, String(req.headers['content-type']))
        if (!ref!.startsWith('sha256:')) tags.set(`${repo}:${ref}`, digest)
        const headers: Record<string, string> = {
          location: `/v2/${repo}/manifests/${digest}`,
          'docker-content-digest': digest
        }
        if (api && parsed.subject) headers['oci-subject'] = parsed.subject.digest
        res.writeHead(201, headers)
        return void res.end()
      }
      const stored = current && manifests.get(`${repo}@${current}`)
      if (!stored) return error(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown')
      res.writeHead(200, {
        'content-type': types.get(`${repo}@${current}`)!,
        'content-length': stored.length,
        'docker-content-digest': current!,
        etag: `"${current}"`
      })
      return void res.end(method === 'HEAD' ? undefined : stored)
    }
    m = /^\/v2\/(.+)\/referrers\/(sha256:[a-f0-9]{64})$/.exec(url.pathname)
    if (m && api && method === 'GET') {
      const [, repo, subject] = m
      const wanted = url.searchParams.get('artifactType')
      let list: Record<string, unknown>[] = []
      for (const [key, bytes] of manifests) {
        if (!key.startsWith(`${repo}@`)) continue
        const man = JSON.parse(bytes.toString()) as {
          mediaType: string
          artifactType?: string
          config?: { mediaType: string }
          subject?: { digest: string }
          annotations?: Record<string, string>
        }
        if (man.subject?.digest !== subject) continue
        list.push({
          mediaType: man.mediaType,
          digest: key.slice(repo!.length + 1),
          size: bytes.length,
          artifactType: man.artifactType ?? man.config?.mediaType,
          ...(man.annotations ? { annotations: man.annotations } : {})
        })
      }
      const headers: Record<string, string> = {
        'content-type': 'application/vnd.oci.image.index.v1+json'
      }
      if (wanted && (options.filter ?? true)) {
        list = list.filter(d => d.artifactType === wanted)
        headers['oci-filters-applied'] = 'artifactType'
      }
      const size = options.pageSize ?? list.length
      const start = Number(url.searchParams.get('page') ?? 0)
      const page = list.slice(start, start + Math.max(size, 1))
      if (start + size < list.length) {
        const next = new URL(url.href)
        next.searchParams.set('page', String(start + size))
        headers.link = `<${next.pathname}${next.search}>; rel="next"`
      }
      res.writeHead(200, headers)
      return void res.end(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.index.v1+json',
          manifests: page
        })
      )
    }
    return error(res, 404, 'NAME_UNKNOWN', 'not found')
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => handle(req, res, Buffer.concat(chunks)))
  })
  await new Promise<void>(r => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as AddressInfo).port
  return {
    host: `127.0.0.1:${port}`,
    log,
    manifests,
    tags,
    stop: () => new Promise(r => server.close(() => r()))
  }
}
