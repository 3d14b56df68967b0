/**
 * DSSE (Dead Simple Signing Envelope, https://github.com/secure-systems-lab/dsse) v1:
 * the signature covers the pre-authentication encoding
 * `DSSEv1 <len(type)> <type> <len(body)> <body>` (lengths in bytes, ASCII decimal), never
 * the JSON around it. Signatures are ECDSA P-256 over SHA-256, ASN.1 DER, base64; what
 * `openssl dgst -sha256 -sign` makes and `openssl dgst -sha256 -verify` checks.
 */
import { sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto'
import { keyIdOf, type SigningKey } from './keys.js'

/** The artifact media type of a DSSE envelope (an OCI layer or `artifactType`). */
export const DSSE_MEDIA_TYPE = 'application/vnd.dsse.envelope.v1+json'

/** One signature of an envelope. */
export interface DsseSignature {
  keyid: string
  /** base64 of the ASN.1 DER ECDSA signature over the PAE. */
  sig: string
}

/** A DSSE envelope. */
export interface DsseEnvelope {
  payloadType: string
  /** base64 (standard alphabet, padded) of the payload bytes. */
  payload: string
  signatures: DsseSignature[]
}

/** The pre-authentication encoding of a payload. */
export function pae(payloadType: string, payload: Buffer): Buffer {
  const type = Buffer.from(payloadType, 'utf8')
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${type.length} `, 'utf8'),
    type,
    Buffer.from(` ${payload.length} `, 'utf8'),
    payload
  ])
}

/** Sign a payload into an envelope with one signature. */
export function signEnvelope(payloadType: string, payload: Buffer, key: SigningKey): DsseEnvelope {
  const sig = cryptoSign('sha256', pae(payloadType, payload), {
    key: key.privateKey,
    dsaEncoding: 'der'
  })
  return {
    payloadType,
    payload: payload.toString('base64'),
    signatures: [{ keyid: key.keyid, sig: sig.toString('base64') }]
  }
}

/** Why an envelope did not verify. */
export type EnvelopeProblem = 'malformed' | 'no-signature' | 'bad-signature'

/** The outcome of checking an envelope against a key. */
export type EnvelopeCheck =
  | { ok: true; payload: Buffer; payloadType: string; keyid: string }
  | { ok: false; problem: EnvelopeProblem; detail: string }

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

/** Parse and shape-check an envelope from JSON bytes. */
export function parseEnvelope(bytes: Buffer | string): DsseEnvelope {
  let value: unknown
  try {
    value = JSON.parse(Buffer.isBuffer(bytes) ? bytes.toString('utf8') : bytes)
  } catch (error) {
    throw new Error(`DSSE envelope: not JSON (${(error as Error).message})`)
  }
  const e = value as Partial<DsseEnvelope> | null
  if (!e || typeof e !== 'object' || typeof e.payloadType !== 'string') {
    throw new Error('DSSE envelope: payloadType missing')
  }
  if (typeof e.payload !== 'string' || !BASE64.test(e.payload)) {
    throw new Error('DSSE envelope: payload missing or not base64')
  }
  if (!Array.isArray(e.signatures)) throw new Error('DSSE envelope: signatures missing')
  for (const s of e.signatures as unknown[]) {
    const x = s as Partial<DsseSignature> | null
    if (!x || typeof x.sig !== 'string' || !BASE64.test(x.sig)) {
      throw new Error('DSSE envelope: a signature has no base64 sig')
    }
  }
  return e as DsseEnvelope
}

/**
 * Verify an envelope with a public key: it passes when ANY signature verifies over the
 * PAE (keyids are hints, not trusted: a signature with another keyid is tried too).
 */
export function verifyEnvelope(envelope: DsseEnvelope, publicKey: KeyObject): EnvelopeCheck {
  if (envelope.signatures.length === 0) {
    return { ok: false, problem: 'no-signature', detail: 'the envelope has no signature' }
  }
  const payload = Buffer.from(envelope.payload, 'base64')
  const message = pae(envelope.payloadType, payload)
  const expectedId = keyIdOf(publicKey)
  for (const s of envelope.signatures) {
    let good = false
    try {
      good = cryptoVerify(
        'sha256',
        message,
        { key: publicKey, dsaEncoding: 'der' },
        Buffer.from(s.sig, 'base64')
      )
    } catch {
      good = false
    }
    if (good) return { ok: true, payload, payloadType: envelope.payloadType, keyid: expectedId }
  }
  const ids = envelope.signatures.map(s => s.keyid || '(none)').join(', ')
  return {
    ok: false,
    problem: 'bad-signature',
    detail: `no signature verifies with the given key (keyid ${expectedId}); the envelope is signed by keyid ${ids}`
  }
}
