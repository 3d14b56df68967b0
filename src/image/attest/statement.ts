/**
 * The in-toto Statement v1 (https://in-toto.io/Statement/v1): the envelope-neutral
 * claim "this predicate is about these subjects". Every attestation Conveyor makes
 * (SLSA provenance, SPDX SBOM) is one, with one subject: the image repository without
 * tag, and the digest of the image manifest (or of the platform index).
 */
import { isValidDigest, parseImageRef } from '../../model/image-ref.js'

/** `_type` of an in-toto Statement v1. */
export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1'

/** The DSSE `payloadType` and the unsigned artifact media type of a statement. */
export const IN_TOTO_MEDIA_TYPE = 'application/vnd.in-toto+json'

/** One subject: an artifact name and its digests (algorithm → lower-case hex). */
export interface Subject {
  name: string
  digest: Record<string, string>
}

/** An in-toto Statement v1 with a typed predicate. */
export interface Statement<P = unknown> {
  _type: typeof STATEMENT_TYPE
  subject: Subject[]
  predicateType: string
  predicate: P
}

/**
 * The subject of an image: `name` is the repository without tag or digest
 * (`ghcr.io/acme/cart`), `digest` the sha256 of its manifest or index. Throws on a
 * name with a tag or digest, or a digest that is not `sha256:<64 hex>`.
 */
export function imageSubject(image: string, digest: string): Subject {
  const ref = parseImageRef(image)
  if (ref.tag || ref.digest) {
    throw new Error(
      `attestation subject: ${JSON.stringify(image)} has a tag or digest; expected the repository alone`
    )
  }
  if (!digest.startsWith('sha256:') || !isValidDigest(digest)) {
    throw new Error(
      `attestation subject: digest ${JSON.stringify(digest)} is not sha256:<64 hex digits>`
    )
  }
  return { name: ref.name, digest: { sha256: digest.slice('sha256:'.length) } }
}

/** A statement about `subjects`. */
export function makeStatement<P>(
  subjects: Subject[],
  predicateType: string,
  predicate: P
): Statement<P> {
  if (subjects.length === 0) throw new Error('an in-toto statement needs at least one subject')
  return { _type: STATEMENT_TYPE, subject: subjects, predicateType, predicate }
}

/**
 * Read a statement from its JSON bytes (a DSSE payload or a bare layer), checking the
 * fields every consumer relies on. Throws an Error saying which field is wrong.
 */
export function parseStatement(bytes: Buffer | string): Statement {
  let value: unknown
  try {
    value = JSON.parse(Buffer.isBuffer(bytes) ? bytes.toString('utf8') : bytes)
  } catch (error) {
    throw new Error(`in-toto statement: not JSON (${(error as Error).message})`)
  }
  const s = value as Partial<Statement> | null
  if (!s || typeof s !== 'object' || Array.isArray(s)) {
    throw new Error('in-toto statement: not a JSON object')
  }
  if (s._type !== STATEMENT_TYPE) {
    throw new Error(
      `in-toto statement: _type is ${JSON.stringify(s._type)}, expected ${STATEMENT_TYPE}`
    )
  }
  if (typeof s.predicateType !== 'string' || s.predicateType === '') {
    throw new Error('in-toto statement: predicateType missing')
  }
  if (!Array.isArray(s.subject) || s.subject.length === 0) {
    throw new Error('in-toto statement: subject missing or empty')
  }
  for (const sub of s.subject as unknown[]) {
    const x = sub as Partial<Subject> | null
    if (
      !x ||
      typeof x.name !== 'string' ||
      !x.digest ||
      typeof x.digest !== 'object' ||
      Object.values(x.digest).some(v => typeof v !== 'string')
    ) {
      throw new Error('in-toto statement: a subject lacks a name or a digest map')
    }
  }
  return s as Statement
}
