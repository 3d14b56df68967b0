/**
 * Who signed a keyless attestation, and whether that is allowed. Fulcio issues the
 * signing certificate for the OIDC token of a GitHub Actions run and writes the token's
 * claims into it: the OIDC issuer (Fulcio extension 1.3.6.1.4.1.57264.1.8, or .1.1 in
 * older certificates), the workflow that signed as the URI subject alternative name
 * (`https://<GitHub host>/<owner>/<repo>/.github/workflows/<file>@<ref>`, the token's
 * `job_workflow_ref`), and the run's source repository and commit (.1.12 and .1.13;
 * .1.5 and .1.3 in older ones). See Fulcio's docs/oid-info.md.
 *
 * The repository a run belongs to is the source repository, not the signer workflow:
 * a reusable workflow (Conveyor's own pipeline.yml) signs with its own file as the
 * subject alternative name, while the source repository is the caller's. So the
 * source repository must be one of the allowed ones; the signer workflow must be a
 * workflow of the same GitHub; and the issuer must be the one GitHub Actions uses there
 * (`https://token.actions.githubusercontent.com` on github.com, also with an
 * enterprise's slug appended when it set a custom issuer; `https://token.actions.<tenant>.ghe.com`
 * on GitHub Enterprise Cloud with data residency; `https://<host>/_services/token` on
 * GitHub Enterprise Server, as its OIDC reference documents). Pure.
 */

/** The OID arc of Fulcio's certificate extensions. */
export const FULCIO_ARC = '1.3.6.1.4.1.57264.'

/** The Fulcio certificate extensions read here. */
export const FULCIO_OID = {
  issuerV1: '1.3.6.1.4.1.57264.1.1',
  workflowShaV1: '1.3.6.1.4.1.57264.1.3',
  workflowRepositoryV1: '1.3.6.1.4.1.57264.1.5',
  issuer: '1.3.6.1.4.1.57264.1.8',
  sourceRepositoryUri: '1.3.6.1.4.1.57264.1.12',
  sourceRepositoryDigest: '1.3.6.1.4.1.57264.1.13'
} as const

/** GitHub Actions' OIDC issuer on github.com. */
export const GITHUB_ACTIONS_ISSUER = 'https://token.actions.githubusercontent.com'

/** What a verified signing certificate says about its holder. */
export interface CertificateIdentity {
  /** The URI subject alternative name. */
  subjectAlternativeName?: string
  /** Fulcio extensions by dotted OID, each decoded to text. */
  extensions: Record<string, string>
}

/** What to allow. */
export interface IdentityPolicy {
  /** This GitHub (`https://github.com`, a GHES or ghe.com URL). */
  serverUrl: string
  /** `owner/name` of the repositories whose runs may have signed (case-insensitive). */
  allowedRepositories: string[]
}

/** The run that signed, as the certificate names it. */
export interface Signer {
  /** The source repository's URL (`https://github.com/acme/shop`). */
  repositoryUrl: string
  /** The source commit, when the certificate names one. */
  commit?: string
  /** The signer workflow (the subject alternative name). */
  workflow: string
}

/** The outcome of the identity check. */
export type IdentityCheck =
  { ok: true; detail: string; signer: Signer } | { ok: false; detail: string }

/**
 * The text of a Fulcio extension's value: the extensions from .1.8 on hold a DER
 * UTF8String, the older ones the bare text.
 */
export function extensionText(value: Uint8Array): string {
  const bytes = Buffer.from(value)
  if (bytes[0] === 0x0c && bytes.length >= 2) {
    let length = bytes[1]!
    let start = 2
    if (length & 0x80) {
      const n = length & 0x7f
      if (n < 1 || n > 3 || bytes.length < 2 + n) return bytes.toString('utf8')
      length = 0
      for (let i = 0; i < n; i++) length = length * 256 + bytes[2 + i]!
      start = 2 + n
    }
    if (start + length === bytes.length) return bytes.subarray(start).toString('utf8')
  }
  return bytes.toString('utf8')
}

/** The OIDC issuers GitHub Actions uses on a server; `prefix` admits an enterprise slug after it. */
export function expectedIssuer(serverUrl: string): { issuer: string; prefix?: string } {
  const url = new URL(serverUrl)
  const host = url.hostname.toLowerCase()
  if (host === 'github.com')
    return { issuer: GITHUB_ACTIONS_ISSUER, prefix: `${GITHUB_ACTIONS_ISSUER}/` }
  const tenant = /^([a-z0-9-]+)\.ghe\.com$/.exec(host)?.[1]
  if (tenant) return { issuer: `https://token.actions.${tenant}.ghe.com` }
  return { issuer: `${url.origin}/_services/token` }
}

