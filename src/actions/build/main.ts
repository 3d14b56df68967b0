/**
 * The build action: one service's image, built and pushed, or, when the registry
 * already holds an image built from identical inputs (`<image>:ctx-<hash>`), not built
 * at all: the new tags are PUT onto that manifest through the registry API. In
 * `merge` mode it stitches per-platform digests into one OCI index.
 */
import { existsSync, readFileSync, statSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { removeAuthDir, writeAuthDir, type AuthDir } from '../../image/auth-dir.js'
import {
  BuildFailedError,
  cacheRefFor,
  detectBackend,
  localImageDigest,
  runBuild,
  type BackendName,
  type Detection
} from '../../image/backends.js'
import { hashBuildInputs } from '../../image/context-hash.js'
import { confinedPath } from '../../core/confine.js'
import { readEventPayload, runUrl, serverUrl } from '../../core/context.js'
import { childEnv } from '../../core/exec.js'
import { baseImages, resolveBaseDigests, type BaseResolution } from '../../image/base-images.js'
import { writeBuildResult, type BuildResult, RESULT_VERSION } from '../../model/build-result.js'
import { ConfigurationError } from '../../core/errors.js'
import { parseImageRef } from '../../model/image-ref.js'
import { computeLabels } from '../../image/labels.js'
import type { Logger } from '../../core/logger.js'
import { runnerTemp, saveState, setOutput } from '../../core/outputs.js'
import {
  isIndexType,
  MediaTypes,
  RegistryClient,
  sha256Digest,
  type Manifest,
  type RegistryLogin
} from '../../image/registry.js'
import { runMain } from '../../core/run.js'
import { code, Summary } from '../../core/summary.js'
import { computeTags, contextTag, type TagContext } from '../../image/tags.js'
import { findService, serviceImage, type ServicesConfig } from '../../model/services/config.js'
import { loadServices } from '../../model/services/load.js'
import { getInputs, refuseSecrets, type Inputs } from './inputs.js'

/** State keys shared with the post step. */
export enum State {
  AuthDir = 'auth-dir',
  Registry = 'registry'
}

/** What is built: a service from the services file, or explicit inputs. */
interface Target {
  name: string
  context: string
  dockerfile: string
  image: string
  buildArgs: Map<string, string>
  platforms: string[]
  target?: string
}

interface GitHubContext {
  tags: TagContext
  repository: string
  sourceUrl?: string
  runUrl?: string
  workspace: string
}

function githubContext(env = process.env): GitHubContext {
  const event = readEventPayload(env)
  const repo = event.repository as { default_branch?: string } | undefined
  const pr = event.pull_request as { number?: number; base?: { ref?: string } } | undefined
  const repository = env.GITHUB_REPOSITORY ?? ''
  return {
    tags: {
      eventName: env.GITHUB_EVENT_NAME ?? 'push',
      ref: env.GITHUB_REF ?? '',
      sha: env.GITHUB_SHA ?? '',
      defaultBranch: repo?.default_branch,
      prNumber: pr?.number,
      baseRef: pr?.base?.ref ?? env.GITHUB_BASE_REF
    },
    repository,
    sourceUrl: repository ? `${serverUrl(env)}/${repository}` : undefined,
    runUrl: runUrl(env),
    workspace: resolve(env.GITHUB_WORKSPACE ?? process.cwd())
  }
}

/** A path inside the workspace (symlinks resolved), or a ConfigurationError naming the input. */
function insideWorkspace(workspace: string, path: string, input: string): string {
  return confinedPath(workspace, path, {
    input,
    hint: 'builds may only read the checked-out repository'
  })
}

function withRegistry(image: string, registry: string | undefined): string {
  const parsed = parseImageRef(image)
  if (parsed.registry || !registry) return image
  return `${registry}/${image}`
}

/** Load the services file; loadServices refuses one that leads out of the workspace. */
async function services(inputs: Inputs, gh: GitHubContext): Promise<ServicesConfig> {
  return loadServices({ workspace: gh.workspace, config: inputs.config })
}

async function resolveTarget(inputs: Inputs, gh: GitHubContext, log: Logger): Promise<Target> {
  let target: Target
  if (inputs.service !== undefined) {
    const config = await services(inputs, gh)
    const svc = findService(config, inputs.service)
    log.info(`service ${svc.name}: context ${svc.context}, dockerfile ${svc.dockerfile}`)
    refuseSecrets(
      'build-args',
      Object.entries(svc.buildArgs ?? {}),
      `services file ${config.file ?? ''}, service "${svc.name}", build-args`
    )
    // Inputs win over the services file's defaults: say which value is used and why.
    const chosen = serviceImage(svc, config, inputs)
    log.info(`image ${chosen.image} (from ${chosen.from})`)
    target = {
      name: svc.name,
      context: inputs.context ?? svc.context,
      dockerfile: inputs.dockerfile ?? svc.dockerfile,
      image: chosen.image,
      buildArgs: new Map<string, string>([
        ...Object.entries(svc.buildArgs ?? {}),
        ...inputs.buildArgs
      ]),
      platforms: inputs.platforms.length > 0 ? inputs.platforms : (svc.platforms ?? []),
      target: inputs.target ?? svc.target
    }
  } else {
    const context = inputs.context!
    const name = parseImageRef(inputs.image!).repository.split('/').pop()!
    target = {
      name,
      context,
      dockerfile: inputs.dockerfile ?? join(context, 'Dockerfile'),
      image: inputs.image!,
      buildArgs: inputs.buildArgs,
      platforms: inputs.platforms,
      target: inputs.target
    }
  }
  if (inputs.service === undefined) target.image = withRegistry(target.image, inputs.registry)
  target.context = insideWorkspace(gh.workspace, target.context, 'context')
  if (!existsSync(target.context) || !statSync(target.context).isDirectory()) {
    throw new ConfigurationError(`context ${JSON.stringify(target.context)} is not a directory`)
  }
  target.dockerfile = insideWorkspace(gh.workspace, target.dockerfile, 'dockerfile')
  if (!existsSync(target.dockerfile) || !statSync(target.dockerfile).isFile()) {
    throw new ConfigurationError(
      `Dockerfile ${JSON.stringify(relative(gh.workspace, target.dockerfile))} does not exist (service ${target.name}); set "dockerfile" in the services file or the input`
    )
  }
  return target
}

/** Size of an image: config + layers, or for an index the sum over its manifests. */
async function imageSize(
  client: RegistryClient,
  repository: string,
  manifest: Manifest
): Promise<number | undefined> {
  try {
    const doc = JSON.parse(manifest.body.toString('utf8')) as {
      config?: { size?: number }
      layers?: { size?: number }[]
      manifests?: { digest: string }[]
    }
    if (doc.manifests) {
      let total = 0
      for (const m of doc.manifests) {
        const child = await client.getManifest(repository, m.digest)
        if (child) total += (await imageSize(client, repository, child)) ?? 0
      }
      return total
    }
    return (doc.config?.size ?? 0) + (doc.layers ?? []).reduce((s, l) => s + (l.size ?? 0), 0)
  } catch {
    return undefined
  }
}

function humanBytes(n: number | undefined): string {
  if (n === undefined) return 'unknown'
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`
  return `${(n / 1024 / 1024).toFixed(1)} MiB`
}

/**
 * PUT one manifest under every tag, all at once (each tag costs the registry a round
 * trip; the TLS context is shared, so extra connections are cheap). putManifest
 * checks the digest. Logged in tag order; the first failure is thrown once all ended.
 */
async function putTags(
  client: RegistryClient,
  repository: string,
  manifest: Manifest,
  tags: readonly string[],
  log: Logger
): Promise<void> {
  const results = await Promise.allSettled(
    tags.map(tag => client.putManifest(repository, tag, manifest.body, manifest.mediaType))
  )
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') log.info(`tagged ${repository}:${tags[i]} -> ${r.value}`)
  })
  const failed = results.find(r => r.status === 'rejected')
  if (failed) throw failed.reason
}

interface Outcome {
  digest: string
  reused: boolean
  why: string
  size?: number
  backend?: BackendName
  contextHash?: string
  pushed: boolean
}

/** The login to `host` the inputs give (the same for our calls, the builders and base images). */
function registryLogin(inputs: Inputs, host: string): RegistryLogin {
  return {
    registry: host,
    username: inputs.username,
    password: inputs.password,
    ca: inputs.caCert,
    insecure: inputs.insecure
  }
}

function openRegistry(inputs: Inputs, host: string, log: Logger): RegistryClient {
  if (inputs.insecure) {
    log.warning(
      `registry-insecure: talking to ${host} over plain HTTP or unverified TLS; use this for local registries only`
    )
  }
  return new RegistryClient({ ...registryLogin(inputs, host), logger: log })
}

async function merge(inputs: Inputs, gh: GitHubContext, log: Logger): Promise<void> {
  const started = Date.now()
  let imageName = inputs.image
  let service = inputs.service
  if (inputs.service !== undefined) {
    const config = await services(inputs, gh)
    const chosen = serviceImage(findService(config, inputs.service), config, inputs)
    log.info(`image ${chosen.image} (from ${chosen.from})`)
    imageName = chosen.image
  } else imageName = withRegistry(imageName!, inputs.registry)
  const image = parseImageRef(imageName)
  service ??= image.repository.split('/').pop()!
  const tags = computeTags(inputs.tags, gh.tags).map(t => t.tag)
  if (tags.length === 0) throw new ConfigurationError('input "tags": no tag applies to this event')
  const host = image.registry ?? 'docker.io'
  const client = openRegistry(inputs, host, log)
  try {
    const entries: Record<string, unknown>[] = []
    const seen = new Map<string, string>()
    await log.group('Read the per-platform manifests', async () => {
      await client.ping()
      for (const digest of inputs.digests) {
        const m = await client.getManifest(image.repository, digest)
        if (!m) {
          throw new ConfigurationError(
            `input "digests": ${digest} is not in ${image.name}; push each platform's image first`
          )
        }
        const children: {
          digest: string
          mediaType: string
          size: number
          platform?: Record<string, string>
        }[] = []
        if (isIndexType(m.mediaType)) {
          const doc = JSON.parse(m.body.toString('utf8')) as { manifests: typeof children }
          children.push(...doc.manifests)
        } else {
          const doc = JSON.parse(m.body.toString('utf8')) as { config: { digest: string } }
          const config = JSON.parse(
            (await client.getBlob(image.repository, doc.config.digest)).toString('utf8')
          ) as { os?: string; architecture?: string; variant?: string }
          const platform: Record<string, string> = {
            architecture: config.architecture ?? 'unknown',
            os: config.os ?? 'unknown'
          }
          if (config.variant) platform.variant = config.variant
          children.push({ digest: m.digest, mediaType: m.mediaType, size: m.size, platform })
        }
        for (const c of children) {
          const p = c.platform
            ? [c.platform.os, c.platform.architecture, c.platform.variant].filter(Boolean).join('/')
            : c.digest
          const other = seen.get(p)
          if (other && other !== c.digest) {
            throw new ConfigurationError(
              `input "digests": two images for platform ${p} (${other} and ${c.digest})`
            )
          }
          if (other) continue
          seen.set(p, c.digest)
          entries.push({
            mediaType: c.mediaType,
            digest: c.digest,
            size: c.size,
            platform: c.platform
          })
          log.info(`${p}: ${c.digest}`)
        }
      }
    })
    const body = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: entries })
    )
    const index: Manifest = {
      body,
      digest: sha256Digest(body),
      mediaType: MediaTypes.ociIndex,
      size: body.length
    }
    await log.group('Push the index', () => putTags(client, image.repository, index, tags, log))
    const fullTags = tags.map(t => `${image.name}:${t}`)
    finish(inputs, gh, log, {
      service,
      image: image.name,
      tags: fullTags,
      platforms: [...seen.keys()],
      outcome: {
        digest: index.digest,
        reused: false,
        why: `merged ${entries.length} platform images`,
        pushed: true
      },
      started
    })
  } finally {
    await client.close()
  }
}

