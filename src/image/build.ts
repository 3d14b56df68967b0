/**
 * One image job: its inputs hashed (the context's files, the Dockerfile, the base
 * images' digests), then either promoted (the registry already holds an image built
 * from identical inputs, `<image>:ctx-<hash>`: the new tags are PUT onto that manifest
 * through the registry API, no builder runs) or built and pushed by a backend, tagged,
 * and marked with its context tag last.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { childEnv } from '../core/exec.js'
import type { Logger } from '../core/logger.js'
import { runnerTemp } from '../core/outputs.js'
import { parseImageRef, type ImageRef } from '../model/image-ref.js'
import { removeAuthDir, writeAuthDir, type AuthDir } from './auth-dir.js'
import {
  BuildFailedError,
  cacheRefFor,
  detectBackend,
  localImageDigest,
  runBuild,
  type Detection
} from './backends.js'
import { attestBuilt, findAttestations, locateBuilderStore, startScan } from './attest/attach.js'
import { baseImages, resolveBaseDigests, type BaseResolution } from './base-images.js'
import { contextFiles, contextTag, hashBuildInputs } from './context-hash.js'
import { withResult, type ImageJob, type Outcome } from './job.js'
import { imageSize, openRegistry, promoteBuilt, putTags } from './promote.js'
import type { RegistryClient } from './registry.js'
import { imageMetadata } from './tagging.js'

/** What the caller is told while a build runs. */
export interface BuildHooks {
  /**
   * The builders' login was written to `dir` (for `registry`): the post step removes
   * it should this process be killed before it does.
   */
  loginWritten?(dir: string, registry: string): void
}

type Hashed = Awaited<ReturnType<typeof hashBuildInputs>> & {
  trustworthy: boolean
  bases: BaseResolution['resolved']
}

/**
 * Start hashing the build inputs: the base images are looked up (in our registry with
 * `client`, so that the connection opened here serves the calls that follow) while the
 * context's files (`listing`, already under way) are hashed.
 */
async function hashInputs(
  job: ImageJob,
  dockerfileText: string,
  listing: ReturnType<typeof contextFiles>,
  client: RegistryClient,
  local: (ref: string) => Promise<string | undefined>,
  log: Logger
): Promise<{ h: Awaited<ReturnType<typeof hashBuildInputs>>; bases: BaseResolution }> {
  const { target, login } = job
  const resolving = resolveBaseDigests(baseImages(dockerfileText, target.buildArgs), login, {
    logger: log,
    local,
    clients: new Map([[login.registry, client]])
  })
  const baseDigests = resolving.then(b => b.resolved)
  // Awaited below; marked handled so that a hashing error first leaves no stray rejection.
  resolving.catch(() => undefined)
  baseDigests.catch(() => undefined)
  const h = await hashBuildInputs(target.context, {
    dockerfileContent: dockerfileText,
    buildArgs: target.buildArgs,
    target: target.target,
    platforms: target.platforms,
    // The user's labels as written: the computed ones (created, revision) change every run.
    labels: job.tagging.labels,
    baseDigests,
    files: listing
  })
  return { h, bases: await resolving }
}

/** Log what the hash covered; it is trustworthy when every base image's digest is known. */
async function hashed(inputsHashed: ReturnType<typeof hashInputs>, log: Logger): Promise<Hashed> {
  const { h, bases } = await inputsHashed
  for (const b of bases.resolved) log.info(`base image ${b.ref}: ${b.digest}`)
  for (const b of bases.unresolved)
    log.warning(
      `base image ${b.ref}: digest unknown (${b.reason}); build avoidance is off for this build`
    )
  log.info(
    `content hash ${h.hash} over ${h.files} files (${h.bytes} bytes, ${h.git ? 'git-tracked and untracked-not-ignored' : 'all files'}, honouring .dockerignore)`
  )
  return { ...h, trustworthy: bases.unresolved.length === 0, bases: bases.resolved }
}

/**
 * The builders' login (only a build needs it: a promotion talks to the registry
 * itself), written under RUNNER_TEMP; `hooks.loginWritten` hears of it at once.
 */
function writeLogin(job: ImageJob, backend: string, hooks: BuildHooks, log: Logger): AuthDir {
  const { login } = job
  const auth = writeAuthDir(runnerTemp(), login)
  try {
    hooks.loginWritten?.(auth.dir, login.registry)
  } catch (error) {
    removeAuthDir(auth.dir)
    throw error
  }
  if (login.ca && backend !== 'buildah') {
    log.warning(
      `registry-ca-cert: the action's own registry calls trust this CA, but the ${backend} daemon must trust it too (/etc/docker/certs.d/${login.registry}/ca.crt, or the buildkitd config of the builder)`
    )
  }
  return auth
}

