/**
 * The attestations of a pushed image, end to end: the SLSA provenance statement and the
 * SPDX SBOM (read from the root filesystem the backend built), each signed with the
 * signing key (a DSSE envelope), keylessly through Sigstore, or left unsigned, pushed as
 * OCI 1.1 referrers of the image's digest. A promotion builds none: it finds the ones
 * the promoted digest already has.
 */
import { relative, sep } from 'node:path'
import type { Logger } from '../../core/logger.js'
import type { ImageRef } from '../../model/image-ref.js'
import type { BackendName } from '../backends.js'
import type { ImageTarget } from '../job.js'
import type { ManifestInfo, RegistryClient } from '../registry.js'
import { DSSE_MEDIA_TYPE } from './dsse.js'
import { SIGSTORE_BUNDLE_MEDIA_TYPE, signKeyless, type KeylessOptions } from './keyless.js'
import type { SigningKey } from './keys.js'
import { PREDICATE_TYPE_ANNOTATION, statementBlob, type AttestationBlob } from './oci.js'
import { scanRootfs, type PackageScan } from './packages.js'
import {
  provenanceStatement,
  SLSA_PROVENANCE_V1,
  type ImageBuild,
  type WorkflowRun
} from './provenance.js'
import { listReferrers, pushAttestations } from './referrers.js'
import { locateStore, rootfsCleanups, withRootfs, type LocalImage } from './rootfs-backend.js'
import { sbomStatement } from './sbom.js'
import { SPDX_PREDICATE_TYPE } from './spdx.js'
import type { Statement } from './statement.js'
import type { StoreLocation } from './storage.js'

/** What to attest, and how to sign. */
export interface AttestJob {
  provenance: boolean
  sbom: boolean
  /** Sign with this key (DSSE). */
  key?: SigningKey
  /** Without a key: sign keylessly through Sigstore with these options. */
  keyless?: KeylessOptions
  /** The workflow run (required for provenance). */
  run?: WorkflowRun
  /** The checked-out repository: the context and Dockerfile are recorded relative to it. */
  workspace?: string
  toolVersion?: string
}

/** What the build knew of the image it pushed, for its provenance and SBOM. */
export interface BuiltImage {
  target: ImageTarget
  backend: BackendName
  /** The package scan of its root filesystem, started as soon as the backend was done. */
  scan?: Promise<PackageScan>
  contextTag?: string
  baseImages: { ref: string; digest: string }[]
  startedOn: Date
}

/** The provenance facts of a built image. Pure. */
export function imageBuildOf(
  image: ImageRef,
  digest: string,
  b: BuiltImage,
  job: AttestJob
): ImageBuild {
  const rel = (p: string): string =>
    job.workspace ? relative(job.workspace, p).split(sep).join('/') || '.' : p
  return {
    image: image.name,
    digest,
    service: b.target.name,
    context: rel(b.target.context),
    dockerfile: rel(b.target.dockerfile),
    platforms: b.target.platforms,
    buildArgNames: [...b.target.buildArgs.keys()],
    contextTag: b.contextTag,
    backend: b.backend,
    baseImages: b.baseImages
      .filter(x => /^sha256:[0-9a-f]{64}$/.test(x.digest))
      .map(x => ({ reference: x.ref, digest: x.digest })),
    startedOn: b.startedOn,
    finishedOn: new Date(),
    conveyorVersion: job.toolVersion
  }
}

/** Attest an image the backend just built and pushed; undefined when the job asks for none. */
export async function attestBuilt(
  client: RegistryClient,
  image: ImageRef,
  pushed: ManifestInfo,
  job: AttestJob | undefined,
  log: Logger,
  b: BuiltImage
): Promise<Attestations | undefined> {
  if (!attesting(job)) return undefined
  const build = imageBuildOf(image, pushed.digest, b, job)
  return log.group('Attest', async () => {
    try {
      return await attestImage(client, image, pushed, build, job, b.scan, log)
    } finally {
      // The scan's working container is removed in the background; it is gone before the step ends.
      await rootfsCleanups()
    }
  })
}

/** The referrer manifests of an image's attestations ('' when there is none). */
export interface Attestations {
  provenance: string
  sbom: string
  /** How they are signed: `key`, `keyless` or `none`. */
  signed: 'key' | 'keyless' | 'none'
  /** Pushed now (`pushed`) or found on the promoted digest (`found`). */
  how: 'pushed' | 'found'
}

/** Whether the job asks for any attestation. */
export function attesting(job: AttestJob | undefined): job is AttestJob {
  return Boolean(job && (job.provenance || job.sbom))
}

/**
 * Called as the build starts: with buildah and an SBOM to make, where buildah keeps its
 * storage is asked now (`buildah info`, beside the build), so that the scan can read the
 * image from there as soon as the build ends, with no buildah process of its own.
 * Undefined when there is nothing to prepare; the promise never rejects.
 */
export function locateBuilderStore(
  job: AttestJob | undefined,
  backend: BackendName,
  platforms: readonly string[],
  env: NodeJS.ProcessEnv
): Promise<StoreLocation | string> | undefined {
  if (!attesting(job) || !job.sbom || backend !== 'buildah' || platforms.length > 1)
    return undefined
  return locateStore(env)
}

/**
 * Start reading the SBOM's packages from the image the backend just built (the scan
 * runs while the pushed manifest is read back and tagged); undefined when no SBOM is
 * asked for.
 */
export function startScan(
  job: AttestJob | undefined,
  local: LocalImage,
  log: Logger
): Promise<PackageScan> | undefined {
  if (!attesting(job) || !job.sbom) return undefined
  const scan = scanImage(local, log)
  // Awaited by the Attest step; marked handled so that a failure before it leaves no stray rejection.
  scan.catch(() => undefined)
  return scan
}

