/**
 * Attestations as OCI 1.1 referrers, against the real TLS + htpasswd distribution
 * registry (2.8: no referrers API, no OCI-Subject header, so the fallback tag
 * `sha256-<hex>` is what runs) and against the in-memory stub that serves the referrers
 * API and conditional writes. Push, list, filter, read back, keep others' entries, refuse
 * to overwrite a tag that is no index, converge under concurrent writers, and verify
 * provenance with each check failing in turn. Also measures one image's attestation cost.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { pae, parseEnvelope } from '../../../../src/image/attest/dsse.js'
import {
  parseSigningKey,
  parseVerifyKey,
  type SigningKey
} from '../../../../src/image/attest/keys.js'
import {
  attestationManifest,
  EMPTY_CONFIG,
  PREDICATE_TYPE_ANNOTATION,
  referrersTag,
  statementBlob,
  type Descriptor
} from '../../../../src/image/attest/oci.js'
import { provenanceStatement, type WorkflowRun } from '../../../../src/image/attest/provenance.js'
import {
  addToReferrersTag,
  fetchAttestation,
  listReferrers,
  pushAttestations,
  pushBlob
} from '../../../../src/image/attest/referrers.js'
import { sbomOfRootfs } from '../../../../src/image/attest/sbom.js'
import { makeStatement } from '../../../../src/image/attest/statement.js'
import { checkProvenance, verifyImageProvenance } from '../../../../src/image/attest/verify.js'
import {
  MediaTypes,
  RegistryClient,
  RegistryError,
  sha256Digest
} from '../../../../src/image/registry.js'
import { startOciRegistry, type OciRegistry } from '../../../support/oci-registry.js'
import { startRegistry, type TestRegistry } from '../../../support/registry.js'

const FIXTURES = join(import.meta.dirname, '..', '..', '..', 'fixtures', 'attest')
const tmp = mkdtempSync(join(tmpdir(), 'conveyor-referrers-'))
const SHA = '0123456789abcdef0123456789abcdef01234567'
const run: WorkflowRun = {
  serverUrl: 'https://github.com',
  repository: 'acme/shop',
  ref: 'refs/heads/main',
  sha: SHA,
  workflowRef: 'acme/shop/.github/workflows/ci.yml@refs/heads/main',
  runId: '42',
  runAttempt: '1',
  eventName: 'push'
}

function genKey(name: string): { key: SigningKey; pubPem: string; file: string } {
  const file = join(tmp, `${name}.pem`)
  execFileSync('openssl', [
    'genpkey',
    '-algorithm',
    'EC',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-out',
    file
  ])
  const pubPem = execFileSync('openssl', ['pkey', '-in', file, '-pubout']).toString()
  return { key: parseSigningKey(readFileSync(file, 'utf8')), pubPem, file }
}
const signer = genKey('signer')
const stranger = genKey('stranger')

let imageNo = 0
/** Push a small image; its manifest descriptor. */
async function pushImage(client: RegistryClient, repo: string): Promise<Descriptor> {
  const layer = Buffer.from(`layer ${++imageNo} ${Math.random()}`)
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [sha256Digest(layer)] }
    })
  )
  await pushBlob(client, repo, layer, sha256Digest(layer))
  await pushBlob(client, repo, config, sha256Digest(config))
  const body = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: sha256Digest(config),
        size: config.length
      },
      layers: [
        {
          mediaType: 'application/vnd.oci.image.layer.v1.tar',
          digest: sha256Digest(layer),
          size: layer.length
        }
      ]
    })
  )
  const digest = await client.putManifest(repo, `v${imageNo}`, body, MediaTypes.ociManifest)
  return { mediaType: MediaTypes.ociManifest, digest, size: body.length }
}

function attestationsFor(
  image: string,
  subject: Descriptor,
  key?: SigningKey,
  r: WorkflowRun = run
) {
  const provenance = provenanceStatement(r, { image, digest: subject.digest, service: 'cart' })
  const sbom = sbomOfRootfs(join(FIXTURES, 'debian12'), image, subject.digest).statement
  return [statementBlob(provenance, key), statementBlob(sbom, key)]
}

