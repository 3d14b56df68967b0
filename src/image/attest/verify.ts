/**
 * Verification of an image's provenance before a deploy: find the SLSA provenance
 * referrers of the digest, and pass when one of them (1) is a DSSE envelope whose
 * signature verifies with the given public key, (2) holds an in-toto statement with the
 * SLSA v1 predicate and a subject whose sha256 is the deployed digest, (3) names an
 * allowed source repository, and (4) names the commit it was built from. Every check
 * says what it found, so a refusal names the image and the check that failed. The checks
 * are pure (`checkProvenance`); `verifyImageProvenance` does the registry reads.
 */
import type { KeyObject } from 'node:crypto'
import { errorMessage } from '../../core/errors.js'
import type { RegistryClient } from '../registry.js'
import { DSSE_MEDIA_TYPE, parseEnvelope, verifyEnvelope } from './dsse.js'
import type { Descriptor } from './oci.js'
import { BUILD_TYPE, SLSA_PROVENANCE_V1, type ProvenancePredicate } from './provenance.js'
import { fetchAttestation, listReferrers } from './referrers.js'
import { IN_TOTO_MEDIA_TYPE, parseStatement } from './statement.js'

/** GitHub's workflow buildType: its externalParameters.workflow is read the same way. */
export const GITHUB_BUILD_TYPE = 'https://actions.github.io/buildtypes/workflow/v1'

/** The checks, in the order they run. */
export type CheckName = 'found' | 'signature' | 'statement' | 'subject' | 'repository' | 'commit'

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
  publicKey: KeyObject
  /** Allowed source repositories, `owner/name` (compared case-insensitively). */
  allowedRepositories: string[]
  /** When set, the repository URL must be on this server (`https://github.com`). */
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

/** `owner/name` of an `https://host/owner/name` URL, and its origin. */
function repositoryOf(url: string): { origin: string; name: string } | undefined {
  try {
    const u = new URL(url)
    const name = u.pathname.replace(/^\/+|\/+$/g, '').replace(/\.git$/, '')
    return /^[^/]+\/[^/]+$/.test(name) ? { origin: u.origin, name } : undefined
  } catch {
    return undefined
  }
}

/** The checks on one provenance referrer's layer bytes. Pure. */
export function checkProvenance(
  layerMediaType: string,
  bytes: Buffer,
  policy: ProvenancePolicy
): Verdict {
  const checks: Check[] = [
    { check: 'found', ok: true, detail: 'a provenance attestation is attached' }
  ]
  if (layerMediaType !== DSSE_MEDIA_TYPE) {
    checks.push({
      check: 'signature',
      ok: false,
      detail: `the attestation is not signed (layer ${layerMediaType}, expected ${DSSE_MEDIA_TYPE})`
    })
    return verdict(checks)
  }
  let payload: Buffer
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
    payload = result.payload
    checks.push({
      check: 'signature',
      ok: true,
      detail: `signed by the verify key (keyid ${result.keyid})`
    })
  } catch (error) {
    checks.push({ check: 'signature', ok: false, detail: errorMessage(error) })
    return verdict(checks)
  }
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
  const repo = repositoryOf(url)
  const allowed = policy.allowedRepositories.map(r => r.toLowerCase())
  const sameServer = !policy.serverUrl || repo?.origin === new URL(policy.serverUrl).origin
  checks.push(
    repo && sameServer && allowed.includes(repo.name.toLowerCase())
      ? { check: 'repository', ok: true, detail: `built from ${url}` }
      : {
          check: 'repository',
          ok: false,
          detail: `built from ${url ? JSON.stringify(url) : 'no repository'}, expected ${policy.serverUrl ? `${policy.serverUrl}/` : ''}${policy.allowedRepositories.join(' or ')}`
        }
  )
  const dep = (predicate.buildDefinition.resolvedDependencies ?? []).find(
    d => typeof d.uri === 'string' && url !== '' && d.uri.startsWith(`git+${url}@`)
  )
  const commit = dep?.digest?.gitCommit
  checks.push(
    commit && /^[0-9a-f]{40}([0-9a-f]{24})?$/.test(commit)
      ? { check: 'commit', ok: true, detail: `commit ${commit}` }
      : {
          check: 'commit',
          ok: false,
          detail: 'the provenance names no git commit of the source repository'
        }
  )
  return verdict(checks, {
    source: {
      repository: url,
      commit: commit ?? '',
      builder: String(predicate.runDetails?.builder?.id ?? '')
    }
  })
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
    const signed = await listReferrers(client, repository, policy.digest, {
      predicateType: SLSA_PROVENANCE_V1
    })
    referrers = signed.referrers
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
    let v: Verdict
    try {
      const att = await fetchAttestation(client, repository, ref)
      v = { ...checkProvenance(att.layer.mediaType, att.bytes, policy), referrer: ref.digest }
    } catch (error) {
      v = verdict(
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
    if (v.ok) return v
    if (!best || v.checks.filter(c => c.ok).length > best.checks.filter(c => c.ok).length) best = v
  }
  return best!
}