/** Whether `issuer` is GitHub Actions' on this server. */
export function issuerMatches(issuer: string, serverUrl: string): boolean {
  const want = expectedIssuer(serverUrl)
  if (issuer === want.issuer) return true
  return Boolean(
    want.prefix &&
    issuer.startsWith(want.prefix) &&
    /^[A-Za-z0-9_-]+$/.test(issuer.slice(want.prefix.length))
  )
}

/** A workflow identity: `https://<host>/<owner>/<repo>/.github/workflows/<file>@<ref>`. */
export interface WorkflowIdentity {
  origin: string
  repository: string
  path: string
  ref: string
}

/** Parse a subject alternative name as a GitHub Actions workflow identity; undefined when it is not one. */
export function parseWorkflowIdentity(san: string): WorkflowIdentity | undefined {
  let url: URL
  try {
    url = new URL(san)
  } catch {
    return undefined
  }
  if (url.protocol !== 'https:' || url.search || url.hash || url.username) return undefined
  let path: string
  try {
    path = decodeURIComponent(url.pathname)
  } catch {
    return undefined
  }
  const m = /^\/([^/@]+)\/([^/@]+)\/(\.github\/workflows\/[^@]+)@(.+)$/.exec(path)
  if (!m) return undefined
  return { origin: url.origin, repository: `${m[1]}/${m[2]}`, path: m[3]!, ref: m[4]! }
}

/** `owner/name` of an `https://host/owner/name[.git]` URL, and its origin; undefined for anything else. */
export function repositoryOf(url: string): { origin: string; name: string } | undefined {
  try {
    const u = new URL(url)
    const name = u.pathname.replace(/^\/+|\/+$/g, '').replace(/\.git$/, '')
    return /^[^/]+\/[^/]+$/.test(name) ? { origin: u.origin, name } : undefined
  } catch {
    return undefined
  }
}

/** Check a verified certificate's identity against the policy. */
export function checkIdentity(
  identity: CertificateIdentity,
  policy: IdentityPolicy
): IdentityCheck {
  const server = new URL(policy.serverUrl).origin
  const ext = identity.extensions
  const issuer = ext[FULCIO_OID.issuer] ?? ext[FULCIO_OID.issuerV1]
  if (!issuer || !issuerMatches(issuer, policy.serverUrl)) {
    return {
      ok: false,
      detail: `the certificate was issued for OIDC issuer ${issuer ? JSON.stringify(issuer) : '(none)'}, expected ${expectedIssuer(policy.serverUrl).issuer} (GitHub Actions on ${server})`
    }
  }
  const san = identity.subjectAlternativeName ?? ''
  const workflow = parseWorkflowIdentity(san)
  if (!workflow || workflow.origin !== server) {
    return {
      ok: false,
      detail: `the certificate identity ${san ? JSON.stringify(san) : '(none)'} is not a GitHub Actions workflow of ${server} (${server}/<owner>/<repo>/.github/workflows/<file>@<ref>)`
    }
  }
  // The run's repository: the source repository extension, else the older one, else the signer's.
  const sourceUri = ext[FULCIO_OID.sourceRepositoryUri]
  const legacy = ext[FULCIO_OID.workflowRepositoryV1]
  const source = sourceUri
    ? repositoryOf(sourceUri)
    : legacy
      ? repositoryOf(`${server}/${legacy}`)
      : { origin: workflow.origin, name: workflow.repository }
  if (!source || source.origin !== server) {
    return {
      ok: false,
      detail: `the certificate names source repository ${JSON.stringify(sourceUri ?? legacy)}, not a repository of ${server}`
    }
  }
  const allowed = policy.allowedRepositories.map(r => r.toLowerCase())
  const reusable = workflow.repository.toLowerCase() !== source.name.toLowerCase()
  if (!allowed.includes(source.name.toLowerCase())) {
    return {
      ok: false,
      detail: `the certificate was issued to a workflow run of ${source.name} (workflow ${san}${reusable ? ', a reusable workflow' : ''}), expected ${policy.allowedRepositories.join(' or ')}`
    }
  }
  const commit = ext[FULCIO_OID.sourceRepositoryDigest] ?? ext[FULCIO_OID.workflowShaV1]
  return {
    ok: true,
    detail: `signed by workflow ${san}${reusable ? ` (a reusable workflow called by ${source.name})` : ''}, issuer ${issuer}`,
    signer: {
      repositoryUrl: `${server}/${source.name}`,
      ...(commit ? { commit } : {}),
      workflow: san
    }
  }
}
