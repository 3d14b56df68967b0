/**
 * The root filesystem of an image as the backend that built it holds it, for the SBOM:
 * buildah's is read straight from its containers/storage (storage.ts: where the store is
 * was asked while the build ran, so no buildah process runs after it); when that store
 * cannot be read directly, buildah mounts a working container of the image (`buildah
 * from --pull=never`, `buildah mount`; the container is removed afterwards, in the
 * background). Docker creates a container of the image
 * (never started) and streams `docker export` through the tar selector, which writes
 * only the package databases into a temporary directory. BuildKit (buildx) keeps no
 * local image when it pushes, so there is no root filesystem to read locally.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { errorMessage } from '../../core/errors.js'
import { exec } from '../../core/exec.js'
import type { Logger } from '../../core/logger.js'
import type { BackendName } from '../backends.js'
import { directoryView, type RootView } from './rootfs.js'
import { parseBuildahInfo, storedRootfs, type StoreLocation } from './storage.js'
import { TarSelector } from './tar-select.js'

/** How to reach the image the backend just built. */
export interface LocalImage {
  backend: BackendName
  /** The reference the backend tagged it with (`<image>:<first tag>`). */
  ref: string
  /** Several platforms: buildah holds a manifest list, not one root filesystem. */
  platforms: readonly string[]
  env: NodeJS.ProcessEnv
  /** Where a temporary directory may go (RUNNER_TEMP). */
  temp: string
  /** The image ID the backend wrote (`sha256:<hex>`), when known. */
  imageId?: string
  /** buildah: where its storage is (`locateStore`), or why that is unknown. */
  store?: Promise<StoreLocation | string>
}

/** Why no root filesystem could be read, or undefined when `fn` ran. */
export type RootfsUnavailable = string

const TIMEOUT = 120_000

/**
 * Removals of the working container still under way: they run after the scan, off the
 * attestation's critical path, and `rootfsCleanups` waits for them before the step ends.
 */
const pending: Promise<void>[] = []

/** Wait for every container removal started by `withRootfs`. */
export async function rootfsCleanups(): Promise<void> {
  while (pending.length > 0) await pending.shift()
}

/** Remove a container in the background; a failure is a warning. */
function removeLater(command: string, id: string, env: NodeJS.ProcessEnv, log: Logger): void {
  pending.push(
    exec(command, ['rm', id], { env, timeoutMs: TIMEOUT, allowFailure: true }).then(
      rm => {
        if (rm.code !== 0) log.warning(`sbom: ${command} rm ${id} failed: ${rm.stderr.trim()}`)
      },
      (error: unknown) => log.warning(`sbom: ${command} rm ${id} failed: ${errorMessage(error)}`)
    )
  )
}

/**
 * Where buildah (with this environment, as the build has it) keeps its storage, from
 * `buildah info`; started with the build, so that it is known when the build ends.
 * Never rejects: a failure is the reason, a string.
 */
export async function locateStore(env: NodeJS.ProcessEnv): Promise<StoreLocation | string> {
  try {
    const info = await exec('buildah', ['info'], { env, timeoutMs: TIMEOUT, allowFailure: true })
    if (info.code !== 0) return `buildah info failed: ${info.stderr.trim().split('\n').pop()}`
    return parseBuildahInfo(info.stdout)
  } catch (error) {
    return `buildah info failed: ${errorMessage(error)}`
  }
}

/** `fn` on the image as its store holds it; the reason when the store cannot be read so. */
async function fromStore<T>(
  img: LocalImage,
  fn: (root: RootView) => T
): Promise<{ value: T; describe: string } | string> {
  const store = img.store ? await img.store : 'the store was not located'
  if (typeof store === 'string') return store
  const rootfs = await storedRootfs(store, { id: img.imageId, name: img.ref })
  if (typeof rootfs === 'string') return rootfs
  let value: T
  try {
    value = fn(rootfs.view)
  } catch (error) {
    return `reading it failed: ${errorMessage(error)}`
  }
  return rootfs.problem() ?? { value, describe: rootfs.describe }
}

async function buildahRootfs<T>(
  img: LocalImage,
  fn: (root: RootView) => T,
  log: Logger
): Promise<T> {
  const stored = await fromStore(img, fn)
  if (typeof stored !== 'string') {
    log.debug(`sbom: ${img.ref} read from its storage ${stored.describe}, no container`)
    return stored.value
  }
  log.debug(`sbom: ${img.ref} not read from its storage directly (${stored}); mounting it`)
  const name = `conveyor-sbom-${randomBytes(6).toString('hex')}`
  const opts = { env: img.env, timeoutMs: TIMEOUT }
  await exec('buildah', ['from', '--pull=never', '--quiet', '--name', name, img.ref], opts)
  try {
    const root = (await exec('buildah', ['mount', name], opts)).stdout.trim()
    log.debug(`sbom: ${img.ref} mounted at ${root}`)
    return fn(directoryView(root))
  } finally {
    removeLater('buildah', name, img.env, log)
  }
}

async function dockerRootfs<T>(
  img: LocalImage,
  fn: (root: RootView) => T,
  log: Logger
): Promise<T> {
  const opts = { env: img.env, timeoutMs: TIMEOUT }
  // A command is given so that an image without CMD can be created; it never runs.
  const id = (await exec('docker', ['create', img.ref, '/conveyor-sbom'], opts)).stdout.trim()
  const dir = mkdtempSync(join(img.temp, 'sbom-'))
  try {
    const selector = new TarSelector(dir)
    await exec('docker', ['export', id], {
      ...opts,
      maxOutputBytes: 64 * 1024,
      onStdout: chunk => selector.push(chunk)
    })
    selector.end()
    log.debug(`sbom: read from docker export: ${selector.extracted.join(', ') || 'nothing'}`)
    return fn(directoryView(dir))
  } finally {
    rmSync(dir, { recursive: true, force: true })
    removeLater('docker', id, img.env, log)
  }
}

/**
 * Run `fn` on the image's root filesystem. Returns `{ value }`, or `{ unavailable }`
 * saying why the root filesystem could not be read (the caller warns: the SBOM then
 * lists the image alone).
 */
export async function withRootfs<T>(
  img: LocalImage,
  fn: (root: RootView) => T,
  log: Logger
): Promise<{ value: T } | { unavailable: RootfsUnavailable }> {
  if (img.backend === 'buildx') {
    return {
      unavailable:
        'docker buildx pushes without keeping the image locally, so its root filesystem cannot be read'
    }
  }
  if (img.platforms.length > 1) {
    return {
      unavailable: `a ${img.platforms.length}-platform image has one root filesystem per platform; build one platform per leg and merge them to get an SBOM of each`
    }
  }
  try {
    return {
      value:
        img.backend === 'buildah'
          ? await buildahRootfs(img, fn, log)
          : await dockerRootfs(img, fn, log)
    }
  } catch (error) {
    return { unavailable: `${img.backend} could not expose it: ${errorMessage(error)}` }
  }
}
