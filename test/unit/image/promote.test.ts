/**
 * A promotion through the registry API (src/image/promote.ts), against the in-memory
 * OCI registry stub: the manifest under the context tag is PUT under every new tag, the
 * lookup that runs beside it goes out first (without the referrers API it is two round
 * trips one after the other, the longest path of a promotion), and nothing is promoted
 * when the context tag is absent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { memoryLogger } from '../../../src/core/logger.js'
import { listReferrers, pushBlob } from '../../../src/image/attest/referrers.js'
import { promoteBuilt } from '../../../src/image/promote.js'
import { MediaTypes, RegistryClient, sha256Digest } from '../../../src/image/registry.js'
import { parseImageRef } from '../../../src/model/image-ref.js'
import { startOciRegistry, type OciRegistry } from '../../support/oci-registry.js'

let stub: OciRegistry
let client: RegistryClient
let manifestDigest: string

beforeAll(async () => {
  stub = await startOciRegistry({ referrersApi: false })
  client = new RegistryClient({ registry: stub.host, insecure: true })
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux' }))
  await pushBlob(client, 'acme/app', config, sha256Digest(config))
  const body = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: sha256Digest(config),
        size: config.length
      },
      layers: []
    })
  )
  manifestDigest = await client.putManifest('acme/app', 'ctx-1', body, MediaTypes.ociManifest)
})

afterAll(async () => {
  await client?.close()
  await stub?.stop()
})

describe('promoteBuilt', () => {
  it('tags the manifest of the context tag, the referrers lookup going out before the PUTs', async () => {
    const log = memoryLogger()
    const from = stub.log.length
    const image = parseImageRef(`${stub.host}/acme/app`)
    const promoted = await promoteBuilt(client, image, 'ctx-1', ['v1', 'latest'], 'app', log, m =>
      listReferrers(client, 'acme/app', m.digest)
    )
    expect(promoted?.manifest.digest).toBe(manifestDigest)
    expect(promoted?.found).toEqual({ referrers: [], via: 'tag' })
    const tag = manifestDigest.replace(':', '-')
    const seen = stub.log.slice(from)
    expect(seen.slice(0, 2)).toEqual([
      'GET /v2/acme/app/manifests/ctx-1',
      `GET /v2/acme/app/referrers/${manifestDigest}`
    ])
    // Then the PUTs, and the fallback tag once the API answered 404 (in the order answers come).
    expect(seen.slice(2).sort()).toEqual(
      [
        'PUT /v2/acme/app/manifests/v1',
        'PUT /v2/acme/app/manifests/latest',
        `GET /v2/acme/app/manifests/${tag}`
      ].sort()
    )
    expect(stub.tags.get('acme/app:v1')).toBe(manifestDigest)
    expect(stub.tags.get('acme/app:latest')).toBe(manifestDigest)
    expect(log.text()).toContain(`tagged acme/app:v1 -> ${manifestDigest}`)
  })

  it('promotes nothing when the context tag is absent', async () => {
    const log = memoryLogger()
    const from = stub.log.length
    let asked = false
    const image = parseImageRef(`${stub.host}/acme/app`)
    const promoted = await promoteBuilt(client, image, 'ctx-2', ['v2'], 'app', log, async () => {
      asked = true
    })
    expect(promoted).toBeUndefined()
    expect(asked).toBe(false)
    expect(stub.log.slice(from)).toEqual(['GET /v2/acme/app/manifests/ctx-2'])
  })
})
