/**
 * The floor under any promotion on this machine: the registry exchange a promotion needs
 * and nothing else, with a bare `node:http2` client in a fresh process. A new TLS
 * connection, GET the base image's manifest, GET `<repo>:ctx-<hash>`, then PUT that
 * manifest under three new tags at once while it asks for that manifest's referrers (the
 * referrers API, then on a 404 the `sha256-<hex>` fallback tag): a promotion proves its
 * attestations are there. No inputs, git, hashing, logging or outputs.
 *
 * Run by the build benchmark (not a bench module: the runner loads only `.ts` files).
 * Standard input (so that the password is never in argv): a JSON object {host, ca,
 * username, password, base: {repository, tag}, repository, ctxTag, tags}. Prints {ms}:
 * from before the connection to the last answer.
 */
import { createHash } from 'node:crypto'
import { connect } from 'node:http2'
import { performance } from 'node:perf_hooks'

let input = ''
for await (const chunk of process.stdin) input += chunk
const job = JSON.parse(input)
const authorization = `Basic ${Buffer.from(`${job.username}:${job.password}`).toString('base64')}`
const accept = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json'
].join(', ')

/** One request on the session; resolves with status, content type and body. */
function send(session, method, path, body, contentType) {
  return new Promise((resolve, reject) => {
    const headers = { ':method': method, ':path': path, authorization, accept }
    if (contentType) headers['content-type'] = contentType
    const stream = session.request(headers)
    const chunks = []
    let status = 0
    let type = ''
    stream.on('response', h => {
      status = Number(h[':status'])
      type = String(h['content-type'] ?? '')
    })
    stream.on('data', c => chunks.push(c))
    stream.on('end', () => resolve({ status, type, body: Buffer.concat(chunks) }))
    stream.on('error', reject)
    stream.end(body)
  })
}

const started = performance.now()
const session = connect(`https://${job.host}`, { ca: job.ca })
try {
  const base = await send(session, 'GET', `/v2/${job.base.repository}/manifests/${job.base.tag}`)
  if (base.status !== 200) throw new Error(`base image: HTTP ${base.status}`)
  const ctx = await send(session, 'GET', `/v2/${job.repository}/manifests/${job.ctxTag}`)
  if (ctx.status !== 200) throw new Error(`${job.ctxTag}: HTTP ${ctx.status}`)
  const hex = createHash('sha256').update(ctx.body).digest('hex')
  const referrers = async () => {
    const api = await send(session, 'GET', `/v2/${job.repository}/referrers/sha256:${hex}`)
    if (api.status === 200) return api
    const tag = await send(session, 'GET', `/v2/${job.repository}/manifests/sha256-${hex}`)
    // 404: the digest has no attestations, a whole answer (the promotion warns on it).
    if (tag.status !== 200 && tag.status !== 404) {
      throw new Error(`referrers of sha256:${hex}: HTTP ${tag.status}`)
    }
    return tag
  }
  const [puts] = await Promise.all([
    Promise.all(
      job.tags.map(tag =>
        send(session, 'PUT', `/v2/${job.repository}/manifests/${tag}`, ctx.body, ctx.type)
      )
    ),
    referrers()
  ])
  const refused = puts.find(p => p.status !== 201)
  if (refused) throw new Error(`PUT: HTTP ${refused.status}`)
  process.stdout.write(JSON.stringify({ ms: performance.now() - started }) + '\n')
} finally {
  session.destroy()
}