describe('the real distribution registry 2.8 (TLS + htpasswd): the fallback tag', () => {
  let reg: TestRegistry
  let client: RegistryClient
  beforeAll(async () => {
    reg = await startRegistry({ users: { alice: 'alice-registry-pw' } })
    client = new RegistryClient({
      registry: reg.host,
      username: 'alice',
      password: 'alice-registry-pw',
      ca: reg.caPem
    })
  })
  afterAll(async () => {
    await client?.close()
    await reg?.stop()
    rmSync(tmp, { recursive: true, force: true })
  })

  it('accepts the attestation manifest (artifactType, subject, empty config) and sends no OCI-Subject', async () => {
    const subject = await pushImage(client, 'acme/cart')
    const [blob] = attestationsFor(`${reg.host}/acme/cart`, subject, signer.key)
    const m = attestationManifest(subject, blob!)
    await pushBlob(client, 'acme/cart', Buffer.from('{}'), EMPTY_CONFIG.digest)
    await pushBlob(client, 'acme/cart', blob!.bytes, m.layer.digest)
    const res = await client.pushManifest('acme/cart', m.digest, m.body, MediaTypes.ociManifest)
    expect(res.digest).toBe(m.digest)
    expect(res.headers['oci-subject']).toBeUndefined()
    // and it has no referrers API: the route is a 404
    const api = await client.request(
      'acme/cart',
      `/v2/acme/cart/referrers/${subject.digest}`,
      {},
      'pull',
      'probe'
    )
    expect(api.status).toBe(404)
    // the stored manifest is byte for byte ours, fields it does not know included
    const back = await client.getManifest('acme/cart', m.digest)
    expect(JSON.parse(back!.body.toString())).toMatchObject({
      artifactType: 'application/vnd.dsse.envelope.v1+json',
      subject: { digest: subject.digest },
      config: EMPTY_CONFIG
    })
  })

  it('pushes provenance and SBOM, lists them through the tag, reads them back; openssl verifies the signature', async () => {
    const subject = await pushImage(client, 'acme/cart')
    const blobs = attestationsFor(`${reg.host}/acme/cart`, subject, signer.key)
    const pushed = await pushAttestations(client, 'acme/cart', subject, blobs)
    expect(pushed.via).toBe('tag')
    const tag = await client.getManifest('acme/cart', referrersTag(subject.digest))
    expect(tag?.mediaType).toBe(MediaTypes.ociIndex)
    const all = await listReferrers(client, 'acme/cart', subject.digest)
    expect(all.via).toBe('tag')
    expect(all.referrers.map(d => d.digest)).toEqual(pushed.manifests.map(d => d.digest))
    expect(all.referrers[0]).toMatchObject({
      artifactType: 'application/vnd.dsse.envelope.v1+json',
      annotations: { [PREDICATE_TYPE_ANNOTATION]: 'https://slsa.dev/provenance/v1' }
    })
    const sbomOnly = await listReferrers(client, 'acme/cart', subject.digest, {
      predicateType: 'https://spdx.dev/Document/v2.3'
    })
    expect(sbomOnly.referrers).toHaveLength(1)
    const att = await fetchAttestation(client, 'acme/cart', sbomOnly.referrers[0]!)
    const env = parseEnvelope(att.bytes)
    const statement = JSON.parse(Buffer.from(env.payload, 'base64').toString()) as {
      predicate: { packages: { name: string }[] }
    }
    expect(statement.predicate.packages.map(p => p.name)).toContain('libc6')
    // the real consumer: openssl
    writeFileSync(join(tmp, 'pub.pem'), signer.pubPem)
    writeFileSync(join(tmp, 'pae.bin'), pae(env.payloadType, Buffer.from(env.payload, 'base64')))
    writeFileSync(join(tmp, 'sig.der'), Buffer.from(env.signatures[0]!.sig, 'base64'))
    expect(
      execFileSync(
        'openssl',
        ['dgst', '-sha256', '-verify', 'pub.pem', '-signature', 'sig.der', 'pae.bin'],
        { cwd: tmp }
      ).toString()
    ).toContain('Verified OK')
  })

  it('pushing the same attestation again lists it once; entries others wrote stay as they were', async () => {
    const subject = await pushImage(client, 'acme/cart')
    // another tool's referrer (the registry checks that an index's entries exist), listed
    // with fields and annotations we do not know
    const sig = makeStatement(
      [{ name: 'x', digest: { sha256: subject.digest.slice(7) } }],
      'https://example.com/sig',
      {}
    )
    const other = attestationManifest(subject, {
      ...statementBlob(sig),
      mediaType: 'application/vnd.example.sig'
    })
    await pushBlob(client, 'acme/cart', Buffer.from(JSON.stringify(sig)), other.layer.digest)
    await pushBlob(client, 'acme/cart', Buffer.from('{}'), EMPTY_CONFIG.digest)
    await client.putManifest('acme/cart', other.digest, other.body, MediaTypes.ociManifest)
    const foreign = {
      ...other.descriptor,
      annotations: { 'org.example.k': 'v' },
      'x-extra': [1, 2]
    }
    const start = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.ociIndex,
        manifests: [foreign],
        annotations: { 'org.example.owner': 'other' }
      })
    )
    await client.putManifest('acme/cart', referrersTag(subject.digest), start, MediaTypes.ociIndex)
    const unsigned = attestationsFor(`${reg.host}/acme/cart`, subject)
    await pushAttestations(client, 'acme/cart', subject, unsigned)
    await pushAttestations(client, 'acme/cart', subject, unsigned)
    const tag = JSON.parse(
      (await client.getManifest('acme/cart', referrersTag(subject.digest)))!.body.toString()
    ) as { manifests: Descriptor[]; annotations: object }
    expect(tag.manifests).toHaveLength(3)
    expect(tag.manifests[0]).toEqual(foreign)
    expect(tag.annotations).toEqual({ 'org.example.owner': 'other' })
    expect(tag.manifests.slice(1).map(d => d.artifactType)).toEqual([
      'application/vnd.in-toto+json',
      'application/vnd.in-toto+json'
    ])
  })

  it("writers one after another each keep the others' entries", async () => {
    const subject = await pushImage(client, 'acme/cart')
    for (let i = 0; i < 3; i++) {
      const s = makeStatement(
        [{ name: `${reg.host}/acme/cart`, digest: { sha256: subject.digest.slice(7) } }],
        `https://example.com/p${i}`,
        { i }
      )
      await pushAttestations(client, 'acme/cart', subject, [statementBlob(s, signer.key)])
    }
    const { referrers } = await listReferrers(client, 'acme/cart', subject.digest)
    expect(referrers.map(d => d.annotations?.[PREDICATE_TYPE_ANNOTATION])).toEqual([
      'https://example.com/p0',
      'https://example.com/p1',
      'https://example.com/p2'
    ])
  })

  it('a referrers tag that holds something else is not overwritten', async () => {
    const subject = await pushImage(client, 'acme/cart')
    const other = await pushImage(client, 'acme/cart')
    const body = (await client.getManifest('acme/cart', other.digest))!.body
    await client.putManifest(
      'acme/cart',
      referrersTag(subject.digest),
      body,
      MediaTypes.ociManifest
    )
    await expect(
      pushAttestations(
        client,
        'acme/cart',
        subject,
        attestationsFor(`${reg.host}/acme/cart`, subject)
      )
    ).rejects.toThrow(/holds something else .* not overwriting it/)
    expect((await client.headManifest('acme/cart', referrersTag(subject.digest)))!.digest).toBe(
      other.digest
    )
  })

  it('distribution 2.8 ignores If-Match on a manifest PUT (so the read-back check is what catches a lost entry)', async () => {
    const subject = await pushImage(client, 'acme/cart')
    const index = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [] })
    )
    const res = await client.pushManifest(
      'acme/cart',
      referrersTag(subject.digest),
      index,
      MediaTypes.ociIndex,
      { 'if-match': '"sha256:0000"' }
    )
    expect(res.conflict).toBeUndefined()
  })

  it('verifies provenance: a signed image passes; each failure names its check', async () => {
    const image = `${reg.host}/acme/cart`
    const policy = (digest: string) => ({
      digest,
      publicKey: parseVerifyKey(signer.pubPem),
      allowedRepositories: ['acme/shop'],
      serverUrl: 'https://github.com'
    })
    const good = await pushImage(client, 'acme/cart')
    await pushAttestations(client, 'acme/cart', good, attestationsFor(image, good, signer.key))
    const ok = await verifyImageProvenance(client, 'acme/cart', policy(good.digest))
    expect(ok).toMatchObject({
      ok: true,
      source: {
        repository: 'https://github.com/acme/shop',
        commit: SHA,
        builder: 'https://github.com/acme/shop/.github/workflows/ci.yml@refs/heads/main'
      }
    })
    expect(ok.checks.map(c => c.check)).toEqual([
      'found',
      'signature',
      'statement',
      'subject',
      'repository',
      'commit'
    ])

    const bare = await pushImage(client, 'acme/cart')
    expect(
      (await verifyImageProvenance(client, 'acme/cart', policy(bare.digest))).failed
    ).toMatchObject({
      check: 'found',
      detail: expect.stringMatching(/no SLSA provenance attestation refers to sha256:/)
    })

    const unsigned = await pushImage(client, 'acme/cart')
    await pushAttestations(client, 'acme/cart', unsigned, attestationsFor(image, unsigned))
    expect(
      (await verifyImageProvenance(client, 'acme/cart', policy(unsigned.digest))).failed
    ).toMatchObject({ check: 'signature', detail: expect.stringMatching(/not signed/) })

    const otherKey = await pushImage(client, 'acme/cart')
    await pushAttestations(
      client,
      'acme/cart',
      otherKey,
      attestationsFor(image, otherKey, stranger.key)
    )
    expect(
      (await verifyImageProvenance(client, 'acme/cart', policy(otherKey.digest))).failed
    ).toMatchObject({
      check: 'signature',
      detail: expect.stringMatching(/no signature verifies with the given key/)
    })

    const otherRepo = await pushImage(client, 'acme/cart')
    await pushAttestations(
      client,
      'acme/cart',
      otherRepo,
      attestationsFor(image, otherRepo, signer.key, {
        ...run,
        repository: 'evil/fork',
        workflowRef: 'evil/fork/.github/workflows/ci.yml@refs/heads/main'
      })
    )
    expect(
      (await verifyImageProvenance(client, 'acme/cart', policy(otherRepo.digest))).failed
    ).toMatchObject({
      check: 'repository',
      detail: 'built from "https://github.com/evil/fork", expected https://github.com/acme/shop'
    })

    // provenance of another image, attached (by mistake or malice) to this digest
    const victim = await pushImage(client, 'acme/cart')
    const [prov] = attestationsFor(image, good, signer.key)
    await pushAttestations(client, 'acme/cart', victim, [prov!])
    expect(
      (await verifyImageProvenance(client, 'acme/cart', policy(victim.digest))).failed
    ).toMatchObject({
      check: 'subject',
      detail: expect.stringContaining(`no subject has digest ${victim.digest}`)
    })
  })

  it('costs little per image: sign provenance + SBOM and push them (measured)', async () => {
    const times: number[] = []
    for (let i = 0; i < 5; i++) {
      const subject = await pushImage(client, 'acme/bench')
      const t0 = performance.now()
      const blobs = attestationsFor(`${reg.host}/acme/bench`, subject, signer.key)
      await pushAttestations(client, 'acme/bench', subject, blobs)
      times.push(performance.now() - t0)
    }
    times.sort((a, b) => a - b)
    console.log(
      `attestations per image (provenance + SBOM, signed, pushed, fallback tag): min ${times[0]!.toFixed(1)} ms, median ${times[2]!.toFixed(1)} ms, max ${times[4]!.toFixed(1)} ms`
    )
    // The target is 150 ms (issue 19); the bound here is loose so a loaded machine does not fail it.
    expect(times[2]).toBeLessThan(1000)
  })
})

