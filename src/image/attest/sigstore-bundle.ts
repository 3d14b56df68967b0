/**
 * A keyless attestation's signature, verified: a Sigstore bundle (v0.1 to v0.3, as
 * @actions/attest writes it) holding a DSSE envelope, checked by @sigstore/verify
 * against a Sigstore trusted root (`trusted_root.json`): the envelope's signature with
 * the certificate's key, the certificate chain up to a certificate authority of the
 * root, and the time of signing as the bundle proves it: a transparency log entry
 * (Rekor, the public-good instance) or a signed timestamp (a timestamp authority,
 * GitHub's instance), within the certificate's validity. What a root asks for follows
 * from what it holds, as `gh attestation verify` does: one transparency log entry when
 * it lists logs, then also one certificate transparency proof (SCT) when it lists CT
 * logs (the public-good instance), and always one verified timestamp (a root without
 * transparency logs, as GitHub's, is held to its timestamp authorities). Who signed (the
 * certificate's identity) is judged by sigstore-identity.ts.
 *
 * The libraries (@sigstore/verify, @sigstore/bundle, @sigstore/protobuf-specs) are
 * loaded on first use only, so a deploy that verifies nothing keylessly never parses
 * them. Reading the trusted root's text (`parseTrustedRootText`) needs none of them.
 */
import { X509Certificate } from 'node:crypto'
import type { TrustMaterial, VerifierOptions } from '@sigstore/verify'
import { errorMessage } from '../../core/errors.js'
import { extensionText, FULCIO_ARC, type CertificateIdentity } from './sigstore-identity.js'
import { IN_TOTO_MEDIA_TYPE } from './statement.js'

/** The media type prefix of a Sigstore trusted root document. */
export const TRUSTED_ROOT_MEDIA_TYPE = 'application/vnd.dev.sigstore.trustedroot'

/** A trusted root document as JSON (the protobuf JSON form), shape-checked. */
export interface TrustedRootDocument {
  mediaType: string
  certificateAuthorities: { uri?: string; certChain?: { certificates?: { rawBytes?: string }[] } }[]
  tlogs?: unknown[]
  ctlogs?: unknown[]
  timestampAuthorities?: unknown[]
  [other: string]: unknown
}

/**
 * Read trusted roots from text: one JSON document, or JSON lines of them (what
 * `gh attestation trusted-root` prints: the public-good and GitHub's). Throws an Error
 * saying what is wrong (never the text itself).
 */
export function parseTrustedRootText(text: string): TrustedRootDocument[] {
  let docs: unknown[]
  try {
    docs = [JSON.parse(text)]
  } catch {
    const lines = text.split(/\r?\n/).filter(l => l.trim() !== '')
    docs = lines.map((line, i) => {
      try {
        return JSON.parse(line) as unknown
      } catch (error) {
        throw new Error(`line ${i + 1} is not JSON (${errorMessage(error)})`)
      }
    })
  }
  if (docs.length === 0) throw new Error('it holds no trusted root')
  return docs.map((d, i) => {
    const where = docs.length > 1 ? `trusted root ${i + 1}` : 'the trusted root'
    const doc = d as Partial<TrustedRootDocument> | null
    if (!doc || typeof doc !== 'object' || Array.isArray(doc)) {
      throw new Error(`${where} is not a JSON object`)
    }
    if (typeof doc.mediaType !== 'string' || !doc.mediaType.startsWith(TRUSTED_ROOT_MEDIA_TYPE)) {
      throw new Error(
        `${where} has mediaType ${JSON.stringify(doc.mediaType)}, expected ${TRUSTED_ROOT_MEDIA_TYPE}+json;version=0.1`
      )
    }
    if (!Array.isArray(doc.certificateAuthorities) || doc.certificateAuthorities.length === 0) {
      throw new Error(
        `${where} lists no certificateAuthorities (Fulcio), so no certificate can chain to it`
      )
    }
    return doc as TrustedRootDocument
  })
}

/** One trusted root, ready to verify against. */
export interface TrustRoot {
  /** How messages name it (its certificate authorities' URIs). */
  name: string
  /** The subjects of its CA certificates (node's form), to try first the roots that issued a certificate. */
  caSubjects: string[]
  material: TrustMaterial
  options: VerifierOptions
}

/** Where the trusted roots for a bundle come from (a file, or Sigstore's TUF repositories). */
export interface SigstoreTrust {
  /**
   * The roots to try for a bundle whose signing certificate is `leaf`, or why there is
   * none for it (the bundle then fails). Throws when roots that exist cannot be had.
   */
  rootsFor(leaf: X509Certificate): Promise<TrustRoot[] | string>
}

type Libraries = {
  verify: typeof import('@sigstore/verify')
  bundle: typeof import('@sigstore/bundle')
  specs: typeof import('@sigstore/protobuf-specs')
}
let libraries: Promise<Libraries> | undefined

/** The Sigstore libraries, loaded once on first use. */
function load(): Promise<Libraries> {
  libraries ??= Promise.all([
    import('@sigstore/verify'),
    import('@sigstore/bundle'),
    import('@sigstore/protobuf-specs')
  ]).then(([verify, bundle, specs]) => ({ verify, bundle, specs }))
  return libraries
}