/** Everything a backend build needs beyond the job. */
interface BackendRun {
  job: ImageJob
  image: ImageRef
  tags: string[]
  labels: Map<string, string>
  detection: Detection
  auth: AuthDir
  env: NodeJS.ProcessEnv
  log: Logger
}

/** Run the backend: the cache chosen, the image built (and pushed, when asked). */
async function buildWithBackend(
  r: BackendRun
): Promise<{ cacheRef?: string; built: { digest?: string; imageId?: string } }> {
  const { job, image, auth, log } = r
  const { backend, buildkit } = r.detection
  // The classic docker builder has no registry cache: say so rather than pretend.
  const classic = backend === 'docker' && !buildkit
  if (classic && job.cache !== 'none') {
    log.info(
      'cache: the classic docker builder (no buildx) has no registry cache; building without'
    )
  }
  const cacheRef =
    job.cache === 'none' || classic
      ? undefined
      : job.cache === 'registry'
        ? cacheRefFor(backend, image.name)
        : job.cache
  const work = join(runnerTemp(), `build-${process.pid}-${Date.now()}`)
  const spec = {
    context: job.target.context,
    dockerfile: job.target.dockerfile,
    ref: `${image.name}:${r.tags[0]}`,
    buildArgs: [...job.target.buildArgs],
    labels: [...r.labels],
    secrets: job.secrets,
    platforms: job.target.platforms,
    target: job.target.target,
    cacheRef,
    push: job.push,
    network: job.network,
    authDir: auth.dir,
    certDir: auth.certDir,
    insecure: job.login.insecure,
    idFile: `${work}-id`
  }
  try {
    const built = await log.group(`Build with ${backend}`, () =>
      runBuild(
        backend,
        spec,
        { logger: log, env: r.env, timeoutMs: job.timeoutMs },
        {
          digestFile: `${work}-digest`,
          readFile: p => (existsSync(p) ? readFileSync(p, 'utf8') : undefined)
        },
        buildkit
      )
    )
    return { cacheRef, built }
  } catch (error) {
    if (error instanceof BuildFailedError) {
      log.error(`${error.message}\n${error.tail}`, { title: `build of ${job.target.name} failed` })
    }
    throw error
  }
}

/**
 * Build one image job, or promote the image identical inputs built before. The
 * builders' login lives only as long as the build; `hooks.loginWritten` hears of it.
 */
