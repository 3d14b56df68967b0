/**
 * The referrers API path end to end. distribution 2.8 has none, so a front
 * (test/support/referrers-proxy.ts) adds it to the real TLS + htpasswd registry as the
 * OCI distribution spec 1.1 says a registry does; the first block holds the front to the
 * spec's rules with plain HTTP requests (not Conveyor's client). Then the committed
 * bundles run through it: a build with a signing key pushes provenance and SBOM as
 * referrers the registry took itself (`OCI-Subject`), so no `sha256-<hex>` fallback tag
 * is written; openssl verifies the provenance; a promotion finds both through
 * `GET /v2/<name>/referrers/<digest>`; deploy `verify: provenance` with the verify key
 * accepts the image through the API, and refuses it with another key.
 */
import { createHash } from 'node:crypto'
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RegistryClient } from '../../src/image/registry.js'
import {
  opensslKeyPair,
  opensslVerifyEnvelope,
  readReferrer,
  testClient,
  type KeyPair
} from '../support/attest.js'
import {
  isolatedBuildahEnv,
  pushBusyboxBase,
  writeTestAuthFile,
  type BuildahEnv
} from '../support/base-image.js'
import { canary } from '../support/canary.js'
import { cleanup, makeRepo, sh } from '../support/gitrepo.js'
import { ROOT, runAction, type ActionRun } from '../support/harness.js'
import { startReferrersProxy, type ReferrersProxy } from '../support/referrers-proxy.js'
import { startRegistry, type TestRegistry } from '../support/registry.js'

const USER = 'ci-bot'
const PASSWORD = canary('REGPASS')
const INDEX = 'application/vnd.oci.image.index.v1+json'
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json'
const DSSE = 'application/vnd.dsse.envelope.v1+json'
const SLSA = 'https://slsa.dev/provenance/v1'
const SPDX = 'https://spdx.dev/Document/v2.3'

let registry: TestRegistry
let front: ReferrersProxy
let buildah: BuildahEnv
let client: RegistryClient
let tmp: string
let key: KeyPair
let baseDigest: string

interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Buffer
}

/** One plain HTTP/1.1 request over TLS, with the test user's Basic login unless told. */
function raw(
  host: string,
  method: string,
  path: string,
  o: { body?: Buffer | string; type?: string; password?: string; accept?: string } = {}
): Promise<Answer> {
  const [hostname, port] = host.split(':')
  const auth = Buffer.from(`${USER}:${o.password ?? PASSWORD}`).toString('base64')
  const headers: Record<string, string> = { authorization: `Basic ${auth}` }
  if (o.type) headers['content-type'] = o.type
  if (o.accept) headers.accept = o.accept
  return new Promise((resolve, reject) => {
    const req = request(
      { hostname, port: Number(port), method, path, headers, ca: registry.caPem },
      res => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks)
          })
        )
      }
    )
    req.on('error', reject)
    req.end(o.body)
  })
}

const sha256 = (b: Buffer | string): string =>
  `sha256:${createHash('sha256').update(b).digest('hex')}`

/** Upload a blob through `host` (POST, then PUT to the location with the digest). */
async function pushBlob(host: string, repo: string, bytes: Buffer | string): Promise<string> {
  const digest = sha256(bytes)
  const start = await raw(host, 'POST', `/v2/${repo}/blobs/uploads/`)
  expect(start.status).toBe(202)
  const location = new URL(String(start.headers.location), `https://${host}`)
  // The registry wrote its upload location for the host it was asked through.
  expect(location.host).toBe(host)
  location.searchParams.set('digest', digest)
  const put = await raw(host, 'PUT', location.pathname + location.search, {
    body: bytes,
    type: 'application/octet-stream'
  })
  expect(put.status).toBe(201)
  return digest
}

/** An OCI artifact manifest about `subject`. */
function artifact(
  subject: string,
  o: { artifactType?: string; config?: string; annotations?: Record<string, string> },
  layer: { digest: string; size: number },
  config: { digest: string; size: number }
): string {
  return JSON.stringify({
    schemaVersion: 2,
    mediaType: MANIFEST,
    ...(o.artifactType ? { artifactType: o.artifactType } : {}),
    config: { mediaType: o.config ?? 'application/vnd.oci.empty.v1+json', ...config },
    layers: [{ mediaType: 'application/vnd.example.data', ...layer }],
    subject: { mediaType: MANIFEST, digest: subject, size: 100 },
    ...(o.annotations ? { annotations: o.annotations } : {})
  })
}