describe('a registry with the referrers API (the stub)', () => {
  let stub: OciRegistry
  let client: RegistryClient
  beforeAll(async () => {
    stub = await startOciRegistry({ pageSize: 1 })
    client = new RegistryClient({ registry: stub.host, insecure: true })
  })
  afterAll(async () => {
    await client?.close()
    await stub?.stop()
  })

  it('takes the subject itself: OCI-Subject answered, no fallback tag written, listed through the API (paged)', async () => {
    const subject = await pushImage(client, 'acme/cart')
    const pushed = await pushAttestations(
      client,
      'acme/cart',
      subject,
      attestationsFor(`${stub.host}/acme/cart`, subject, signer.key)
    )
    expect(pushed.via).toBe('api')
    expect(stub.tags.has(`acme/cart:${referrersTag(subject.digest)}`)).toBe(false)
    const all = await listReferrers(client, 'acme/cart', subject.digest)
    expect(all).toMatchObject({ via: 'api' })
    expect(all.referrers.map(d => d.digest).sort()).toEqual(
      pushed.manifests.map(d => d.digest).sort()
    )
    expect(stub.log.filter(l => l.includes('/referrers/') && l.includes('page=1'))).toHaveLength(1)
    const v = await verifyImageProvenance(client, 'acme/cart', {
      digest: subject.digest,
      publicKey: parseVerifyKey(signer.pubPem),
      allowedRepositories: ['ACME/Shop']
    })
    expect(v.ok).toBe(true)
  })

  it('asks the registry to filter by artifactType, and filters itself when the registry does not', async () => {
    const subject = await pushImage(client, 'acme/cart')
    await pushAttestations(client, 'acme/cart', subject, [
      ...attestationsFor(`${stub.host}/acme/cart`, subject, signer.key),
      ...attestationsFor(`${stub.host}/acme/cart`, subject)
    ])
    const dsse = await listReferrers(client, 'acme/cart', subject.digest, {
      artifactType: 'application/vnd.dsse.envelope.v1+json'
    })
    expect(dsse.referrers).toHaveLength(2)
    expect(stub.log.at(-1)).toMatch(/artifactType=application%2Fvnd\.dsse\.envelope\.v1%2Bjson/)
    const noFilter = await startOciRegistry({ filter: false })
    const c2 = new RegistryClient({ registry: noFilter.host, insecure: true })
    try {
      const s2 = await pushImage(c2, 'a/b')
      await pushAttestations(c2, 'a/b', s2, [
        ...attestationsFor(`${noFilter.host}/a/b`, s2, signer.key),
        ...attestationsFor(`${noFilter.host}/a/b`, s2)
      ])
      const list = await listReferrers(c2, 'a/b', s2.digest, {
        artifactType: 'application/vnd.in-toto+json'
      })
      expect(list.referrers.map(d => d.artifactType)).toEqual([
        'application/vnd.in-toto+json',
        'application/vnd.in-toto+json'
      ])
    } finally {
      await c2.close()
      await noFilter.stop()
    }
  })
})

