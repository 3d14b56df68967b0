/**
 * Verification of an image's provenance before a deploy: find the SLSA provenance
 * referrers of the digest, and pass when one of them (1) is signed: a DSSE envelope whose
 * signature verifies with the given public key, or, without a key, a keyless Sigstore
 * bundle that verifies against a trusted root (sigstore-bundle.ts) and whose
 * certificate was issued to a workflow run of an allowed repository
 * (sigstore-identity.ts), (2) holds an in-toto statement with the SLSA v1 predicate and
 * a subject whose sha256 is the deployed digest, (3) names an allowed source repository
 * (the one the certificate names, when keyless), and (4) names the commit it was built
 * from (the certificate's, when it names one). Every check says what it found, so a
 * refusal names the image and the check that failed. The checks are pure
 * (`checkProvenance`, `checkKeylessProvenance`); `verifyImageProvenance` does the reads.
 */
import type { KeyObject } from 'node:crypto'
import { errorMessage } from '../../core/errors.js'
import type { RegistryClient } from '../registry.js'
import { DSSE_MEDIA_TYPE, parseEnvelope, verifyEnvelope } from './dsse.js'
import { PREDICATE_TYPE_ANNOTATION, SIGSTORE_BUNDLE_MEDIA_TYPE, type Descriptor } from './oci.js'
import { BUILD_TYPE, SLSA_PROVENANCE_V1, type ProvenancePredicate } from './provenance.js'
import { fetchAttestation, listReferrers, type FetchedAttestation } from './referrers.js'
import { verifyBundle, type BundleCheck, type SigstoreTrust } from './sigstore-bundle.js'
import { checkIdentity, repositoryOf, type Signer } from './sigstore-identity.js'
import { IN_TOTO_MEDIA_TYPE, parseStatement } from './statement.js'

/** GitHub's workflow buildType: its externalParameters.workflow is read the same way. */
export const GITHUB_BUILD_TYPE = 'https://actions.github.io/buildtypes/workflow/v1'

/** The predicate type annotation of Sigstore bundles that actions/attest-build-provenance pushes. */
export const BUNDLE_PREDICATE_ANNOTATION = 'dev.sigstore.bundle.predicateType'

/** The checks, in the order they run (`identity` only for keyless bundles). */
export type CheckName =
  'found' | 'signature' | 'identity' | 'statement' | 'subject' | 'repository' | 'commit'

/** One check's outcome. */
export interface Check {
  check: CheckName
  ok: boolean
  detail: string
}

/** What must hold. */
export interface ProvenancePolicy {
  /** The digest being deployed (`sha256:<hex>`). */
  digest: string
  /** Keyed: a DSSE envelope signed with this key. */
  publicKey?: KeyObject
  /** Keyless (without publicKey): a Sigstore bundle, verified against these roots. */
  sigstore?: SigstoreTrust
  /** Allowed source repositories, `owner/name` (compared case-insensitively). */
  allowedRepositories: string[]
  /**
   * When set, the repository URL must be on this server (`https://github.com`); keyless,
   * the certificate's issuer and workflow too (default https://github.com).
   */
  serverUrl?: string
}

/** The verdict on one image. */
export interface Verdict {
  ok: boolean
  checks: Check[]
  /** The first failed check, for the one-line error. */
  failed?: Check
  /** What the passing statement said (repository URL and commit). */
  source?: { repository: string; commit: string; builder: string }
  /** The referrer the verdict is about. */
  referrer?: string
}

function verdict(checks: Check[], extra: Partial<Verdict> = {}): Verdict {
  const failed = checks.find(c => !c.ok)
  return { ok: !failed, checks, ...(failed ? { failed } : {}), ...extra }
}

const FOUND: Check = { check: 'found', ok: true, detail: 'a provenance attestation is attached' }

/** Why a layer that is not what the policy verifies fails its signature check. */
function wrongKind(layerMediaType: string, keyed: boolean): Check {
  const detail = isBundle(layerMediaType)
    ? 'the attestation is a keyless Sigstore bundle, not a DSSE envelope signed with the verify key'
    : layerMediaType === DSSE_MEDIA_TYPE && !keyed
      ? 'the attestation is a DSSE envelope signed with a key, not a keyless Sigstore bundle (no verify key was given)'
      : `the attestation is not signed (layer ${layerMediaType}, expected ${keyed ? DSSE_MEDIA_TYPE : SIGSTORE_BUNDLE_MEDIA_TYPE})`
  return { check: 'signature', ok: false, detail }
}

