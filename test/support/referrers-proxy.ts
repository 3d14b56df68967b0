/**
 * The referrers API of the OCI distribution spec 1.1 in front of the real registry:
 * an HTTPS front (HTTP/2 and HTTP/1.1, the registry's own certificate, so clients trust
 * it with the same CA) that passes every request through to the TLS + htpasswd
 * distribution 2.8 registry, which has no referrers API, and adds what the spec asks of
 * a registry that has one:
 * - a manifest PUT whose body has a `subject` is answered with `OCI-Subject: <digest>`
 *   once the registry stored it, and the manifest joins the subject's referrers list;
 * - `GET /v2/<name>/referrers/<digest>` answers 200 with an OCI image index (Content-Type
 *   `application/vnd.oci.image.index.v1+json`) of descriptors carrying `artifactType`
 *   (the manifest's, else an image manifest's config media type, none for an index
 *   without one) and the manifest's annotations; an empty list, never a 404, when there
 *   is none; the `artifactType` query applied with `OCI-Filters-Applied: artifactType`;
 *   400 for a digest of invalid syntax; `Link: <...>; rel="next"` pages when a page size
 *   is set; the login checked by the registry itself (its 401 passed on);
 * - manifests listed in a `sha256-<hex>` fallback index before the API was there are
 *   included when their `subject` names the digest ("Enabling the Referrers API");
 * - a deleted manifest leaves the lists.
 * Nothing is kept but that in-memory list; everything else is the registry's. No test
 * framework imports.
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { Agent, request as httpsRequest } from 'node:https'
import { createSecureServer, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2'
import type { AddressInfo, Socket } from 'node:net'
import type { TestRegistry } from './registry.js'

const INDEX = 'application/vnd.oci.image.index.v1+json'
const DIGEST = /^sha256:[a-f0-9]{64}$|^sha512:[a-f0-9]{128}$/
/** Request and response headers that belong to one connection, never passed on. */
const HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
  'te',
  'host'
])

/** One descriptor of a referrers list. */
export interface ReferrerDescriptor {
  mediaType: string
  digest: string
  size: number
  artifactType?: string
  annotations?: Record<string, string>
}

/** The running front. */
export interface ReferrersProxy {
  /** `127.0.0.1:<port>`: name images with this host to go through the front. */
  host: string
  /** Every request, `METHOD /path?query status`, in order. */
  log: string[]
  /** The referrers recorded for `<repository>@<subject digest>`. */
  referrers(repository: string, subject: string): ReferrerDescriptor[]
  stop(): Promise<void>
}

/** Options of the front. */
export interface ReferrersProxyOptions {
  /** Descriptors per referrers page (default: all on one). */
  pageSize?: number
}

interface Answer {
  status: number
  headers: Record<string, string | string[]>
  body: Buffer
}

