/**
 * cosign's own encrypted private key format (`cosign generate-key-pair`): a PEM block
 * `ENCRYPTED SIGSTORE PRIVATE KEY` (cosign 1.x: `ENCRYPTED COSIGN PRIVATE KEY`) whose
 * body is the JSON of go-securesystemslib's `encrypted` package: the password goes
 * through scrypt (node:crypto) to a 32-byte key that opens a NaCl secretbox
 * (XSalsa20-Poly1305) holding the PKCS#8 DER of the key. node:crypto has no XSalsa20
 * (OpenSSL does not ship Salsa20), so the box is opened with @noble/ciphers (audited,
 * no dependencies).
 */
import { scryptSync } from 'node:crypto'
import { xsalsa20poly1305 } from '@noble/ciphers/salsa.js'
import { ConfigurationError } from '../../core/errors.js'

/** PEM block types of cosign keys. */
const COSIGN_TYPES = new Set(['ENCRYPTED SIGSTORE PRIVATE KEY', 'ENCRYPTED COSIGN PRIVATE KEY'])

/**
 * The scrypt parameters go-securesystemslib writes (legacy, standard, overkill). Any
 * other set is refused: the parameters come from the key file, and a huge N would
 * make reading it a denial of service.
 */
const KNOWN_SCRYPT = [
  { N: 32768, r: 8, p: 1 },
  { N: 65536, r: 8, p: 1 },
  { N: 1048576, r: 8, p: 1 }
]

/** Whether a PEM block type is one of cosign's. */
export function isCosignKey(pemType: string): boolean {
  return COSIGN_TYPES.has(pemType)
}

interface EncryptedData {
  kdf?: { name?: string; params?: { N?: number; r?: number; p?: number }; salt?: string }
  cipher?: { name?: string; nonce?: string }
  ciphertext?: string
}

/** The base64 body of the first PEM block. */
function pemBody(pem: string): Buffer {
  const m = /-----BEGIN [A-Z ]+-----\r?\n([\s\S]*?)-----END [A-Z ]+-----/.exec(pem)
  return Buffer.from((m?.[1] ?? '').replace(/\s+/g, ''), 'base64')
}

/**
 * The PKCS#8 DER inside a cosign key. Throws a ConfigurationError naming the inputs
 * when the file is damaged or the password is wrong (never showing either).
 */
export function decryptCosignKey(
  pem: string,
  password: string,
  names: { key: string; password: string }
): Buffer {
  let data: EncryptedData
  try {
    data = JSON.parse(pemBody(pem).toString('utf8')) as EncryptedData
  } catch {
    throw new ConfigurationError(
      `input "${names.key}": the ENCRYPTED SIGSTORE PRIVATE KEY block does not hold cosign's JSON`
    )
  }
  const params = data.kdf?.params
  if (data.kdf?.name !== 'scrypt' || data.cipher?.name !== 'nacl/secretbox') {
    throw new ConfigurationError(
      `input "${names.key}": cosign key with kdf ${JSON.stringify(data.kdf?.name)} and cipher ${JSON.stringify(data.cipher?.name)}, expected scrypt and nacl/secretbox`
    )
  }
  if (
    !params ||
    !KNOWN_SCRYPT.some(k => k.N === params.N && k.r === params.r && k.p === params.p)
  ) {
    throw new ConfigurationError(
      `input "${names.key}": cosign key with scrypt parameters ${JSON.stringify(params)}, expected one of ${KNOWN_SCRYPT.map(k => `N=${k.N}`).join(', ')} with r=8, p=1`
    )
  }
  const salt = Buffer.from(data.kdf.salt ?? '', 'base64')
  const nonce = Buffer.from(data.cipher.nonce ?? '', 'base64')
  const box = Buffer.from(data.ciphertext ?? '', 'base64')
  if (salt.length === 0 || nonce.length !== 24 || box.length <= 16) {
    throw new ConfigurationError(
      `input "${names.key}": cosign key without a salt, a 24-byte nonce or a ciphertext`
    )
  }
  const key = scryptSync(Buffer.from(password, 'utf8'), salt, 32, {
    N: params.N!,
    r: params.r!,
    p: params.p!,
    maxmem: 256 * params.N! * params.r! + 1024 * 1024
  })
  try {
    return Buffer.from(xsalsa20poly1305(key, nonce).decrypt(box))
  } catch {
    throw new ConfigurationError(`input "${names.password}" does not decrypt "${names.key}"`)
  } finally {
    key.fill(0)
  }
}