function git(cwd: string, ...args: string[]): string {
  return sh(cwd, args)
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'conveyor-referrers-api-'))
  registry = await startRegistry({ users: { [USER]: PASSWORD } })
  front = await startReferrersProxy(registry)
  buildah = isolatedBuildahEnv()
  const authFile = writeTestAuthFile(registry.host, USER, PASSWORD)
  pushBusyboxBase(`${registry.host}/base/busybox:1`, buildah, {
    authFile,
    certDir: registry.certDir
  })
  client = testClient(registry)
  baseDigest = (await client.getManifest('base/busybox', '1'))!.digest
  key = opensslKeyPair(tmp)
}, 180_000)

afterAll(async () => {
  await client?.close()
  await front?.stop()
  await registry?.stop()
  buildah?.cleanup()
  rmSync(tmp, { recursive: true, force: true })
  cleanup()
})

describe('the referrers front, held to the distribution spec 1.1', () => {
  const repo = 'spec/subject'
  const pushed: Record<string, { digest: string; size: number; body: string }> = {}
  let config: { digest: string; size: number }
  let layer: { digest: string; size: number }

  beforeAll(async () => {
    // The subject: the base image, copied into the repository through the front.
    const base = await raw(registry.host, 'GET', '/v2/base/busybox/manifests/1', {
      accept: `${MANIFEST}, application/vnd.docker.distribution.manifest.v2+json`
    })
    const m = JSON.parse(base.body.toString()) as {
      config: { digest: string }
      layers: { digest: string }[]
    }
    for (const d of [m.config, ...m.layers]) {
      const blob = await raw(registry.host, 'GET', `/v2/base/busybox/blobs/${d.digest}`)
      await pushBlob(front.host, repo, blob.body)
    }
    const put = await raw(front.host, 'PUT', `/v2/${repo}/manifests/v1`, {
      body: base.body,
      type: String(base.headers['content-type'])
    })
    expect(put.status).toBe(201)
    config = { digest: await pushBlob(front.host, repo, '{}'), size: 2 }
    layer = { digest: await pushBlob(front.host, repo, 'payload'), size: 7 }
  }, 60_000)

  it('answers a manifest PUT with a subject with OCI-Subject, and one without with none', async () => {
    const put = async (name: string, body: string, type = MANIFEST): Promise<Answer> => {
      const res = await raw(front.host, 'PUT', `/v2/${repo}/manifests/${sha256(body)}`, {
        body,
        type
      })
      expect(res.status).toBe(201)
      pushed[name] = { digest: sha256(body), size: Buffer.byteLength(body), body }
      return res
    }
    const a = await put(
      'typed',
      artifact(
        baseDigest,
        { artifactType: 'application/vnd.example.sbom.v1', annotations: { 'org.example': 'a' } },
        layer,
        config
      )
    )
    expect(a.headers['oci-subject']).toBe(baseDigest)
    const b = await put(
      'untyped',
      artifact(baseDigest, { config: 'application/vnd.example.config.v1+json' }, layer, config)
    )
    expect(b.headers['oci-subject']).toBe(baseDigest)
    const index = JSON.stringify({
      schemaVersion: 2,
      mediaType: INDEX,
      manifests: [],
      subject: { mediaType: MANIFEST, digest: baseDigest, size: 100 },
      annotations: { 'org.example': 'index' }
    })
    const c = await put('index', index, INDEX)
    expect(c.headers['oci-subject']).toBe(baseDigest)
    const plain = await raw(front.host, 'PUT', `/v2/${repo}/manifests/plain`, {
      body: artifact(baseDigest, {}, layer, config).replace(/,"subject":\{[^}]*\}/, ''),
      type: MANIFEST
    })
    expect(plain.status).toBe(201)
    expect(plain.headers['oci-subject']).toBeUndefined()
  })

  it('lists them as an image index: artifactType from the manifest, else its config; annotations; none for an index without one', async () => {
    const res = await raw(front.host, 'GET', `/v2/${repo}/referrers/${baseDigest}`)
    expect(res.status).toBe(200)
    expect(res.headers['content-type']).toBe(INDEX)
    expect(res.headers['oci-filters-applied']).toBeUndefined()
    const doc = JSON.parse(res.body.toString()) as {
      schemaVersion: number
      mediaType: string
      manifests: Record<string, unknown>[]
    }
    expect(doc.schemaVersion).toBe(2)
    expect(doc.mediaType).toBe(INDEX)
    const byDigest = new Map(doc.manifests.map(d => [d.digest, d]))
    expect(byDigest.get(pushed.typed!.digest)).toEqual({
      mediaType: MANIFEST,
      digest: pushed.typed!.digest,
      size: pushed.typed!.size,
      artifactType: 'application/vnd.example.sbom.v1',
      annotations: { 'org.example': 'a' }
    })
    expect(byDigest.get(pushed.untyped!.digest)).toMatchObject({
      artifactType: 'application/vnd.example.config.v1+json',
      size: pushed.untyped!.size
    })
    const index = byDigest.get(pushed.index!.digest)!
    expect(index).toMatchObject({ mediaType: INDEX, annotations: { 'org.example': 'index' } })
    expect(index).not.toHaveProperty('artifactType')
    expect(doc.manifests).toHaveLength(3)
  })

  it('applies the artifactType filter and says so in OCI-Filters-Applied', async () => {
    const type = encodeURIComponent('application/vnd.example.sbom.v1')
    const res = await raw(
      front.host,
      'GET',
      `/v2/${repo}/referrers/${baseDigest}?artifactType=${type}`
    )
    expect(res.status).toBe(200)
    expect(res.headers['oci-filters-applied']).toBe('artifactType')
    const doc = JSON.parse(res.body.toString()) as { manifests: { digest: string }[] }
    expect(doc.manifests.map(d => d.digest)).toEqual([pushed.typed!.digest])
  })

  it('answers an empty index (never 404) for a digest without referrers, 400 for a bad digest, and the registry 401 for a bad login', async () => {
    const none = await raw(front.host, 'GET', `/v2/${repo}/referrers/${sha256('nothing')}`)
    expect(none.status).toBe(200)
    expect(JSON.parse(none.body.toString())).toEqual({
      schemaVersion: 2,
      mediaType: INDEX,
      manifests: []
    })
    const bad = await raw(front.host, 'GET', `/v2/${repo}/referrers/sha256:not-hex`)
    expect(bad.status).toBe(400)
    const denied = await raw(front.host, 'GET', `/v2/${repo}/referrers/${baseDigest}`, {
      password: 'wrong-password'
    })
    expect(denied.status).toBe(401)
    expect(String(denied.headers['www-authenticate'])).toMatch(/^Basic realm=/)
  })

  it('pages with Link rel="next" when a page is smaller than the list', async () => {
    const paged = await startReferrersProxy(registry, { pageSize: 2 })
    try {
      // What the first front recorded is the first front's: the second one sees these
      // referrers again when they are pushed through it.
      for (const p of Object.values(pushed)) {
        const type = p.body.includes(`"mediaType":"${INDEX}"`) ? INDEX : MANIFEST
        const res = await raw(paged.host, 'PUT', `/v2/${repo}/manifests/${p.digest}`, {
          body: p.body,
          type
        })
        expect(res.headers['oci-subject']).toBe(baseDigest)
      }
      const seen: string[] = []
      let path: string | undefined = `/v2/${repo}/referrers/${baseDigest}`
      let pages = 0
      while (path) {
        const res = await raw(paged.host, 'GET', path)
        expect(res.status).toBe(200)
        pages++
        seen.push(
          ...(JSON.parse(res.body.toString()) as { manifests: { digest: string }[] }).manifests.map(
            d => d.digest
          )
        )
        path = /<([^>]+)>;\s*rel="next"/.exec(String(res.headers.link ?? ''))?.[1]
      }
      expect(pages).toBe(2)
      expect(seen.sort()).toEqual(
        Object.values(pushed)
          .map(p => p.digest)
          .sort()
      )
    } finally {
      await paged.stop()
    }
  })

  it('includes what a fallback index listed before the API, and drops a deleted manifest', async () => {
    // Written straight to the registry, bypassing the front: a referrer and its fallback index.
    const before = artifact(
      baseDigest,
      { artifactType: 'application/vnd.example.old.v1' },
      layer,
      config
    )
    expect(
      (
        await raw(registry.host, 'PUT', `/v2/${repo}/manifests/${sha256(before)}`, {
          body: before,
          type: MANIFEST
        })
      ).status
    ).toBe(201)
    const fallback = JSON.stringify({
      schemaVersion: 2,
      mediaType: INDEX,
      manifests: [{ mediaType: MANIFEST, digest: sha256(before), size: Buffer.byteLength(before) }]
    })
    const tag = baseDigest.replace(':', '-')
    expect(
      (
        await raw(registry.host, 'PUT', `/v2/${repo}/manifests/${tag}`, {
          body: fallback,
          type: INDEX
        })
      ).status
    ).toBe(201)
    const del = await raw(front.host, 'DELETE', `/v2/${repo}/manifests/${pushed.untyped!.digest}`)
    expect(del.status).toBe(202)
    const res = await raw(front.host, 'GET', `/v2/${repo}/referrers/${baseDigest}`)
    const doc = JSON.parse(res.body.toString()) as {
      manifests: { digest: string; artifactType?: string }[]
    }
    const digests = doc.manifests.map(d => d.digest)
    expect(digests).toContain(sha256(before))
    expect(doc.manifests.find(d => d.digest === sha256(before))?.artifactType).toBe(
      'application/vnd.example.old.v1'
    )
    expect(digests).not.toContain(pushed.untyped!.digest)
    expect(digests).toContain(pushed.typed!.digest)
  })
})

