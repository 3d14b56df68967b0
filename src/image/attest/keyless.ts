/**
 * Keyless signing: a statement signed through Sigstore with a short-lived certificate
 * that Fulcio issues for the workflow's OIDC identity (`id-token: write`), as
 * actions/attest-build-provenance does, through its library @actions/attest. The result
 * is a Sigstore bundle, stored next to the image like a DSSE envelope (artifact type
 * `application/vnd.dev.sigstore.bundle.v0.3+json`) and, unless told not to, in the
 * repository's GitHub attestations API. The library (with ~95 packages under it, 1.6 MB
 * once bundled) is loaded on first use only, so a run that never signs keylessly does not
 * parse it. Its Sigstore endpoints are fixed: the public-good instance
 * (fulcio.sigstore.dev + rekor.sigstore.dev) for public repositories, GitHub's
 * (fulcio./timestamp.<GitHub host>) for the others.
 */
import { errorMessage } from '../../core/errors.js'
import { secrets } from '../../core/secrets.js'
import { SIGSTORE_BUNDLE_MEDIA_TYPE, type AttestationBlob } from './oci.js'
import type { Statement } from './statement.js'

/** The media type of a Sigstore bundle v0.3 (kept here for the signing side's callers). */
export { SIGSTORE_BUNDLE_MEDIA_TYPE }

/** Options of a keyless signature. */
export interface KeylessOptions {
  /** A GitHub token that may write attestations (`attestations: write`). */
  token: string
  /** `public-good` or `github`; default: by the repository's visibility, as @actions/attest decides. */
  sigstore?: 'public-good' | 'github'
  /** Store the bundle in the repository's attestations API (default true). */
  store?: boolean
}

/** A keyless attestation. */
export interface KeylessAttestation {
  blob: AttestationBlob
  /** The Fulcio certificate (PEM) the signature was made with. */
  certificate: string
  /** The id GitHub's attestations API gave it, when stored. */
  attestationId?: string
  /** The transparency log entry, on the public-good instance. */
  tlogId?: string
}

/** Whether the runner can hand out an OIDC token (the job has `id-token: write`). */
export function keylessAvailable(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.ACTIONS_ID_TOKEN_REQUEST_URL && env.ACTIONS_ID_TOKEN_REQUEST_TOKEN)
}

/** Sign a statement keylessly; throws with what went wrong (no token, Sigstore refused, ...). */
export async function signKeyless(
  statement: Statement,
  options: KeylessOptions
): Promise<KeylessAttestation> {
  secrets.add(options.token)
  if (!keylessAvailable()) {
    throw new Error(
      'keyless signing needs an OIDC token: give the job "permissions: id-token: write", or set signing-key'
    )
  }
  const { attest } = await import('@actions/attest')
  let result: Awaited<ReturnType<typeof attest>>
  try {
    result = await attest({
      subjects: statement.subject,
      predicateType: statement.predicateType,
      predicate: statement.predicate as object,
      token: options.token,
      sigstore: options.sigstore,
      skipWrite: options.store === false
    })
  } catch (error) {
    throw new Error(`keyless signing failed: ${secrets.redact(errorMessage(error))}`)
  }
  return {
    blob: {
      mediaType: SIGSTORE_BUNDLE_MEDIA_TYPE,
      predicateType: statement.predicateType,
      bytes: Buffer.from(JSON.stringify(result.bundle))
    },
    certificate: result.certificate,
    ...(result.attestationID ? { attestationId: String(result.attestationID) } : {}),
    ...(result.tlogID ? { tlogId: result.tlogID } : {})
  }
}
