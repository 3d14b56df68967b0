/**
 * `verify: provenance` of the deploy action, for both modes: before anything is written
 * (a config repository cloned, a host contacted), every image to deploy must have an
 * SLSA provenance referrer in its registry that verifies with `verify-key` or, without
 * one, a keyless Sigstore bundle whose certificate was issued to a workflow run of an
 * allowed repository (its trusted root from `sigstore-trusted-root`, else fetched with
 * TUF from the Sigstore instance that signed), names one of `allowed-sources` (default:
 * this repository) and a commit, and whose subject is the deployed digest (a tag-only
 * reference is resolved to its digest first). Otherwise the deploy is refused, with one
 * error per image naming the image and the failed check. The verifier itself is the
 * image domain's (src/image/attest/verify.ts); this file reads the inputs and drives it.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import type { KeyObject } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { confinedPath } from '../../core/confine.js'
import { ConfigurationError, errorMessage, invalidInput, quote } from '../../core/errors.js'
import { serverUrl as githubServerUrl } from '../../core/context.js'
import { caCertificate, type InputReader } from '../../core/inputs.js'
import type { Logger } from '../../core/logger.js'
import { secrets } from '../../core/secrets.js'
import { parseImageRef } from '../../model/image-ref.js'
import { parseVerifyKey } from '../../image/attest/keys.js'
import {
  fixedTrust,
  parseTrustedRootText,
  trustRoots,
  type SigstoreTrust,
  type TrustedRootDocument
} from '../../image/attest/sigstore-bundle.js'
import {
  TrustedRootUnavailable,
  tufTrust,
  type TufTrustOptions
} from '../../image/attest/sigstore-tuf.js'
import { verifyImageProvenance, type Verdict } from '../../image/attest/verify.js'
import { RegistryClient } from '../../image/registry.js'

/** What the verification inputs ask for. */
export interface VerifyInputs {
  mode: 'none' | 'provenance'
  /** Keyed: DSSE envelopes signed with this key. Without it: keyless Sigstore bundles. */
  publicKey?: KeyObject
  /** Keyless: the trusted roots given (`sigstore-trusted-root`); none: fetched with TUF. */
  trustedRoots?: TrustedRootDocument[]
  /** `owner/name` of the repositories an image may come from. */
  allowedSources: string[]
  serverUrl: string
  username?: string
  password?: string
  ca?: string
}

const SOURCE = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/

const TRUSTED_ROOT = 'sigstore-trusted-root'

/**
 * `sigstore-trusted-root`: JSON text, or the path of a file inside the workspace, holding
 * one trusted root or JSON lines of them; shape-checked here, loaded when used.
 */
function readTrustedRoots(text: string, workspace: string): TrustedRootDocument[] {
  let json = text
  let got = `JSON text of ${text.length} characters`
  if (!text.trimStart().startsWith('{')) {
    const path = text.trim()
    const full = confinedPath(workspace, path, {
      input: `input "${TRUSTED_ROOT}":`,
      hint: 'give the JSON text, or the path of a trusted_root.json of the checkout'
    })
    if (!statSync(full, { throwIfNoEntry: false })?.isFile()) {
      throw invalidInput(
        TRUSTED_ROOT,
        path,
        'the path of a Sigstore trusted_root.json inside the workspace, or its JSON text'
      )
    }
    json = readFileSync(full, 'utf8')
    got = `the file ${quote(path)}`
  }
  try {
    return parseTrustedRootText(json)
  } catch (error) {
    throw new ConfigurationError(
      `input "${TRUSTED_ROOT}": ${got} is not a Sigstore trusted root (${errorMessage(error)}); give a trusted_root.json as Sigstore's TUF repositories serve it, or the JSON lines gh attestation trusted-root prints`
    )
  }
}