/** The checks on one provenance referrer's layer bytes, signed with a key. Pure. */
export function checkProvenance(
  layerMediaType: string,
  bytes: Buffer,
  policy: ProvenancePolicy
): Verdict {
  const checks: Check[] = [FOUND]
  if (layerMediaType !== DSSE_MEDIA_TYPE || !policy.publicKey) {
    checks.push(wrongKind(layerMediaType, Boolean(policy.publicKey)))
    return verdict(checks)
  }
  try {
    const envelope = parseEnvelope(bytes)
    const result = verifyEnvelope(envelope, policy.publicKey)
    if (!result.ok) {
      checks.push({ check: 'signature', ok: false, detail: result.detail })
      return verdict(checks)
    }
    if (result.payloadType !== IN_TOTO_MEDIA_TYPE) {
      checks.push({
        check: 'signature',
        ok: false,
        detail: `signed payload of type ${result.payloadType}, expected ${IN_TOTO_MEDIA_TYPE}`
      })
      return verdict(checks)
    }
    checks.push({
      check: 'signature',
      ok: true,
      detail: `signed by the verify key (keyid ${result.keyid})`
    })
    return checkStatement(checks, result.payload, policy)
  } catch (error) {
    checks.push({ check: 'signature', ok: false, detail: errorMessage(error) })
    return verdict(checks)
  }
}

/**
 * The checks on a keyless referrer, given what verifying its Sigstore bundle found:
 * the signature, the certificate's identity, then the statement, which must agree with
 * the certificate on the repository and the commit. Pure.
 */
export function checkKeylessProvenance(bundle: BundleCheck, policy: ProvenancePolicy): Verdict {
  const checks: Check[] = [FOUND]
  if (!bundle.ok) {
    checks.push({ check: 'signature', ok: false, detail: bundle.detail })
    return verdict(checks)
  }
  checks.push({ check: 'signature', ok: true, detail: bundle.detail })
  const identity = checkIdentity(bundle.identity, {
    serverUrl: policy.serverUrl ?? 'https://github.com',
    allowedRepositories: policy.allowedRepositories
  })
  checks.push({ check: 'identity', ok: identity.ok, detail: identity.detail })
  if (!identity.ok) return verdict(checks)
  return checkStatement(checks, bundle.payload, policy, identity.signer)
}

/**
 * The statement checks on a verified payload (`checks` so far all passed): SLSA
 * provenance, the subject, the repository and the commit; with a keyless `signer`, the
 * repository and commit must be the certificate's.
 */
function checkStatement(
  checks: Check[],
  payload: Buffer,
  policy: ProvenancePolicy,
  signer?: Signer
): Verdict {
  let predicate: ProvenancePredicate
  let subjects: { name: string; digest: Record<string, string> }[]
  try {
    const statement = parseStatement(payload)
    if (statement.predicateType !== SLSA_PROVENANCE_V1) {
      throw new Error(`predicateType is ${statement.predicateType}, expected ${SLSA_PROVENANCE_V1}`)
    }
    predicate = statement.predicate as ProvenancePredicate
    const buildType = predicate?.buildDefinition?.buildType
    if (buildType !== BUILD_TYPE && buildType !== GITHUB_BUILD_TYPE) {
      throw new Error(
        `buildType ${JSON.stringify(buildType)} is not Conveyor's or GitHub's workflow buildType`
      )
    }
    subjects = statement.subject
    checks.push({
      check: 'statement',
      ok: true,
      detail: `SLSA provenance v1, buildType ${buildType}`
    })
  } catch (error) {
    checks.push({ check: 'statement', ok: false, detail: errorMessage(error) })
    return verdict(checks)
  }
  const hex = policy.digest.replace(/^sha256:/, '')
  const match = subjects.find(s => s.digest.sha256 === hex)
  checks.push(
    match
      ? { check: 'subject', ok: true, detail: `subject ${match.name}@sha256:${hex}` }
      : {
          check: 'subject',
          ok: false,
          detail: `no subject has digest ${policy.digest} (the statement is about ${subjects.map(s => `${s.name}@sha256:${s.digest.sha256 ?? '?'}`).join(', ')})`
        }
  )
  const url = String(predicate.buildDefinition.externalParameters?.workflow?.repository ?? '')
  checks.push(repositoryCheck(url, policy, signer))
  const dep = (predicate.buildDefinition.resolvedDependencies ?? []).find(
    d => typeof d.uri === 'string' && url !== '' && d.uri.startsWith(`git+${url}@`)
  )
  const commit = dep?.digest?.gitCommit
  checks.push(
    !commit || !/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(commit)
      ? {
          check: 'commit',
          ok: false,
          detail: 'the provenance names no git commit of the source repository'
        }
      : signer?.commit && signer.commit.toLowerCase() !== commit
        ? {
            check: 'commit',
            ok: false,
            detail: `the provenance names commit ${commit}, but the certificate was issued to a run of commit ${signer.commit}`
          }
        : { check: 'commit', ok: true, detail: `commit ${commit}` }
  )
  return verdict(checks, {
    source: {
      repository: url,
      commit: commit ?? '',
      builder: String(predicate.runDetails?.builder?.id ?? '')
    }
  })
}

