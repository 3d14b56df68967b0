/**
 * The pure OCI parts: the referrers tag of a digest (the distribution spec's own table),
 * the empty descriptor, the attestation manifest's shape (image-spec 1.1 artifact
 * guidance), and merging into a referrers index without losing or doubling entries.
 */
import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  attestationManifest,
  EMPTY_CONFIG,
  emptyIndex,
  mergeReferrers,
  parseIndex,
  referrersTag,
  selectReferrers,
  statementBlob
} from '../../../../src/image/attest/oci.js'
import { makeStatement } from '../../../../src/image/attest/statement.js'
import { MediaTypes } from '../../../../src/image/registry.js'

describe('referrersTag (distribution-spec 1.1, "Referrers Tag Schema" table)', () => {
  it.each([
    [`sha256:${'a'.repeat(64)}`, `sha256-${'a'.repeat(64)}`],
    [`sha512:${'a'.repeat(128)}`, `sha512-${'a'.repeat(64)}`],
    [
      'test+algorithm+using+algorithm+separators+and+lots+of+characters+to+excercise+overall+truncation:alsoSome=InTheEncodedSectionToShowHyphenReplacementAndLotsAndLotsOfCharactersToExcerciseEncodedTruncation',
      'test-algorithm-using-algorithm-s-alsoSome-InTheEncodedSectionToShowHyphenReplacementAndLotsAndLot'
    ]
  ])('%s', (digest, tag) => {
    expect(referrersTag(digest)).toBe(tag)
  })
})

describe('the attestation manifest', () => {
  const subject = {
    mediaType: MediaTypes.ociIndex,
    digest: `sha256:${'b'.repeat(64)}`,
    size: 321,
    annotations: { x: 'y' }
  }
  const statement = makeStatement(
    [{ name: 'r/app', digest: { sha256: 'b'.repeat(64) } }],
    'https://slsa.dev/provenance/v1',
    {}
  )
  const unsigned = attestationManifest(subject, statementBlob(statement))
  const m = JSON.parse(unsigned.body.toString()) as Record<string, unknown>

  it('has the empty config: {} with its digest and the data inline', () => {
    expect(EMPTY_CONFIG).toEqual({
      mediaType: 'application/vnd.oci.empty.v1+json',
      digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
      size: 2,
      data: 'e30='
    })
    expect(createHash('sha256').update(Buffer.from('e30=', 'base64')).digest('hex')).toBe(
      EMPTY_CONFIG.digest.slice(7)
    )
  })
  it('is an image manifest with artifactType, one layer, the subject (a platform index here) and the predicate type', () => {
    expect(m).toEqual({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType: 'application/vnd.in-toto+json',
      config: EMPTY_CONFIG,
      layers: [
        {
          mediaType: 'application/vnd.in-toto+json',
          digest: unsigned.layer.digest,
          size: unsigned.layer.size,
          annotations: { 'in-toto.io/predicate-type': 'https://slsa.dev/provenance/v1' }
        }
      ],
      subject: { mediaType: MediaTypes.ociIndex, digest: subject.digest, size: 321 },
      annotations: { 'in-toto.io/predicate-type': 'https://slsa.dev/provenance/v1' }
    })
    expect(unsigned.descriptor).toEqual({
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: unsigned.digest,
      size: unsigned.body.length,
      artifactType: 'application/vnd.in-toto+json',
      annotations: { 'in-toto.io/predicate-type': 'https://slsa.dev/provenance/v1' }
    })
  })
  it('the same unsigned statement gives the same manifest digest (pushing twice lists it once)', () => {
    expect(attestationManifest(subject, statementBlob(statement)).digest).toBe(unsigned.digest)
  })
})

describe('mergeReferrers', () => {
  const d = (n: number, extra: object = {}) => ({
    mediaType: MediaTypes.ociManifest,
    digest: `sha256:${String(n).repeat(64)}`,
    size: n,
    ...extra
  })
  it('appends what is new, keeps the rest as it was, never doubles', () => {
    const start = {
      ...emptyIndex(),
      manifests: [d(1, { 'x-unknown': true })],
      annotations: { a: 'b' }
    }
    const { index, added } = mergeReferrers(start, [d(2), d(1), d(2), d(3)])
    expect(added).toBe(2)
    expect(index).toEqual({ ...start, manifests: [d(1, { 'x-unknown': true }), d(2), d(3)] })
    expect(start.manifests).toHaveLength(1) // the input is not changed
  })
  it('selects by artifact type and predicate type', () => {
    const list = [
      d(1, {
        artifactType: 'application/vnd.dsse.envelope.v1+json',
        annotations: { 'in-toto.io/predicate-type': 'p' }
      }),
      d(2, {
        artifactType: 'application/vnd.in-toto+json',
        annotations: { 'in-toto.io/predicate-type': 'p' }
      }),
      d(3, { artifactType: 'application/vnd.dsse.envelope.v1+json' })
    ]
    expect(selectReferrers(list, { predicateType: 'p' }).map(x => x.size)).toEqual([1, 2])
    expect(
      selectReferrers(list, { artifactType: 'application/vnd.dsse.envelope.v1+json' }).map(
        x => x.size
      )
    ).toEqual([1, 3])
  })
  it('parseIndex refuses what is not an image index', () => {
    expect(() =>
      parseIndex(
        JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociManifest, layers: [] }),
        'r:t'
      )
    ).toThrow('r:t is not an OCI image index')
    expect(() => parseIndex('nope', 'r:t')).toThrow('r:t is not JSON')
  })
})