/** The descriptor of a stored manifest in a referrers list, as the spec says. Pure. */
export function referrerDescriptor(
  body: Buffer,
  contentType: string
): { subject?: string; descriptor: ReferrerDescriptor } {
  const m = JSON.parse(body.toString('utf8')) as {
    mediaType?: string
    artifactType?: string
    config?: { mediaType?: string }
    manifests?: unknown[]
    subject?: { digest?: string }
    annotations?: Record<string, string>
  }
  const mediaType = m.mediaType ?? contentType.split(';')[0]!.trim()
  const isIndex = mediaType === INDEX || Array.isArray(m.manifests)
  const artifactType = m.artifactType || (isIndex ? undefined : m.config?.mediaType)
  return {
    subject: typeof m.subject?.digest === 'string' ? m.subject.digest : undefined,
    descriptor: {
      mediaType,
      digest: `sha256:${createHash('sha256').update(body).digest('hex')}`,
      size: body.length,
      ...(artifactType ? { artifactType } : {}),
      ...(m.annotations ? { annotations: m.annotations } : {})
    }
  }
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Answer {
  return {
    status,
    headers: { 'content-type': 'application/json', ...headers },
    body: Buffer.from(JSON.stringify(body))
  }
}

/** Start the front for `registry` (TLS mode); resolves once it listens. */
export async function startReferrersProxy(
  registry: TestRegistry,
  options: ReferrersProxyOptions = {}
): Promise<ReferrersProxy> {
  if (!registry.tlsFiles || !registry.caPem)
    throw new Error('the referrers front needs a TLS registry')
  const agent = new Agent({ keepAlive: true, ca: registry.caPem })
  const lists = new Map<string, ReferrerDescriptor[]>() // `${repo}@${subject}`
  const log: string[] = []
  let host = ''

  /** One request to the registry, as the client sent it (its login included). */
  const upstream = (
    method: string,
    path: string,
    headers: Record<string, string | string[]>,
    body?: Buffer
  ): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const out: Record<string, string | string[]> = {}
      for (const [k, v] of Object.entries(headers)) {
        if (!k.startsWith(':') && !HOP.has(k) && v !== undefined) out[k] = v
      }
      // The registry writes its absolute URLs (upload locations) for this front's host.
      out.host = host
      if (body && body.length > 0) out['content-length'] = String(body.length)
      const req = httpsRequest(
        { host: '127.0.0.1', port: registry.port, method, path, headers: out, agent },
        res => {
          const chunks: Buffer[] = []
          res.on('data', (c: Buffer) => chunks.push(c))
          res.on('end', () => {
            const h: Record<string, string | string[]> = {}
            for (const [k, v] of Object.entries(res.headers)) {
              if (!HOP.has(k) && v !== undefined) h[k] = v
            }
            resolve({ status: res.statusCode ?? 502, headers: h, body: Buffer.concat(chunks) })
          })
          res.on('error', reject)
        }
      )
      req.on('error', reject)
      req.end(body)
    })

  const remember = (repo: string, subject: string, d: ReferrerDescriptor): void => {
    const key = `${repo}@${subject}`
    const list = lists.get(key) ?? []
    if (!list.some(x => x.digest === d.digest)) list.push(d)
    lists.set(key, list)
  }

  /** Manifests a fallback index listed before the API was on, whose `subject` is `digest`. */
  const preexisting = async (
    repo: string,
    digest: string,
    headers: Record<string, string | string[]>
  ): Promise<ReferrerDescriptor[]> => {
    const tag = digest.replace(':', '-')
    const accept = { ...headers, accept: INDEX }
    const index = await upstream('GET', `/v2/${repo}/manifests/${tag}`, accept)
    if (index.status !== 200) return []
    let listed: { digest?: string }[] = []
    try {
      const doc = JSON.parse(index.body.toString('utf8')) as { manifests?: { digest?: string }[] }
      listed = Array.isArray(doc.manifests) ? doc.manifests : []
    } catch {
      return []
    }
    const out: ReferrerDescriptor[] = []
    for (const entry of listed) {
      if (typeof entry.digest !== 'string' || !DIGEST.test(entry.digest)) continue
      const m = await upstream('GET', `/v2/${repo}/manifests/${entry.digest}`, {
        ...headers,
        accept: `application/vnd.oci.image.manifest.v1+json, ${INDEX}`
      })
      if (m.status !== 200) continue
      try {
        const r = referrerDescriptor(m.body, String(m.headers['content-type'] ?? ''))
        if (r.subject === digest) out.push(r.descriptor)
      } catch {
        // not a manifest: not a referrer
      }
    }
    return out
  }

  const referrersOf = async (
    repo: string,
    digest: string,
    url: URL,
    headers: Record<string, string | string[]>
  ): Promise<Answer> => {
    // The login is the registry's to judge: its answer to the same credentials on /v2/.
    const login = await upstream('GET', '/v2/', headers)
    if (login.status !== 200) return login
    if (!DIGEST.test(digest)) {
      return json(400, { errors: [{ code: 'DIGEST_INVALID', message: 'invalid digest' }] })
    }
    let list = [...(lists.get(`${repo}@${digest}`) ?? [])]
    for (const d of await preexisting(repo, digest, headers)) {
      if (!list.some(x => x.digest === d.digest)) list.push(d)
    }
    const out: Record<string, string> = { 'content-type': INDEX }
    const wanted = url.searchParams.get('artifactType')
    if (wanted !== null) {
      list = list.filter(d => d.artifactType === wanted)
      out['oci-filters-applied'] = 'artifactType'
    }
    const size = options.pageSize ?? Math.max(list.length, 1)
    const start = Number(url.searchParams.get('page') ?? 0) || 0
    if (start + size < list.length) {
      const next = new URL(url.href)
      next.searchParams.set('page', String(start + size))
      out.link = `<${next.pathname}${next.search}>; rel="next"`
    }
    const body = { schemaVersion: 2, mediaType: INDEX, manifests: list.slice(start, start + size) }
    return { status: 200, headers: out, body: Buffer.from(JSON.stringify(body)) }
  }

  const handle = async (
    method: string,
    url: URL,
    headers: Record<string, string | string[]>,
    body: Buffer
  ): Promise<Answer> => {
    const referrers = /^\/v2\/(.+)\/referrers\/([^/]+)$/.exec(url.pathname)
    if (referrers) {
      if (method !== 'GET' && method !== 'HEAD') {
        return json(405, { errors: [{ code: 'UNSUPPORTED', message: 'GET only' }] })
      }
      return referrersOf(referrers[1]!, decodeURIComponent(referrers[2]!), url, headers)
    }
    const answer = await upstream(method, url.pathname + url.search, headers, body)
    const manifest = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url.pathname)
    if (!manifest) return answer
    const [, repo, reference] = manifest
    if (method === 'PUT' && answer.status === 201) {
      let parsed: ReturnType<typeof referrerDescriptor> | undefined
      try {
        parsed = referrerDescriptor(body, String(headers['content-type'] ?? ''))
      } catch {
        parsed = undefined
      }
      if (parsed?.subject && DIGEST.test(parsed.subject)) {
        remember(repo!, parsed.subject, parsed.descriptor)
        answer.headers['oci-subject'] = parsed.subject
      }
    }
    if (method === 'DELETE' && answer.status === 202 && DIGEST.test(reference!)) {
      for (const [key, list] of lists) {
        if (key.startsWith(`${repo}@`))
          lists.set(
            key,
            list.filter(d => d.digest !== reference)
          )
      }
    }
    return answer
  }

  const server = createSecureServer(
    {
      cert: readFileSync(registry.tlsFiles.cert),
      key: readFileSync(registry.tlsFiles.key),
      allowHTTP1: true
    },
    (req: Http2ServerRequest, res: Http2ServerResponse) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const url = new URL(req.url, `https://${host}`)
        const headers = req.headers as Record<string, string | string[]>
        handle(req.method, url, headers, Buffer.concat(chunks))
          .then(a => {
            log.push(`${req.method} ${url.pathname}${url.search} ${a.status}`)
            res.writeHead(a.status, a.headers)
            if (req.method === 'HEAD') res.end()
            else res.end(a.body)
          })
          .catch((error: Error) => {
            log.push(`${req.method} ${url.pathname}${url.search} 502`)
            res.writeHead(502, { 'content-type': 'text/plain' })
            res.end(error.message)
          })
      })
    }
  )
  const sockets = new Set<Socket>()
  server.on('secureConnection', (socket: Socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    host,
    log,
    referrers: (repository, subject) => [...(lists.get(`${repository}@${subject}`) ?? [])],
    stop: () =>
      new Promise(resolve => {
        agent.destroy()
        server.close(() => resolve())
        for (const socket of sockets) socket.destroy()
      })
  }
}