/** The repository check: allowed, on this server, and (keyless) the certificate's. */
function repositoryCheck(url: string, policy: ProvenancePolicy, signer?: Signer): Check {
  const repo = repositoryOf(url)
  const allowed = policy.allowedRepositories.map(r => r.toLowerCase())
  const sameServer = !policy.serverUrl || repo?.origin === new URL(policy.serverUrl).origin
  if (!repo || !sameServer || !allowed.includes(repo.name.toLowerCase())) {
    return {
      check: 'repository',
      ok: false,
      detail: `built from ${url ? JSON.stringify(url) : 'no repository'}, expected ${policy.serverUrl ? `${policy.serverUrl}/` : ''}${policy.allowedRepositories.join(' or ')}`
    }
  }
  if (
    signer &&
    `${repo.origin}/${repo.name}`.toLowerCase() !== signer.repositoryUrl.toLowerCase()
  ) {
    return {
      check: 'repository',
      ok: false,
      detail: `the provenance says built from ${url}, but the certificate was issued to a run of ${signer.repositoryUrl}`
    }
  }
  return { check: 'repository', ok: true, detail: `built from ${url}` }
}

/** Whether a media type is a Sigstore bundle's (v0.3, or `+json;version=0.x`). */
function isBundle(mediaType: string | undefined): boolean {
  return Boolean(mediaType?.startsWith('application/vnd.dev.sigstore.bundle'))
}

/**
 * Whether a referrer may be SLSA provenance: by our annotation or
 * attest-build-provenance's, or a Sigstore bundle without either (cosign's fallback
 * tag drops them; the statement check tells).
 */
function isProvenance(d: Descriptor): boolean {
  const a = d.annotations ?? {}
  const predicate = a[PREDICATE_TYPE_ANNOTATION] ?? a[BUNDLE_PREDICATE_ANNOTATION]
  return predicate === SLSA_PROVENANCE_V1 || (predicate === undefined && isBundle(d.artifactType))
}

/**
 * The verdict on one referrer. Verifying a keyless bundle may fetch a trusted root: a
 * failure there (TrustedRootUnavailable) is not this image's, and is thrown.
 */
async function checkReferrer(
  client: RegistryClient,
  repository: string,
  ref: Descriptor,
  policy: ProvenancePolicy
): Promise<Verdict> {
  let att: FetchedAttestation
  try {
    att = await fetchAttestation(client, repository, ref)
  } catch (error) {
    return verdict(
      [
        {
          check: 'found',
          ok: false,
          detail: `referrer ${ref.digest} cannot be read: ${errorMessage(error)}`
        }
      ],
      { referrer: ref.digest }
    )
  }
  const keyless = !policy.publicKey && policy.sigstore && isBundle(att.layer.mediaType)
  const v = keyless
    ? checkKeylessProvenance(await verifyBundle(att.bytes, policy.sigstore!), policy)
    : checkProvenance(att.layer.mediaType, att.bytes, policy)
  return { ...v, referrer: ref.digest }
}

/**
 * Verify the provenance of `repository@policy.digest` in a registry: pass when one
 * provenance referrer passes every check; otherwise the verdict of the one that got
 * furthest (or `found` failing when there is none).
 */
export async function verifyImageProvenance(
  client: RegistryClient,
  repository: string,
  policy: ProvenancePolicy
): Promise<Verdict> {
  let referrers: Descriptor[]
  try {
    const listed = await listReferrers(client, repository, policy.digest)
    referrers = listed.referrers.filter(isProvenance)
  } catch (error) {
    return verdict([
      {
        check: 'found',
        ok: false,
        detail: `the referrers could not be listed: ${errorMessage(error)}`
      }
    ])
  }
  if (referrers.length === 0) {
    return verdict([
      {
        check: 'found',
        ok: false,
        detail: `no SLSA provenance attestation refers to ${policy.digest}`
      }
    ])
  }
  let best: Verdict | undefined
  for (const ref of referrers) {
    const v = await checkReferrer(client, repository, ref, policy)
    if (v.ok) return v
    if (!best || v.checks.filter(c => c.ok).length > best.checks.filter(c => c.ok).length) best = v
  }
  return best!
}