describe('the fallback tag under concurrent writers (a registry without the API, with conditional writes)', () => {
  it('eight writers at once: every entry lands', async () => {
    const stub = await startOciRegistry({ referrersApi: false, conditional: true })
    const client = new RegistryClient({ registry: stub.host, insecure: true })
    try {
      const subject = await pushImage(client, 'acme/cart')
      const descriptors = Array.from({ length: 8 }, (_, i) => ({
        mediaType: MediaTypes.ociManifest,
        digest: sha256Digest(`r${i}`),
        size: i + 1,
        artifactType: 'application/vnd.example'
      }))
      await Promise.all(
        descriptors.map(d => addToReferrersTag(client, 'acme/cart', subject.digest, [d]))
      )
      const { referrers, via } = await listReferrers(client, 'acme/cart', subject.digest)
      expect(via).toBe('tag')
      expect(referrers.map(d => d.digest).sort()).toEqual(descriptors.map(d => d.digest).sort())
      expect(
        stub.log.some(l => l.startsWith('PUT') && l.includes(referrersTag(subject.digest)))
      ).toBe(true)
    } finally {
      await client.close()
      await stub.stop()
    }
  })
  it('gives up with a clear error when the tag keeps changing', async () => {
    const stub = await startOciRegistry({ referrersApi: false, conditional: true })
    const client = new RegistryClient({ registry: stub.host, insecure: true })
    try {
      const subject = await pushImage(client, 'acme/cart')
      // every read is followed by a foreign write before ours
      const original = client.pushManifest.bind(client)
      let n = 0
      client.pushManifest = async (repo, ref, body, type, headers) => {
        if (ref === referrersTag(subject.digest) && headers && Object.keys(headers).length > 0) {
          await original(
            repo,
            ref,
            Buffer.from(
              JSON.stringify({
                schemaVersion: 2,
                mediaType: MediaTypes.ociIndex,
                manifests: [
                  { mediaType: MediaTypes.ociManifest, digest: sha256Digest(`x${++n}`), size: 1 }
                ]
              })
            ),
            MediaTypes.ociIndex
          )
        }
        return original(repo, ref, body, type, headers)
      }
      await expect(
        addToReferrersTag(
          client,
          'acme/cart',
          subject.digest,
          [{ mediaType: MediaTypes.ociManifest, digest: sha256Digest('mine'), size: 1 }],
          undefined,
          async () => undefined
        )
      ).rejects.toThrow(RegistryError)
    } finally {
      await client.close()
      await stub.stop()
    }
  })
})

describe('checkProvenance (pure)', () => {
  it('a payload that is not a statement, or not SLSA provenance, fails the statement check', () => {
    const digest = `sha256:${'e'.repeat(64)}`
    const policy = {
      digest,
      publicKey: parseVerifyKey(signer.pubPem),
      allowedRepositories: ['acme/shop']
    }
    const sbom = makeStatement(
      [{ name: 'x', digest: { sha256: 'e'.repeat(64) } }],
      'https://spdx.dev/Document/v2.3',
      {}
    )
    const blob = statementBlob(sbom, signer.key)
    expect(checkProvenance(blob.mediaType, blob.bytes, policy).failed).toMatchObject({
      check: 'statement',
      detail: expect.stringMatching(/predicateType is https:\/\/spdx.dev\/Document\/v2.3/)
    })
    expect(
      checkProvenance(blob.mediaType, Buffer.from('{"payloadType":'), policy).failed
    ).toMatchObject({ check: 'signature', detail: expect.stringMatching(/not JSON/) })
  })
})