/** The package scan of the image as built, or an empty one that says why. */
async function scanImage(local: LocalImage, log: Logger): Promise<PackageScan> {
  const result = await withRootfs(local, scanRootfs, log)
  if ('value' in result) return result.value
  return {
    packages: [],
    databases: [],
    warnings: [
      `the root filesystem could not be read (${result.unavailable}); the SBOM lists the image alone`
    ]
  }
}

/** Sign one statement as the job says. */
async function sign(statement: Statement, job: AttestJob): Promise<AttestationBlob> {
  if (job.key) return statementBlob(statement, job.key)
  if (job.keyless) return (await signKeyless(statement, job.keyless)).blob
  return statementBlob(statement)
}

/**
 * Make, sign and push the attestations of `build` (an image just pushed, `subject` its
 * manifest or index). Warnings of the package scan are logged as warnings.
 */
export async function attestImage(
  client: RegistryClient,
  image: ImageRef,
  subject: ManifestInfo,
  build: ImageBuild,
  job: AttestJob,
  scanning: Promise<PackageScan> | undefined,
  log: Logger
): Promise<Attestations> {
  const statements: Statement[] = []
  if (job.provenance) {
    if (!job.run) throw new Error('provenance: the workflow run is unknown')
    statements.push(provenanceStatement(job.run, build))
  }
  if (job.sbom && scanning) {
    const scan = await scanning
    for (const w of scan.warnings) log.warning(`sbom of ${image.name}: ${w}`)
    const dbs = scan.databases.join(', ') || 'no package database'
    log.info(`sbom: ${scan.packages.length} packages from ${dbs}`)
    statements.push(sbomStatement(image.name, subject.digest, scan, new Date(), job.toolVersion))
  }
  const blobs: AttestationBlob[] = []
  for (const s of statements) blobs.push(await sign(s, job))
  const descriptor = { mediaType: subject.mediaType, digest: subject.digest, size: subject.size }
  const pushed = await pushAttestations(client, image.repository, descriptor, blobs, log)
  const digestOf = (type: string): string =>
    pushed.manifests.find(d => d.annotations?.[PREDICATE_TYPE_ANNOTATION] === type)?.digest ?? ''
  const out: Attestations = {
    provenance: digestOf(SLSA_PROVENANCE_V1),
    sbom: digestOf(SPDX_PREDICATE_TYPE),
    signed: job.key ? 'key' : job.keyless ? 'keyless' : 'none',
    how: 'pushed'
  }
  const listed = pushed.via === 'api' ? 'the referrers API' : 'the referrers tag'
  if (out.provenance)
    log.info(
      `provenance ${out.provenance} (${out.signed === 'none' ? 'unsigned' : `signed: ${out.signed}`}, listed by ${listed})`
    )
  if (out.sbom) log.info(`sbom ${out.sbom} (listed by ${listed})`)
  return out
}

/**
 * Attest a merged multi-platform index: its provenance (about the index digest, naming
 * the platforms); the SBOMs stay with the per-platform images, read from what was built.
 */
export async function attestMerged(
  client: RegistryClient,
  image: ImageRef,
  index: ManifestInfo,
  service: string,
  platforms: string[],
  job: AttestJob | undefined,
  log: Logger
): Promise<Attestations | undefined> {
  if (!job?.provenance) return undefined
  const build: ImageBuild = {
    image: image.name,
    digest: index.digest,
    service,
    platforms,
    finishedOn: new Date(),
    conveyorVersion: job.toolVersion
  }
  if (job.sbom)
    log.info('sbom: a merged index has none of its own; each platform image has its SBOM')
  return log.group('Attest', () =>
    attestImage(client, image, index, build, { ...job, sbom: false }, undefined, log)
  )
}

/**
 * The attestations a promoted digest already has (the first of each predicate type).
 * Nothing is pushed; a missing one is a warning (an image built before attestations
 * were on, or with them off).
 */
export async function findAttestations(
  client: RegistryClient,
  image: ImageRef,
  promoted: ManifestInfo,
  job: AttestJob | undefined,
  log: Logger
): Promise<Attestations | undefined> {
  if (!attesting(job)) return undefined
  const { digest } = promoted
  const { referrers } = await listReferrers(client, image.repository, digest)
  const first = (type: string): string =>
    referrers.find(d => d.annotations?.[PREDICATE_TYPE_ANNOTATION] === type)?.digest ?? ''
  const out: Attestations = {
    provenance: job.provenance ? first(SLSA_PROVENANCE_V1) : '',
    sbom: job.sbom ? first(SPDX_PREDICATE_TYPE) : '',
    signed: 'none',
    how: 'found'
  }
  const type = referrers.find(d => d.digest === (out.provenance || out.sbom))?.artifactType
  if (type === DSSE_MEDIA_TYPE) out.signed = 'key'
  else if (type === SIGSTORE_BUNDLE_MEDIA_TYPE) out.signed = 'keyless'
  for (const [what, on, value] of [
    ['provenance', job.provenance, out.provenance],
    ['sbom', job.sbom, out.sbom]
  ] as const) {
    if (!on) continue
    if (value) log.info(`${what}: kept ${value} of the promoted ${digest}`)
    else
      log.warning(
        `${image.name}@${digest} was promoted without ${what === 'sbom' ? 'an SBOM' : 'a provenance attestation'}: it was built without one, and a promotion builds none anew (reuse: false rebuilds it)`
      )
  }
  return out
}
