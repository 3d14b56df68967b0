/**
 * The signing key and the verification key of keyed attestations: ECDSA P-256 only.
 * A private key is read from PEM as `openssl genpkey -algorithm EC -pkeyopt
 * ec_paramgen_curve:P-256` writes it (PKCS#8, `-----BEGIN PRIVATE KEY-----`, or with
 * `-aes256` and a password, `-----BEGIN ENCRYPTED PRIVATE KEY-----`), as `openssl ecparam`
 * writes it (SEC1, `EC PRIVATE KEY`), or in cosign's own encrypted format
 * (src/image/attest/cosign-key.ts). The key and its password are secrets: registered
 * before anything is parsed, and never part of an error message.
 */
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto'
import { ConfigurationError } from '../../core/errors.js'
import { secrets } from '../../core/secrets.js'
import { decryptCosignKey, isCosignKey } from './cosign-key.js'

/** A private key ready to sign with, and what identifies it. */
export interface SigningKey {
  privateKey: KeyObject
  publicKey: KeyObject
  /** The DSSE `keyid`: lower-case hex SHA-256 of the public key's DER SubjectPublicKeyInfo. */
  keyid: string
}

/** Names of the inputs a key came from, for error messages. */
export interface KeyInputNames {
  key: string
  password: string
}

const DEFAULT_NAMES: KeyInputNames = { key: 'signing-key', password: 'signing-key-password' }

/** The DSSE keyid of a public key: hex SHA-256 of its DER SubjectPublicKeyInfo. */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex')
}

/** Throw unless the key is ECDSA on P-256 (prime256v1). */
function requireP256(key: KeyObject, what: string): void {
  const type = key.asymmetricKeyType
  const curve = key.asymmetricKeyDetails?.namedCurve
  if (type !== 'ec' || curve !== 'prime256v1') {
    const got =
      type === 'ec'
        ? `an EC key on curve ${curve ?? 'unknown'}`
        : `a ${type ?? 'non-asymmetric'} key`
    throw new ConfigurationError(
      `${what}: got ${got}, expected an ECDSA P-256 key (openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256)`
    )
  }
}

/** The PEM block types we read as private keys. */
const PEM_TYPE = /-----BEGIN ([A-Z0-9 ]+)-----/

/**
 * Parse a PEM private key (see the file header for the formats), with its password when
 * it is encrypted. Throws a ConfigurationError naming the input, never echoing the key.
 */
export function parseSigningKey(
  pem: string,
  password?: string,
  names: KeyInputNames = DEFAULT_NAMES
): SigningKey {
  secrets.add(pem)
  if (password) secrets.add(password)
  const type = PEM_TYPE.exec(pem)?.[1]
  if (!type) {
    throw new ConfigurationError(
      `input "${names.key}": got a value of ${pem.length} characters without a PEM header, expected a PEM private key (-----BEGIN PRIVATE KEY-----)`
    )
  }
  let privateKey: KeyObject
  if (isCosignKey(type)) {
    if (!password) {
      throw new ConfigurationError(
        `input "${names.key}" is a cosign key, which is always encrypted: set "${names.password}"`
      )
    }
    const der = decryptCosignKey(pem, password, names)
    privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })
  } else if (
    type === 'PRIVATE KEY' ||
    type === 'EC PRIVATE KEY' ||
    type === 'ENCRYPTED PRIVATE KEY'
  ) {
    const encrypted = type === 'ENCRYPTED PRIVATE KEY' || /Proc-Type:\s*4,ENCRYPTED/.test(pem)
    if (encrypted && !password) {
      throw new ConfigurationError(
        `input "${names.key}" is an encrypted private key: set "${names.password}"`
      )
    }
    try {
      privateKey = createPrivateKey(
        encrypted ? { key: pem, format: 'pem', passphrase: password } : { key: pem, format: 'pem' }
      )
    } catch (error) {
      const why = secrets.redact((error as Error).message)
      throw new ConfigurationError(
        encrypted
          ? `input "${names.password}" does not decrypt "${names.key}" (${why})`
          : `input "${names.key}": the PEM block does not hold a readable private key (${why})`
      )
    }
  } else {
    throw new ConfigurationError(
      `input "${names.key}": got a PEM block of type "${type}", expected PRIVATE KEY, ENCRYPTED PRIVATE KEY, EC PRIVATE KEY or ENCRYPTED SIGSTORE PRIVATE KEY`
    )
  }
  requireP256(privateKey, `input "${names.key}"`)
  const publicKey = createPublicKey(privateKey)
  return { privateKey, publicKey, keyid: keyIdOf(publicKey) }
}

/**
 * Parse a PEM public key (`-----BEGIN PUBLIC KEY-----`, as `openssl pkey -pubout` and
 * `cosign generate-key-pair` write it). `input` names where it came from.
 */
export function parseVerifyKey(pem: string, input = 'verify-key'): KeyObject {
  const type = PEM_TYPE.exec(pem)?.[1]
  if (type !== 'PUBLIC KEY') {
    throw new ConfigurationError(
      `input "${input}": got ${type ? `a PEM block of type "${type}"` : 'no PEM block'}, expected -----BEGIN PUBLIC KEY----- (openssl pkey -in key.pem -pubout)`
    )
  }
  let key: KeyObject
  try {
    key = createPublicKey({ key: pem, format: 'pem' })
  } catch (error) {
    throw new ConfigurationError(
      `input "${input}": not a readable public key (${(error as Error).message})`
    )
  }
  requireP256(key, `input "${input}"`)
  return key
}
