/**
 * The registry client: the Bearer token flow against a loopback token service (the
 * real distribution registry does Basic only, tested in the e2e suite and below),
 * 401 vs 403, retries of 5xx/429 through the fault proxy in front of a real
 * registry, a rejected tag, pagination, and digest checks.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  MediaTypes,
  parseChallenge,
  RegistryAuthError,
  RegistryClient,
  RegistryError,
  sha256Digest
} from '../../../src/image/registry.js'
import { secrets } from '../../../src/core/secrets.js'
import { startFaultProxy } from '../../support/fault-proxy.js'
import { startRegistry, type TestRegistry } from '../../support/registry.js'

describe('parseChallenge', () => {
  it.each([
    [
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"',
      {
        scheme: 'bearer',
        params: {
          realm: 'https://auth.docker.io/token',
          service: 'registry.docker.io',
          scope: 'repository:library/alpine:pull'
        }
      }
    ],
    ['Basic realm="conveyor-test"', { scheme: 'basic', params: { realm: 'conveyor-test' } }],
    [
      'Bearer realm=https://x/token, service=y',
      { scheme: 'bearer', params: { realm: 'https://x/token', service: 'y' } }
    ]
  ])('%s', (header, expected) => {
    expect(parseChallenge(header)).toEqual(expected)
  })
  it('undefined for nothing', () => {
    expect(parseChallenge(undefined)).toBeUndefined()
  })
})

const TOKEN = 'tok-' + 'q'.repeat(20) + '-registry-issued'
const manifest = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    config: { size: 2 },
    layers: []
  })
)
const manifestDigest = sha256Digest(manifest)

/** A registry that wants Bearer tokens from its own token endpoint. */
function fakeTokenRegistry(): Promise<{
  server: Server
  url: string
  log: string[]
  stored: Map<string, Buffer>
}> {
  const log: string[] = []
  const stored = new Map<string, Buffer>([['acme/app:v1', manifest]])
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const url = new URL(req.url!, 'http://x')
      const auth = req.headers.authorization ?? ''
      log.push(`${req.method} ${url.pathname}${url.search} ${auth.split(' ')[0] ?? ''}`)
      const base = `http://${req.headers.host}`
      if (url.pathname === '/token') {
        const basic = Buffer.from(auth.replace(/^Basic /, ''), 'base64').toString()
        if (basic !== 'robot:robot-pass-123') {
          res.writeHead(401).end()
          return
        }
        const scope = url.searchParams.get('scope') ?? ''
        // The robot may push to acme/app only.
        const granted = scope.startsWith('repository:acme/app:')
          ? scope
          : scope.replace(/,push$/, '')
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ token: `${TOKEN}|${granted}` }))
        return
      }
      const challenge = (scope?: string) =>
        `Bearer realm="${base}/token",service="fake"${scope ? `,scope="${scope}"` : ''}`
      const m = /^\/v2\/(.+)\/(manifests|tags)\/(.+)$/.exec(url.pathname)
      const repo = m?.[1] ?? ''
      const action = req.method === 'PUT' ? 'pull,push' : 'pull'
      const scope = m ? `repository:${repo}:${action}` : undefined
      if (!auth.startsWith(`Bearer ${TOKEN}`)) {
        res.writeHead(401, { 'www-authenticate': challenge(scope) }).end()
        return
      }
      const granted = auth.split('|')[1] ?? ''
      if (
        scope &&
        !granted
          .split(':')[2]
          ?.split(',')
          .includes(req.method === 'PUT' ? 'push' : 'pull')
      ) {
        res.writeHead(403, { 'content-type': 'application/json' })
        res.end(
          JSON.stringify({
            errors: [{ code: 'DENIED', message: 'requested access to the resource is denied' }]
          })
        )
        return
      }
      if (url.pathname === '/v2/') {
        res.writeHead(200).end('{}')
        return
      }
      if (m?.[2] === 'tags') {
        const page = url.searchParams.get('last')
        if (!page) {
          res.writeHead(200, { link: `</v2/${repo}/tags/list?n=2&last=b>; rel="next"` })
          res.end(JSON.stringify({ name: repo, tags: ['a', 'b'] }))
        } else res.writeHead(200).end(JSON.stringify({ name: repo, tags: ['c'] }))
        return
      }
      const key = `${repo}:${m?.[3]}`
      if (req.method === 'PUT') {
        if (m?.[3] === 'bad..tag') {
          res.writeHead(400, { 'content-type': 'application/json' })
          res.end(
            JSON.stringify({
              errors: [{ code: 'TAG_INVALID', message: 'manifest tag did not match URI' }]
            })
          )
          return
        }
        const body = Buffer.concat(chunks)
        stored.set(key, body)
        res
          .writeHead(201, {
            'docker-content-digest':
              m?.[3] === 'lying' ? 'sha256:' + '0'.repeat(64) : sha256Digest(body)
          })
          .end()
        return
      }
      const found = stored.get(key) ?? [...stored.values()].find(b => sha256Digest(b) === m?.[3])
      if (!found) {
        res
          .writeHead(404, { 'content-type': 'application/json' })
          .end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN' }] }))
        return
      }
      res.writeHead(200, {
        'content-type': MediaTypes.ociManifest,
        'docker-content-digest': sha256Digest(found),
        'content-length': String(found.length)
      })
      res.end(req.method === 'HEAD' ? undefined : found)
    })
  })
  return new Promise(resolve =>
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as AddressInfo).port
      resolve({ server, url: `127.0.0.1:${port}`, log, stored })
    })
  )
}

