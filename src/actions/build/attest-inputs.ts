/**
 * The build action's supply-chain inputs (provenance, sbom, signing-key,
 * signing-key-password, github-token), read apart from the others so that the
 * action's input list grows without touching what the rest reads. The key is parsed
 * here, before any side effect: a wrong key or password fails the step at once, naming
 * the input and never showing either.
 */
import type { InputReader } from '../../core/inputs.js'
import { parseSigningKey, type SigningKey } from '../../image/attest/keys.js'

/** What the supply-chain inputs ask for. */
export interface AttestInputs {
  provenance: boolean
  sbom: boolean
  signingKey?: SigningKey
  /** For keyless signing and GitHub's attestations API (default: the job's token). */
  githubToken?: string
}

/** Read and validate the supply-chain inputs; the key and its password are secrets. */
export function getAttestInputs(reader: InputReader): AttestInputs {
  // Secrets first: registered before anything could print them.
  const password = reader.optional('signing-key-password', { secret: true })
  const pem = reader.optional('signing-key', { secret: true })
  const githubToken = reader.optional('github-token', { secret: true })
  const provenance = reader.boolean('provenance', true)
  const sbom = reader.boolean('sbom', true)
  return {
    provenance,
    sbom,
    githubToken,
    signingKey: pem === undefined ? undefined : parseSigningKey(pem, password)
  }
}