/** Read `verify`, `verify-key`, `sigstore-trusted-root`, `allowed-sources` and the registry login; no I/O but the key and root files. */
export function getVerifyInputs(
  reader: InputReader,
  env: NodeJS.ProcessEnv = process.env
): VerifyInputs {
  const workspace = env.GITHUB_WORKSPACE || process.cwd()
  const password = reader.optional('registry-password', { secret: true })
  const username =
    reader.line('registry-username', {
      pattern: /^[^\s:]+$/,
      expected: 'a user name without spaces or colons'
    }) || (password ? env.GITHUB_ACTOR : undefined)
  if (password) secrets.add(password, { user: username, label: 'input "registry-password"' })
  const mode = reader.choice('verify', ['none', 'provenance'] as const, 'none')
  const keyText = reader.optional('verify-key')
  const rootText = reader.optional(TRUSTED_ROOT)
  const sources = reader.list('allowed-sources')
  for (const s of sources) {
    if (!SOURCE.test(s)) throw invalidInput('allowed-sources', s, 'owner/name lines')
  }
  const ca = caCertificate(reader, 'registry-ca-cert', workspace)
  const serverUrl = githubServerUrl(env)
  const allowedSources =
    sources.length > 0 ? sources : env.GITHUB_REPOSITORY ? [env.GITHUB_REPOSITORY] : []
  if (mode === 'none') return { mode, allowedSources, serverUrl, username, password, ca }
  if (allowedSources.length === 0) {
    throw new ConfigurationError(
      'input "allowed-sources" is required outside a workflow run (GITHUB_REPOSITORY is not set)'
    )
  }
  if (keyText !== undefined && rootText !== undefined) {
    throw new ConfigurationError(
      `inputs "verify-key" and "${TRUSTED_ROOT}" exclude each other: verify-key verifies DSSE envelopes signed with that key, ${TRUSTED_ROOT} keyless Sigstore bundles; set one`
    )
  }
  if (keyText === undefined) {
    const trustedRoots = rootText === undefined ? undefined : readTrustedRoots(rootText, workspace)
    return {
      mode,
      ...(trustedRoots ? { trustedRoots } : {}),
      allowedSources,
      serverUrl,
      username,
      password,
      ca
    }
  }
  let pem = keyText
  if (!keyText.includes('-----BEGIN')) {
    const path = confinedPath(workspace, keyText, {
      input: 'verify-key',
      hint: 'a path inside the workspace'
    })
    if (!existsSync(path))
      throw invalidInput(
        'verify-key',
        keyText,
        'a PEM public key, or the path of a file holding one'
      )
    pem = readFileSync(path, 'utf8')
  }
  return { mode, publicKey: parseVerifyKey(pem), allowedSources, serverUrl, username, password, ca }
}

/** One image to verify: how the deploy names it, and its reference. */
export interface ImageToVerify {
  label: string
  ref: string
}

/**
 * The images of SSH mode: `images` lines (`name=reference`), which SSH mode reads only
 * to verify them (the release's script pulls them).
 */
export function sshImages(reader: InputReader): ImageToVerify[] {
  return reader.list('images').map(line => {
    const eq = line.indexOf('=')
    if (eq <= 0)
      throw invalidInput('images', line, 'name=reference lines (cart=ghcr.io/acme/cart:1.2)')
    const ref = line.slice(eq + 1).trim()
    try {
      parseImageRef(ref)
    } catch (error) {
      throw invalidInput(
        'images',
        line,
        `name=reference lines (${errorMessage(error).slice(0, 200)})`
      )
    }
    return { label: line.slice(0, eq).trim(), ref }
  })
}

/** One line of the refusal: the image, the failed check, and what it found. */
export function refusalLine(image: ImageToVerify, verdict: Verdict): string {
  const failed = verdict.failed ?? verdict.checks.at(-1)
  return `${image.label} (${image.ref}): check "${failed?.check ?? 'found'}" failed: ${failed?.detail ?? 'no verdict'}`
}

/**
 * The trust of keyless verification (none when a verify key is given): the roots of
 * `sigstore-trusted-root`, or a TUF client per Sigstore instance with its own cache
 * directory (removed afterwards).
 */