describe('Bearer token flow', () => {
  let fake: Awaited<ReturnType<typeof fakeTokenRegistry>>
  beforeAll(async () => {
    fake = await fakeTokenRegistry()
  })
  afterAll(() => new Promise<void>(r => fake.server.close(() => r())))

  const client = (password = 'robot-pass-123') =>
    new RegistryClient({
      registry: fake.url,
      username: 'robot',
      password,
      insecure: true,
      retries: 0
    })

  it('gets a token with Basic credentials, registers it, reads and writes manifests', async () => {
    const c = client()
    expect(await c.ping()).toEqual({ authScheme: 'bearer' })
    const head = await c.headManifest('acme/app', 'v1')
    expect(head).toEqual({
      digest: manifestDigest,
      mediaType: MediaTypes.ociManifest,
      size: manifest.length
    })
    const got = await c.getManifest('acme/app', manifestDigest)
    expect(got?.body.equals(manifest)).toBe(true)
    expect(await c.putManifest('acme/app', 'v2', manifest, MediaTypes.ociManifest)).toBe(
      manifestDigest
    )
    expect(fake.stored.get('acme/app:v2')?.equals(manifest)).toBe(true)
    expect(await c.headManifest('acme/app', 'nope')).toBeUndefined()
    expect(await c.listTags('acme/app')).toEqual(['a', 'b', 'c'])
    // The token is a secret the moment it arrives.
    const issued = `${TOKEN}|repository:acme/app:pull`
    expect(secrets.redact(`Authorization: Bearer ${issued}`)).toBe('Authorization: Bearer ***')
    // Tokens are cached per scope: one token request per scope, not per call.
    const tokenCalls = fake.log.filter(l => l.startsWith('GET /token'))
    expect(tokenCalls.length).toBeLessThanOrEqual(4)
    await c.close()
  })

  it('401 from the token service: the login failed', async () => {
    const c = client('wrong-password-1')
    const error = await c.ping().then(
      () => new Error('no error'),
      (e: unknown) => e as Error
    )
    expect(error).toBeInstanceOf(RegistryAuthError)
    expect((error as RegistryAuthError).status).toBe(401)
    expect(error.message).toMatch(
      /rejected the login of user "robot".*check registry-username and registry-password/
    )
    await c.close()
  })

  it('403 on push: logged in, but no push permission', async () => {
    const c = client()
    const error = await c.putManifest('other/repo', 'v1', manifest, MediaTypes.ociManifest).then(
      () => new Error('no error'),
      (e: unknown) => e as Error
    )
    expect(error).toBeInstanceOf(RegistryAuthError)
    expect((error as RegistryAuthError).status).toBe(403)
    expect(error.message).toMatch(/logged in but not allowed to push to other\/repo \(HTTP 403\)/)
    await c.close()
  })

  it('a tag the registry rejects is a RegistryError with its code', async () => {
    const c = client()
    const error = await c
      .putManifest('acme/app', 'bad..tag', manifest, MediaTypes.ociManifest)
      .then(
        () => new Error('no error'),
        (e: unknown) => e as Error
      )
    expect(error).toBeInstanceOf(RegistryError)
    expect((error as RegistryError).code).toBe('TAG_INVALID')
    expect(error.message).toMatch(/HTTP 400: TAG_INVALID/)
    await c.close()
  })

  it('a registry that stores something else than was sent is caught', async () => {
    const c = client()
    await expect(
      c.putManifest('acme/app', 'lying', manifest, MediaTypes.ociManifest)
    ).rejects.toThrow(/stored acme\/app:lying as sha256:0+, expected/)
    await c.close()
  })
})