describe('the build and deploy bundles through the referrers API', () => {
  let ws: string
  let built: ActionRun

  function build(tags: string): Promise<ActionRun> {
    return runAction('build', {
      workspace: ws,
      runnerTemp: mkdtempSync(join(tmp, 'runner-temp-')),
      timeoutMs: 240_000,
      sha: git(ws, 'rev-parse', 'HEAD'),
      env: buildah.env,
      inputs: {
        context: 'svc',
        image: `${front.host}/acme/api`,
        'registry-username': USER,
        'registry-password': PASSWORD,
        'registry-ca-cert': registry.caPem!,
        backend: 'buildah',
        cache: 'none',
        tags,
        'signing-key': key.privatePem
      }
    })
  }

  /** The requests the front saw from `from` on. */
  const since = (from: number): string[] => front.log.slice(from)

  beforeAll(() => {
    ws = mkdtempSync(join(tmp, 'ws-'))
    mkdirSync(join(ws, 'svc'))
    cpSync(join(ROOT, 'test', 'fixtures', 'attest', 'debian12'), join(ws, 'svc', 'rootfs'), {
      recursive: true
    })
    writeFileSync(
      join(ws, 'svc', 'Dockerfile'),
      `FROM ${front.host}/base/busybox:1\nCOPY rootfs/ /\n`
    )
    git(ws, 'init', '-q', '-b', 'main')
    git(ws, 'add', '-A')
    git(ws, 'commit', '-q', '-m', 'init')
  })

  it('a build pushes signed provenance and SBOM as referrers the registry took: no fallback tag', async () => {
    const from = front.log.length
    built = await build('type=raw,value=v1')
    expect(built.main.errors).toEqual([])
    expect(built.main.warnings).toEqual([])
    const { digest, provenance, sbom } = built.main.outputs
    expect(provenance).toMatch(/^sha256:[0-9a-f]{64}$/)
    expect(sbom).toMatch(/^sha256:[0-9a-f]{64}$/)
    expect(built.main.stdout).toContain(
      `provenance ${provenance} (signed: key, listed by the referrers API)`
    )
    expect(built.main.stdout).toContain(`sbom ${sbom} (listed by the referrers API)`)
    // The registry itself holds no sha256-<hex> index, and the action asked for none.
    const tag = digest!.replace(':', '-')
    expect((await raw(registry.host, 'GET', `/v2/acme/api/manifests/${tag}`)).status).toBe(404)
    expect(since(from).filter(l => l.includes(`/manifests/${tag}`))).toEqual([])
    // The API lists both, as the front recorded them from the PUTs.
    const listed = front.referrers('acme/api', digest!)
    expect(listed.map(d => d.digest).sort()).toEqual([provenance, sbom].sort())
    expect(listed.every(d => d.artifactType === DSSE)).toBe(true)
    expect(listed.map(d => d.annotations?.['in-toto.io/predicate-type']).sort()).toEqual(
      [SLSA, SPDX].sort()
    )
    // openssl, not Conveyor, judges the signature.
    const prov = await readReferrer(client, 'acme/api', provenance!)
    expect(prov.manifest.subject.digest).toBe(digest)
    const statement = opensslVerifyEnvelope(prov.layer, key.publicFile, tmp) as {
      subject: { digest: { sha256: string } }[]
    }
    expect(statement.subject[0]!.digest.sha256).toBe(digest!.slice(7))
  }, 300_000)

  it('a promotion finds both through GET /v2/<name>/referrers/<digest>', async () => {
    const from = front.log.length
    const again = await build('type=raw,value=v2')
    expect(again.main.errors).toEqual([])
    expect(again.main.warnings).toEqual([])
    expect(again.main.outputs.reused).toBe('true')
    const digest = built.main.outputs.digest!
    expect(again.main.outputs.digest).toBe(digest)
    expect(again.main.outputs.provenance).toBe(built.main.outputs.provenance)
    expect(again.main.outputs.sbom).toBe(built.main.outputs.sbom)
    const requests = since(from)
    expect(requests).toContain(`GET /v2/acme/api/referrers/${digest} 200`)
    expect(requests.filter(l => l.includes(digest.replace(':', '-')))).toEqual([])
    // Nothing new was attached.
    expect(front.referrers('acme/api', digest)).toHaveLength(2)
  }, 300_000)

  it('deploy verify: provenance accepts the image through the API, and refuses it with another key', async () => {
    const config = makeRepo({
      'deploy/kustomization.yaml': `resources:\n  - deployment.yaml\nimages:\n  - name: app\n    newName: ${front.host}/acme/api\n    newTag: v0\n`,
      'deploy/deployment.yaml':
        'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  selector:\n    matchLabels: {app: app}\n  template:\n    metadata:\n      labels: {app: app}\n    spec:\n      containers:\n        - name: app\n          image: app\n'
    })
    config.push('main')
    const deploy = (verifyKey: string): Promise<ActionRun> =>
      runAction('deploy', {
        workspace: ws,
        runnerTemp: mkdtempSync(join(tmp, 'runner-temp-')),
        sha: git(ws, 'rev-parse', 'HEAD'),
        inputs: {
          repository: config.url,
          images: `app=${front.host}/acme/api:v1`,
          targets: 'kustomize:deploy',
          verify: 'provenance',
          'verify-key': verifyKey,
          'registry-username': USER,
          'registry-password': PASSWORD,
          'registry-ca-cert': registry.caPem!
        }
      })
    const digest = built.main.outputs.digest!
    const before = sh(config.origin, ['rev-parse', 'main'])
    const refusedFrom = front.log.length
    const refused = await deploy(opensslKeyPair(tmp).publicPem)
    expect(refused.main.code).not.toBe(0)
    expect(refused.main.errors[0]).toMatch(
      /^app \(.*acme\/api:v1\): check "signature" failed: no signature verifies with the given key/
    )
    expect(sh(config.origin, ['rev-parse', 'main'])).toBe(before)
    expect(since(refusedFrom).some(l => l.startsWith(`GET /v2/acme/api/referrers/${digest}`))).toBe(
      true
    )

    const from = front.log.length
    const run = await deploy(key.publicPem)
    expect(run.main.errors).toEqual([])
    expect(run.main.outputs.result).toBe('pushed')
    expect(run.main.stdout).toContain(`resolves to ${digest}`)
    expect(run.main.stdout).toMatch(/verified: .*built from https:\/\/github.com\/acme\/shop/)
    const requests = since(from)
    expect(requests.filter(l => l.startsWith(`GET /v2/acme/api/referrers/${digest}`))).toEqual([
      `GET /v2/acme/api/referrers/${digest} 200`
    ])
    expect(requests.filter(l => l.includes(digest.replace(':', '-')))).toEqual([])
    expect(sh(config.origin, ['show', 'main:deploy/kustomization.yaml'])).toContain('newTag: v1')
  }, 180_000)
})