async function keylessTrust(
  v: VerifyInputs,
  log: Logger,
  mirrors?: TufTrustOptions['mirrors']
): Promise<{ trust: SigstoreTrust; cacheDir?: string } | undefined> {
  if (v.publicKey) return undefined
  if (v.trustedRoots) {
    let roots: Awaited<ReturnType<typeof trustRoots>>
    try {
      roots = await trustRoots(v.trustedRoots)
    } catch (error) {
      throw new ConfigurationError(
        `input "${TRUSTED_ROOT}" is not a usable Sigstore trusted root: ${errorMessage(error)}`
      )
    }
    log.info(
      `keyless: Sigstore bundles are verified against the trusted root(s) of ${TRUSTED_ROOT}: ${roots.map(r => r.name).join('; ')}`
    )
    return { trust: fixedTrust(roots) }
  }
  const cacheDir = mkdtempSync(join(process.env.RUNNER_TEMP || tmpdir(), 'conveyor-sigstore-'))
  log.info(
    "keyless: Sigstore bundles are verified against the trusted root of the instance that signed them (Sigstore's public-good or GitHub's), fetched with TUF"
  )
  return { trust: tufTrust({ cacheDir, ...(mirrors ? { mirrors } : {}) }), cacheDir }
}

/**
 * Verify every image (nothing when `verify` is none). Throws one error when any fails,
 * after logging one error per image that failed; logs the passing verdicts. Keyless
 * without trusted roots, a root that cannot be fetched stops it with an error naming
 * `sigstore-trusted-root`. `tufMirrors` replaces Sigstore's TUF repositories (tests).
 */
export async function verifyImages(
  images: ImageToVerify[],
  v: VerifyInputs,
  log: Logger,
  options: { tufMirrors?: TufTrustOptions['mirrors'] } = {}
): Promise<void> {
  if (v.mode === 'none' || images.length === 0) return
  const keyless = await keylessTrust(v, log, options.tufMirrors)
  const clients = new Map<string, RegistryClient>()
  const clientFor = (host: string): RegistryClient => {
    let c = clients.get(host)
    if (!c) {
      c = new RegistryClient({
        registry: host,
        username: v.username,
        password: v.password,
        ca: v.ca,
        logger: log
      })
      clients.set(host, c)
    }
    return c
  }
  const refused: string[] = []
  try {
    await log.group(`Verify the provenance of ${images.length} image(s)`, async () => {
      for (const image of images) {
        const ref = parseImageRef(image.ref)
        const client = clientFor(ref.registry ?? 'docker.io')
        let digest = ref.digest
        try {
          if (!digest) {
            const found = await client.headManifest(ref.repository, ref.tag ?? 'latest')
            if (!found) throw new Error(`${ref.name}:${ref.tag ?? 'latest'} is not in the registry`)
            digest = found.digest
            log.info(`${image.ref} resolves to ${digest}`)
          }
        } catch (error) {
          const line = `${image.label} (${image.ref}): check "found" failed: the tag cannot be resolved to a digest: ${errorMessage(error)}`
          log.error(line)
          refused.push(line)
          continue
        }
        let verdict: Verdict
        try {
          verdict = await verifyImageProvenance(client, ref.repository, {
            digest,
            ...(v.publicKey ? { publicKey: v.publicKey } : { sigstore: keyless!.trust }),
            allowedRepositories: v.allowedSources,
            serverUrl: v.serverUrl
          })
        } catch (error) {
          if (!(error instanceof TrustedRootUnavailable)) throw error
          throw new Error(
            `verify: provenance ${error.message}; nothing was written. Set input "${TRUSTED_ROOT}" to a Sigstore trusted_root.json (gh attestation trusted-root prints them) to verify without fetching it`
          )
        }
        if (verdict.ok) {
          log.info(
            `${image.label} (${ref.name}@${digest}): verified: ${verdict.checks.map(c => c.detail).join('; ')}`
          )
        } else {
          const line = refusalLine(image, verdict)
          log.error(line, { title: `verify: ${image.label} refused` })
          refused.push(line)
        }
      }
    })
  } finally {
    await Promise.all([...clients.values()].map(c => c.close()))
    if (keyless?.cacheDir) rmSync(keyless.cacheDir, { recursive: true, force: true })
  }
  if (refused.length > 0) {
    throw new Error(
      `verify: provenance refused ${refused.length} of ${images.length} image(s); nothing was written:\n${refused.join('\n')}`
    )
  }
}