/** Turn trusted root documents into roots to verify against. Throws on a document the library refuses. */
export async function trustRoots(docs: TrustedRootDocument[]): Promise<TrustRoot[]> {
  const { verify, specs } = await load()
  return docs.map((doc, i) => {
    const uris = doc.certificateAuthorities.map(ca => ca.uri).filter(Boolean)
    const name = uris.length > 0 ? [...new Set(uris)].join(', ') : `trusted root ${i + 1}`
    let material: TrustMaterial
    try {
      material = verify.toTrustMaterial(specs.TrustedRoot.fromJSON(doc))
    } catch (error) {
      throw new Error(`trusted root ${name}: ${errorMessage(error)}`)
    }
    const caSubjects: string[] = []
    for (const ca of doc.certificateAuthorities) {
      for (const c of ca.certChain?.certificates ?? []) {
        try {
          caSubjects.push(new X509Certificate(Buffer.from(c.rawBytes ?? '', 'base64')).subject)
        } catch {
          // The library read the root; a certificate node cannot read only costs the shortcut.
        }
      }
    }
    return {
      name,
      caSubjects,
      material,
      options: {
        tlogThreshold: material.tlogs.length > 0 ? 1 : 0,
        // As gh verifies: certificate transparency proofs where the root keeps a transparency
        // log too (public-good); GitHub's instance (timestamps only) issues certificates without.
        ctlogThreshold: material.tlogs.length > 0 && material.ctlogs.length > 0 ? 1 : 0,
        timestampThreshold: 1
      }
    }
  })
}

/** Roots given once (the `sigstore-trusted-root` input): every bundle is tried against each. */
export function fixedTrust(roots: TrustRoot[]): SigstoreTrust {
  return { rootsFor: () => Promise.resolve<TrustRoot[] | string>(roots) }
}

/** The outcome of verifying a bundle's signature. */
export type BundleCheck =
  | {
      ok: true
      payload: Buffer
      identity: CertificateIdentity
      detail: string
    }
  | { ok: false; detail: string }

/** An error of @sigstore/verify with its cause, in one line. */
function reason(error: unknown): string {
  const e = error as { message?: string; cause?: { message?: string } }
  const cause = e?.cause?.message
  return cause && !errorMessage(error).includes(cause)
    ? `${errorMessage(error)}: ${cause}`
    : errorMessage(error)
}

/**
 * Verify a Sigstore bundle's signature, certificate chain and proof of time against
 * the roots `trust` gives for its certificate. A trust that cannot give roots throws
 * (the deploy stops there: it is not this image's fault).
 */
export async function verifyBundle(bytes: Buffer, trust: SigstoreTrust): Promise<BundleCheck> {
  const { verify, bundle: bundles } = await load()
  let bundle: ReturnType<typeof bundles.bundleFromJSON>
  try {
    bundle = bundles.bundleFromJSON(JSON.parse(bytes.toString('utf8')))
  } catch (error) {
    return { ok: false, detail: `not a valid Sigstore bundle (${errorMessage(error)})` }
  }
  if (bundle.content.$case !== 'dsseEnvelope') {
    return {
      ok: false,
      detail: `the bundle signs a ${bundle.content.$case}, expected a DSSE envelope of an in-toto statement`
    }
  }
  const envelope = bundle.content.dsseEnvelope
  if (envelope.payloadType !== IN_TOTO_MEDIA_TYPE) {
    return {
      ok: false,
      detail: `the bundle's envelope holds ${envelope.payloadType}, expected ${IN_TOTO_MEDIA_TYPE}`
    }
  }
  const material = bundle.verificationMaterial.content
  const raw =
    material.$case === 'certificate'
      ? material.certificate.rawBytes
      : material.$case === 'x509CertificateChain'
        ? material.x509CertificateChain.certificates[0]?.rawBytes
        : undefined
  if (!raw) {
    return {
      ok: false,
      detail:
        'the bundle is signed with a public key, not a Fulcio certificate (keyless); verify it with verify-key'
    }
  }
  let leaf: X509Certificate
  try {
    leaf = new X509Certificate(raw)
  } catch (error) {
    return { ok: false, detail: `the bundle's certificate cannot be read (${errorMessage(error)})` }
  }
  const roots = await trust.rootsFor(leaf)
  if (typeof roots === 'string') {
    return { ok: false, detail: `the Sigstore bundle cannot be verified: ${roots}` }
  }
  const entity = verify.toSignedEntity(bundle)
  // The roots whose CA issued the certificate, when any did (fewer, clearer failures).
  const issuers = roots.filter(r => r.caSubjects.includes(leaf.issuer))
  const tried = issuers.length > 0 ? issuers : roots
  const failures: string[] = []
  for (const root of tried) {
    try {
      const signer = new verify.Verifier(root.material, root.options).verify(entity)
      const extensions: Record<string, string> = {}
      for (const o of signer.identity?.oids ?? []) {
        const oid = o.oid?.id.join('.') ?? ''
        if (oid.startsWith(FULCIO_ARC)) extensions[oid] = extensionText(o.value)
      }
      const tlog = entity.tlogEntries.length
      const tsa = entity.timestamps.filter(t => t.$case === 'timestamp-authority').length
      return {
        ok: true,
        payload: envelope.payload,
        identity: {
          ...(signer.identity?.subjectAlternativeName
            ? { subjectAlternativeName: signer.identity.subjectAlternativeName }
            : {}),
          extensions
        },
        detail: `Sigstore bundle verified against the trusted root of ${root.name} (certificate chain, ${tlog} transparency log entr${tlog === 1 ? 'y' : 'ies'}, ${tsa} signed timestamp${tsa === 1 ? '' : 's'})`
      }
    } catch (error) {
      failures.push(`${root.name}: ${reason(error)}`)
    }
  }
  return {
    ok: false,
    detail: `the Sigstore bundle (certificate issued by ${leaf.issuer.replace(/\n/g, ', ')}) does not verify against ${tried.length === 1 ? 'the trusted root' : `any of ${tried.length} trusted roots`}: ${failures.join('; ') || 'no trusted root'}`
  }
}