describe('against a real registry', () => {
  let reg: TestRegistry
  beforeAll(async () => {
    reg = await startRegistry({ tls: false })
  }, 60_000)
  afterAll(async () => {
    await reg?.stop()
  })

  it('retries 503 and 429 (Retry-After) and then succeeds', async () => {
    const proxy = await startFaultProxy(reg.url, {
      rules: [
        { match: r => r.url === '/v2/', times: 2, fault: { kind: 'status', status: 503 } },
        {
          match: r => r.url.includes('/manifests/'),
          times: 1,
          fault: { kind: 'status', status: 429, retryAfter: '0' }
        }
      ]
    })
    const c = new RegistryClient({
      registry: `127.0.0.1:${proxy.port}`,
      insecure: true,
      backoffMs: 10
    })
    try {
      expect(await c.ping()).toEqual({ authScheme: 'none' })
      expect(await c.headManifest('acme/none', 'v1')).toBeUndefined()
      expect(proxy.seen.filter(s => s.url === '/v2/').length).toBe(3)
      expect(proxy.seen.filter(s => s.url.includes('/manifests/')).length).toBe(2)
    } finally {
      await c.close()
      await proxy.close()
    }
  })

  it('gives up after the retries with the status', async () => {
    const proxy = await startFaultProxy(reg.url, {
      rules: [{ fault: { kind: 'status', status: 502 } }]
    })
    const c = new RegistryClient({
      registry: `127.0.0.1:${proxy.port}`,
      insecure: true,
      retries: 2,
      backoffMs: 5
    })
    try {
      await expect(c.ping()).rejects.toThrow(/GET \/v2\/ answered HTTP 502/)
      // The TLS probe fails at the handshake (plain HTTP); then one try and two retries.
      expect(proxy.seen.map(s => `${s.method} ${s.url} ${s.status}`)).toEqual(
        Array(3).fill('GET /v2/ 502')
      )
    } finally {
      await c.close()
      await proxy.close()
    }
  })

  it('an unreachable registry says so', async () => {
    const c = new RegistryClient({ registry: '127.0.0.1:9', retries: 0 })
    await expect(c.ping()).rejects.toThrow(/registry 127\.0\.0\.1:9 unreachable: .*ECONNREFUSED/)
    await c.close()
  })

  it('an unknown repository has no tags', async () => {
    const c = new RegistryClient({ registry: reg.host, insecure: true })
    expect(await c.listTags('acme/nothing')).toEqual([])
    expect(await c.blobExists('acme/nothing', `sha256:${'1'.repeat(64)}`)).toBe(false)
    await c.close()
  })
})