function finish(
  inputs: Inputs,
  gh: GitHubContext,
  log: Logger,
  r: {
    service: string
    image: string
    tags: string[]
    platforms: string[]
    outcome: Outcome
    started: number
    cache?: string
    files?: number
  }
): void {
  const o = r.outcome
  let resultFile = ''
  if (o.pushed) {
    const result: BuildResult = {
      version: RESULT_VERSION,
      service: r.service,
      image: r.image,
      digest: o.digest,
      tags: r.tags,
      reused: o.reused,
      platforms: r.platforms,
      source: { repository: gh.repository, sha: gh.tags.sha, ref: gh.tags.ref, runUrl: gh.runUrl },
      createdAt: new Date().toISOString()
    }
    const dir = inputs.resultsDir ?? join(runnerTemp(), 'results')
    resultFile = writeBuildResult(dir, result)
    log.info(`result file: ${resultFile}`)
  }
  setOutput('image', r.image)
  setOutput('digest', o.digest)
  setOutput('tags', r.tags)
  setOutput('reused', o.reused)
  setOutput('backend', o.backend ?? (o.reused ? 'none' : ''))
  setOutput('context-hash', o.contextHash ?? '')
  setOutput('result-file', resultFile)
  const seconds = ((Date.now() - r.started) / 1000).toFixed(1)
  const verdict = o.reused
    ? 'reused (no build)'
    : inputs.mode === 'merge'
      ? 'merged'
      : o.pushed
        ? 'built and pushed'
        : 'built (not pushed)'
  new Summary()
    .heading(`build: ${r.service}`)
    .table(
      ['', ''],
      [
        ['Image', r.image],
        ['Result', verdict],
        ['Why', o.why],
        ['Digest', o.digest],
        ['Tags', r.tags.join('\n')],
        ['Size', humanBytes(o.size)],
        ['Duration', `${seconds} s`],
        ['Backend', o.backend ?? (o.reused ? 'none (registry API only)' : '')],
        ['Cache', r.cache ?? ''],
        ['Platforms', r.platforms.join(', ')],
        [
          'Context hash',
          o.contextHash ? `${o.contextHash.slice(0, 16)}… (${r.files ?? 0} files)` : ''
        ]
      ]
    )
    .paragraph(resultFile ? `Result file: ${code(resultFile)}` : '')
    .write()
}

