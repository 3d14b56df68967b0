/**
 * The trusted root of a keyless bundle when none is given, obtained the way
 * `gh attestation verify` and sigstore-js do: the signing certificate's issuer tells the
 * Sigstore instance (organization `sigstore.dev`: the public-good instance; `GitHub,
 * Inc.`: GitHub's, which signs for private and internal repositories), and that
 * instance's `trusted_root.json` is fetched from its TUF repository with @sigstore/tuf,
 * starting from a root shipped with the code (@sigstore/tuf's own seed for
 * tuf-repo-cdn.sigstore.dev; tuf-github-root.ts for tuf-repo.github.com), so a
 * tampered mirror or a man in the middle cannot change what is trusted. Each instance
 * is fetched once per run, into a cache directory the caller owns and removes. The
 * library is loaded on first use only.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import type { X509Certificate } from 'node:crypto'
import { join } from 'node:path'
import { errorMessage } from '../../core/errors.js'
import {
  trustRoots,
  type SigstoreTrust,
  type TrustedRootDocument,
  type TrustRoot
} from './sigstore-bundle.js'
import { GITHUB_TUF_ROOT } from './tuf-github-root.js'

/** The Sigstore instances whose trusted roots can be fetched. */
export type SigstoreInstance = 'public-good' | 'github'

/** A TUF repository: where it is, and the root to start from (none: @sigstore/tuf's seed). */
export interface TufMirror {
  url: string
  root?: object
}

/** The TUF repositories of the two instances. */
export const TUF_MIRRORS: Readonly<Record<SigstoreInstance, TufMirror>> = {
  'public-good': { url: 'https://tuf-repo-cdn.sigstore.dev' },
  github: { url: 'https://tuf-repo.github.com', root: GITHUB_TUF_ROOT }
}

/** How messages name an instance. */
export const INSTANCE_NAMES: Readonly<Record<SigstoreInstance, string>> = {
  'public-good': "Sigstore's public-good instance",
  github: "GitHub's Sigstore instance"
}

/** The trusted root of an instance could not be had (network, TUF metadata): no image can be verified. */
export class TrustedRootUnavailable extends Error {
  override name = 'TrustedRootUnavailable'
  constructor(
    readonly instance: SigstoreInstance,
    readonly url: string,
    cause: string
  ) {
    super(
      `could not obtain the trusted root of ${INSTANCE_NAMES[instance]} from ${url} (TUF): ${cause}`
    )
  }
}

/** The organization of a certificate's issuer (`O=`), from node's multi-line DN. */
export function issuerOrganization(issuer: string): string | undefined {
  for (const line of issuer.split('\n')) {
    if (line.startsWith('O=')) return line.slice(2).replace(/\\(.)/g, '$1')
  }
  return undefined
}

/** The instance that issued a Fulcio certificate, by its issuer's organization; undefined for another CA. */
export function instanceOf(issuer: string): SigstoreInstance | undefined {
  const org = issuerOrganization(issuer)
  return org === 'sigstore.dev' ? 'public-good' : org === 'GitHub, Inc.' ? 'github' : undefined
}

/** A cause chain in one line (TUF errors wrap the fetch error). */
function causes(error: unknown): string {
  const parts: string[] = []
  let e: unknown = error
  for (let i = 0; e && i < 4; i++) {
    const text = errorMessage(e)
    if (!parts.some(p => p.includes(text))) parts.push(text)
    e = (e as { cause?: unknown }).cause
  }
  return parts.join(': ')
}

/** Options of the TUF trust. */
export interface TufTrustOptions {
  /** A directory for TUF metadata; the caller removes it. */
  cacheDir: string
  /** The repositories (tests point these at a local TUF repository). */
  mirrors?: Readonly<Record<SigstoreInstance, TufMirror>>
  /** Per request. */
  timeoutMs?: number
}

/**
 * Trust by the instance that issued each bundle's certificate, its root fetched with
 * TUF on first need. A certificate of another issuer has no root: the bundle fails
 * its signature check. A fetch that fails throws TrustedRootUnavailable.
 */
export function tufTrust(options: TufTrustOptions): SigstoreTrust {
  const mirrors = options.mirrors ?? TUF_MIRRORS
  const fetched = new Map<SigstoreInstance, Promise<TrustRoot[]>>()
  const fetchRoot = async (instance: SigstoreInstance): Promise<TrustRoot[]> => {
    const mirror = mirrors[instance]
    const dir = join(options.cacheDir, instance)
    mkdirSync(dir, { recursive: true })
    let rootPath: string | undefined
    if (mirror.root) {
      rootPath = join(options.cacheDir, `${instance}.root.json`)
      writeFileSync(rootPath, JSON.stringify(mirror.root))
    }
    let doc: TrustedRootDocument
    try {
      const [{ getTrustedRoot }, { TrustedRoot }] = await Promise.all([
        import('@sigstore/tuf'),
        import('@sigstore/protobuf-specs')
      ])
      const root = await getTrustedRoot({
        mirrorURL: mirror.url,
        ...(rootPath ? { rootPath } : {}),
        cachePath: dir,
        timeout: options.timeoutMs ?? 10_000,
        retry: { retries: 2 }
      })
      doc = TrustedRoot.toJSON(root) as TrustedRootDocument
    } catch (error) {
      throw new TrustedRootUnavailable(instance, mirror.url, causes(error))
    }
    const [root] = await trustRoots([doc])
    return [{ ...root!, name: `${INSTANCE_NAMES[instance]} (${root!.name})` }]
  }
  return {
    rootsFor(leaf: X509Certificate): Promise<TrustRoot[] | string> {
      const instance = instanceOf(leaf.issuer)
      if (!instance) {
        return Promise.resolve(
          `its certificate is issued by ${leaf.issuer.replace(/\n/g, ', ')}, neither ${INSTANCE_NAMES['public-good']} nor ${INSTANCE_NAMES.github}, and no trusted root was given for it`
        )
      }
      let roots = fetched.get(instance)
      if (!roots) {
        roots = fetchRoot(instance)
        fetched.set(instance, roots)
      }
      return roots
    }
  }
}