export async function buildImage(
  job: ImageJob,
  log: Logger,
  hooks: BuildHooks = {}
): Promise<Outcome> {
  const { target, source } = job
  const startedOn = new Date()
  const image = parseImageRef(target.image)
  const env = childEnv()

  // The builder is only needed to build (or to read a local base image): detect it lazily,
  // so that a promotion of an unchanged image starts no builder process at all.
  let detection: Detection | undefined
  const chooseBackend = async (): Promise<Detection> => {
    if (!detection) {
      detection = await detectBackend(job.backend, env)
      log.info(`backend: ${detection.backend} (${detection.why})`)
    }
    return detection
  }

  // git lists the context's files first (read-only): starting a process holds this thread
  // for ~10 ms, which here delays nothing, and the listing then runs while the tags are
  // worked out and the registry answers. Started later, the wait for it would hold up the
  // TLS handshake and the first request.
  const listing = contextFiles(target.context)
  // Awaited by the hash (marked handled so that an early failure leaves no stray rejection).
  listing.catch(() => undefined)
  // The tags and labels first: a bad rule, an expression that names nothing, a tag a registry
  // refuses or one that holds a secret fails before any connection is opened.
  const meta = imageMetadata(
    job.tagging,
    { name: image.name, service: target.name },
    source.metadata,
    log
  )
  const { tags, labels } = meta
  const client = openRegistry(job.login, log)
  // The TLS handshake runs while the Dockerfile is read and git lists the context: the
  // first registry call finds the connection ready. One turn of the event loop sends the
  // TLS hello before that synchronous work begins.
  if (job.push) {
    client.preconnect()
    await new Promise(resolve => setImmediate(resolve))
  }
  const dockerfileText = readFileSync(target.dockerfile, 'utf8')
  let auth: AuthDir | undefined
  try {
    // The registry connection (the base images' lookup) and git's list of the context's
    // files start first.
    const inputsHashed = hashInputs(
      job,
      dockerfileText,
      listing,
      client,
      async ref => localImageDigest((await chooseBackend()).backend, ref, env),
      log
    )
    // Awaited below (marked handled so that an early failure leaves no stray rejection).
    inputsHashed.catch(() => undefined)
    // The first registry call (a base image in our registry, or the ctx tag lookup) also
    // checks the login; without one, an explicit ping does before a long build.
    let loginChecked = false
    const hashing = await log.group('Hash the build inputs', () => hashed(inputsHashed, log))
    const ctxTag = contextTag(hashing.hash)
    const outcome = {
      service: target.name,
      image: image.name,
      platforms: target.platforms,
      version: meta.version,
      labels,
      contextHash: hashing.hash,
      files: hashing.files
    }

    // Build avoidance: the registry already has an image built from these inputs.
    let why: string
    if (!job.reuse) why = 'reuse: false forces a build'
    else if (!hashing.trustworthy)
      why = 'a base image digest is unknown, so unchanged inputs cannot be proven'
    else if (!job.push) why = 'push: false (build only)'
    else {
      const promoted = await promoteBuilt(client, image, ctxTag, tags, target.name, log, m =>
        findAttestations(client, image, m, job.attest, log)
      )
      loginChecked = true
      if (promoted) {
        const { manifest, found: attestations } = promoted
        return withResult(
          {
            ...outcome,
            kind: 'reused',
            tags: tags.map(t => `${image.name}:${t}`),
            digest: manifest.digest,
            why: `${ctxTag} already in the registry: identical build inputs were built before`,
            size: await imageSize(client, image.repository, manifest),
            pushed: true,
            cache: 'not needed',
            attestations
          },
          source
        )
      }
      why = `no image for these inputs yet (${ctxTag} not in the registry)`
    }
    log.info(`building: ${why}`)
    if (job.push && !loginChecked) {
      // Fail fast on a bad login or an unreachable registry, before a long build.
      await log.group(`Log in to ${job.login.registry}`, async () => {
        const { authScheme } = await client.ping()
        log.info(`registry ${client.host} answers (${authScheme} authentication)`)
      })
    }
    const detected = await chooseBackend()
    const { backend } = detected
    auth = writeLogin(job, backend, hooks, log)
    // Beside the build: where buildah keeps the image, for the SBOM's scan after it.
    const store = job.push
      ? locateBuilderStore(job.attest, backend, target.platforms, env)
      : undefined
    const { cacheRef, built } = await buildWithBackend({
      job,
      image,
      tags,
      labels,
      detection: detected,
      auth,
      env,
      log
    })
    const cache = cacheRef ?? 'none'
    if (!job.push) {
      const id = built.imageId
        ? built.imageId.startsWith('sha256:')
          ? built.imageId
          : `sha256:${built.imageId}`
        : ''
      return { ...outcome, kind: 'built', tags: [], digest: id, why, backend, pushed: false, cache }
    }
    // The SBOM's scan of the image runs while the pushed manifest is read back and tagged.
    const local = { backend, ref: `${image.name}:${tags[0]}`, platforms: target.platforms }
    const scan = startScan(
      job.attest,
      { ...local, env, temp: runnerTemp(), imageId: built.imageId, store },
      log
    )
    // The backend pushed the first tag; read back exactly what the registry stored.
    const pushed = await client.getManifest(image.repository, tags[0]!)
    if (!pushed) throw new Error(`${image.name}:${tags[0]} is not in the registry after the push`)
    if (built.digest && built.digest !== pushed.digest) {
      log.warning(
        `${backend} reported ${built.digest}, the registry holds ${pushed.digest} under ${tags[0]}; using the registry's`
      )
    }
    await log.group('Tag', () => putTags(client, image.repository, pushed, tags.slice(1), log))
    const facts = { target, backend, contextTag: ctxTag, baseImages: hashing.bases, startedOn }
    const attestations = await attestBuilt(client, image, pushed, job.attest, log, {
      ...facts,
      scan
    })
    // The context tag goes last: it promises a complete, tagged and attested image.
    if (hashing.trustworthy) await putTags(client, image.repository, pushed, [ctxTag], log)
    return withResult(
      {
        ...outcome,
        kind: 'built',
        tags: tags.map(t => `${image.name}:${t}`),
        digest: pushed.digest,
        why,
        size: await imageSize(client, image.repository, pushed),
        backend,
        pushed: true,
        cache,
        attestations
      },
      source
    )
  } finally {
    // The credentials live only as long as the build: remove them now; the post step
    // is the safety net for a main step that was killed.
    if (auth) removeAuthDir(auth.dir)
    // The registry connection is left to the end of the process (endProcess follows the
    // step): every answer is in, and closing an HTTP/2 session costs ~5 ms of this
    // thread's time, a tenth of a promotion.
  }
}