/**
 * Start hashing the build inputs: the base images are looked up (in our registry with
 * `client`, so that the connection opened here serves the calls that follow) while the
 * context's files are listed and hashed.
 */
async function hashInputs(
  inputs: Inputs,
  target: Target,
  dockerfileText: string,
  host: string,
  client: RegistryClient,
  local: (ref: string) => Promise<string | undefined>,
  log: Logger
): Promise<{ h: Awaited<ReturnType<typeof hashBuildInputs>>; bases: BaseResolution }> {
  const resolving = resolveBaseDigests(
    baseImages(dockerfileText, target.buildArgs),
    registryLogin(inputs, host),
    { logger: log, local, clients: new Map([[host, client]]) }
  )
  const baseDigests = resolving.then(b => b.resolved)
  // Awaited below; marked handled so that a hashing error first leaves no stray rejection.
  resolving.catch(() => undefined)
  baseDigests.catch(() => undefined)
  const h = await hashBuildInputs(target.context, {
    dockerfileContent: dockerfileText,
    buildArgs: target.buildArgs,
    target: target.target,
    platforms: target.platforms,
    labels: inputs.labels,
    baseDigests
  })
  return { h, bases: await resolving }
}

async function build(inputs: Inputs, gh: GitHubContext, log: Logger): Promise<void> {
  const started = Date.now()
  const target = await log.group('Resolve the service', () => resolveTarget(inputs, gh, log))
  const image = parseImageRef(target.image)
  const host = image.registry ?? 'docker.io'
  const env = childEnv()

  // The builder is only needed to build (or to read a local base image): detect it lazily,
  // so that a promotion of an unchanged image starts no builder process at all.
  let detection: Detection | undefined
  const chooseBackend = async (): Promise<Detection> => {
    if (!detection) {
      detection = await detectBackend(inputs.backend, env)
      log.info(`backend: ${detection.backend} (${detection.why})`)
    }
    return detection
  }

  const client = openRegistry(inputs, host, log)
  // The TLS handshake runs while the Dockerfile is read, git lists the context and the
  // tags are worked out: the first registry call finds the connection ready. One turn of
  // the event loop sends the TLS hello before that synchronous work begins.
  if (inputs.push) {
    client.preconnect()
    await new Promise(resolve => setImmediate(resolve))
  }
  const dockerfileText = readFileSync(target.dockerfile, 'utf8')
  let auth: AuthDir | undefined
  try {
    // The registry connection (the base images' lookup) and git's list of the context's
    // files start first: the tags and labels are worked out while they are under way.
    const inputsHashed = hashInputs(
      inputs,
      target,
      dockerfileText,
      host,
      client,
      async ref => localImageDigest((await chooseBackend()).backend, ref, env),
      log
    )
    // Awaited below, after the tags; a bad tag rule is the error to report first.
    inputsHashed.catch(() => undefined)
    // A turn of the event loop: the TLS handshake completes and the first request goes
    // out, so that the registry answers it while the tags and labels are worked out.
    await new Promise(resolve => setImmediate(resolve))
    const computed = computeTags(inputs.tags, gh.tags)
    const tags = computed.map(t => t.tag)
    if (tags.length === 0) {
      throw new ConfigurationError(
        `input "tags": no tag rule applies to this event (${gh.tags.eventName} ${gh.tags.ref}); add e.g. type=sha or type=raw,value=...`
      )
    }
    refuseSecrets(
      'tags',
      computed.map(t => [t.rule, t.tag] as const),
      'the tags worked out for this event'
    )
    log.info(`tags: ${computed.map(t => `${t.tag} (${t.rule})`).join(', ')}`)
    const labels = computeLabels(
      {
        service: target.name,
        sourceUrl: gh.sourceUrl,
        revision: gh.tags.sha,
        created: new Date().toISOString(),
        version: tags[0]
      },
      inputs.labels
    )
    refuseSecrets('labels', labels, 'the labels of the image')
    // The first registry call (a base image in our registry, or the ctx tag lookup) also
    // checks the login; without one, an explicit ping does before a long build.
    let loginChecked = false
    const hashing = await log.group('Hash the build inputs', async () => {
      const { h, bases } = await inputsHashed
      for (const b of bases.resolved) log.info(`base image ${b.ref}: ${b.digest}`)
      for (const b of bases.unresolved)
        log.warning(
          `base image ${b.ref}: digest unknown (${b.reason}); build avoidance is off for this build`
        )
      log.info(
        `content hash ${h.hash} over ${h.files} files (${h.bytes} bytes, ${h.git ? 'git-tracked and untracked-not-ignored' : 'all files'}, honouring .dockerignore)`
      )
      return { ...h, trustworthy: bases.unresolved.length === 0 }
    })
    const ctxTag = contextTag(hashing.hash)

    // Build avoidance: the registry already has an image built from these inputs.
    let why: string
    if (!inputs.reuse) why = 'reuse: false forces a build'
    else if (!hashing.trustworthy)
      why = 'a base image digest is unknown, so unchanged inputs cannot be proven'
    else if (!inputs.push) why = 'push: false (build only)'
    else {
      // One GET by tag: the manifest's exact bytes, or nothing.
      const manifest = await log.group(`Look for ${image.name}:${ctxTag}`, () =>
        client.getManifest(image.repository, ctxTag)
      )
      loginChecked = true
      if (manifest) {
        await log.group('Promote the existing image (no build)', () =>
          putTags(client, image.repository, manifest, tags, log)
        )
        log.notice(
          `${target.name}: inputs unchanged (${ctxTag}); reused ${manifest.digest} without building`
        )
        finish(inputs, gh, log, {
          service: target.name,
          image: image.name,
          tags: tags.map(t => `${image.name}:${t}`),
          platforms: target.platforms,
          outcome: {
            digest: manifest.digest,
            reused: true,
            why: `${ctxTag} already in the registry: identical build inputs were built before`,
            size: await imageSize(client, image.repository, manifest),
            contextHash: hashing.hash,
            pushed: true
          },
          started,
          files: hashing.files,
          cache: 'not needed'
        })
        return
      }
      why = `no image for these inputs yet (${ctxTag} not in the registry)`
    }
    log.info(`building: ${why}`)
    if (inputs.push && !loginChecked) {
      // Fail fast on a bad login or an unreachable registry, before a long build.
      await log.group(`Log in to ${host}`, async () => {
        const { authScheme } = await client.ping()
        log.info(`registry ${client.host} answers (${authScheme} authentication)`)
      })
    }
    const { backend, buildkit } = await chooseBackend()
    // The builders' login: only a build needs it (a promotion talks to the registry itself).
    const base = runnerTemp()
    auth = writeAuthDir(base, registryLogin(inputs, host))
    saveState(State.AuthDir, auth.dir)
    saveState(State.Registry, host)
    if (inputs.caCert && backend !== 'buildah') {
      log.warning(
        `registry-ca-cert: the action's own registry calls trust this CA, but the ${backend} daemon must trust it too (/etc/docker/certs.d/${host}/ca.crt, or the buildkitd config of the builder)`
      )
    }

    // The classic docker builder has no registry cache: say so rather than pretend.
    const classic = backend === 'docker' && !buildkit
    if (classic && inputs.cache !== 'none') {
      log.info(
        'cache: the classic docker builder (no buildx) has no registry cache; building without'
      )
    }
    const cacheRef =
      inputs.cache === 'none' || classic
        ? undefined
        : inputs.cache === 'registry'
          ? cacheRefFor(backend, image.name)
          : inputs.cache
    const ref = `${image.name}:${tags[0]}`
    const work = join(base, `build-${process.pid}-${Date.now()}`)
    const spec = {
      context: target.context,
      dockerfile: target.dockerfile,
      ref,
      buildArgs: [...target.buildArgs],
      labels: [...labels],
      secrets: inputs.secrets,
      platforms: target.platforms,
      target: target.target,
      cacheRef,
      push: inputs.push,
      network: inputs.network,
      authDir: auth.dir,
      certDir: auth.certDir,
      insecure: inputs.insecure,
      idFile: `${work}-id`
    }
    let built
    try {
      built = await log.group(`Build with ${backend}`, () =>
        runBuild(
          backend,
          spec,
          { logger: log, env, timeoutMs: inputs.timeoutMs },
          {
            digestFile: `${work}-digest`,
            readFile: p => (existsSync(p) ? readFileSync(p, 'utf8') : undefined)
          },
          buildkit
        )
      )
    } catch (error) {
      if (error instanceof BuildFailedError) {
        log.error(`${error.message}\n${error.tail}`, { title: `build of ${target.name} failed` })
      }
      throw error
    }
    if (!inputs.push) {
      const id = built.imageId
        ? built.imageId.startsWith('sha256:')
          ? built.imageId
          : `sha256:${built.imageId}`
        : ''
      finish(inputs, gh, log, {
        service: target.name,
        image: image.name,
        tags: [],
        platforms: target.platforms,
        outcome: {
          digest: id,
          reused: false,
          why,
          backend,
          contextHash: hashing.hash,
          pushed: false
        },
        started,
        files: hashing.files,
        cache: cacheRef ?? 'none'
      })
      return
    }
    // The backend pushed the first tag; read back exactly what the registry stored.
    const pushed = await client.getManifest(image.repository, tags[0]!)
    if (!pushed) throw new Error(`${ref} is not in the registry after the push`)
    if (built.digest && built.digest !== pushed.digest) {
      log.warning(
        `${backend} reported ${built.digest}, the registry holds ${pushed.digest} under ${tags[0]}; using the registry's`
      )
    }
    await log.group('Tag', async () => {
      await putTags(client, image.repository, pushed, tags.slice(1), log)
      // The context tag goes last: it promises a complete, fully tagged image.
      if (hashing.trustworthy) await putTags(client, image.repository, pushed, [ctxTag], log)
    })
    finish(inputs, gh, log, {
      service: target.name,
      image: image.name,
      tags: tags.map(t => `${image.name}:${t}`),
      platforms: target.platforms,
      outcome: {
        digest: pushed.digest,
        reused: false,
        why,
        size: await imageSize(client, image.repository, pushed),
        backend,
        contextHash: hashing.hash,
        pushed: true
      },
      started,
      files: hashing.files,
      cache: cacheRef ?? 'none'
    })
  } finally {
    // The credentials live only as long as the build: remove them now; the post step
    // is the safety net for a main step that was killed.
    if (auth) removeAuthDir(auth.dir)
    // The registry connection is left to the end of the process (endProcess follows the
    // step): every answer is in, and closing an HTTP/2 session costs ~5 ms of this
    // thread's time, a tenth of a promotion.
  }
}

/** The action's entry point. */
export async function run(): Promise<void> {
  await runMain('build', async log => {
    const inputs = getInputs()
    const gh = githubContext()
    if (inputs.mode === 'merge') await merge(inputs, gh, log)
    else await build(inputs, gh, log)
  })
}
