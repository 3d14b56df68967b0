/**
 * `verify: provenance` of the deploy action, for both modes: before anything is written
 * (a config repository cloned, a host contacted), every image to deploy must have an
 * SLSA provenance referrer in its registry that verifies with `verify-key`, names one of
 * `allowed-sources` (default: this repository) and a commit, and whose subject is the
 * deployed digest (a tag-only reference is resolved to its digest first). Otherwise
 * the deploy is refused, with one error per image naming the image and the failed check.
 * The verifier itself is the image domain's (src/image/attest/verify.ts); this file
 * reads the inputs and drives it.
 */
import { existsSync, readFileSync } from 'node:fs'
import type { KeyObject } from 'node:crypto'
import { confinedPath } from '../../core/confine.js'
import { ConfigurationError, errorMessage, invalidInput } from '../../core/errors.js'
import { serverUrl as githubServerUrl } from '../../core/context.js'
import { caCertificate, type InputReader } from '../../core/inputs.js'
import type { Logger } from '../../core/logger.js'
import { secrets } from '../../core/secrets.js'
import { parseImageRef } from '../../model/image-ref.js'
import { parseVerifyKey } from '../../image/attest/keys.js'
import { verifyImageProvenance, type Verdict } from '../../image/attest/verify.js'
import { RegistryClient } from '../../image/registry.js'

/** What the verification inputs ask for. */
export interface VerifyInputs {
  mode: 'none' | 'provenance'
  publicKey?: KeyObject
  /** `owner/name` of the repositories an image may come from. */
  allowedSources: string[]
  serverUrl: string
  username?: string
  password?: string
  ca?: string
}

const SOURCE = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/

/** Read `verify`, `verify-key`, `allowed-sources` and the registry login; no I/O but the key file. */
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
  const sources = reader.list('allowed-sources')
  for (const s of sources) {
    if (!SOURCE.test(s)) throw invalidInput('allowed-sources', s, 'owner/name lines')
  }
  const ca = caCertificate(reader, 'registry-ca-cert', workspace)
  const serverUrl = githubServerUrl(env)
  const allowedSources =
    sources.length > 0 ? sources : env.GITHUB_REPOSITORY ? [env.GITHUB_REPOSITORY] : []
  if (mode === 'none') return { mode, allowedSources, serverUrl, username, password, ca }
  if (keyText === undefined) {
    throw new ConfigurationError(
      'input "verify-key" is required with verify: provenance (a PEM public key, or the path of one); verifying keyless Sigstore bundles is not supported yet'
    )
  }
  if (allowedSources.length === 0) {
    throw new ConfigurationError(
      'input "allowed-sources" is required outside a workflow run (GITHUB_REPOSITORY is not set)'
    )
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
 * Verify every image (nothing when `verify` is none). Throws one error when any fails,
 * after logging one error per image that failed; logs the passing verdicts.
 */
export async function verifyImages(
  images: ImageToVerify[],
  v: VerifyInputs,
  log: Logger
): Promise<void> {
  if (v.mode === 'none' || images.length === 0) return
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
        const verdict = await verifyImageProvenance(client, ref.repository, {
          digest,
          publicKey: v.publicKey!,
          allowedRepositories: v.allowedSources,
          serverUrl: v.serverUrl
        })
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
  }
  if (refused.length > 0) {
    throw new Error(
      `verify: provenance refused ${refused.length} of ${images.length} image(s); nothing was written:\n${refused.join('\n')}`
    )
  }
}
