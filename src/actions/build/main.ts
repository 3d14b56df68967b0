/**
 * The build action: one service's image, built and pushed, or, when the registry
 * already holds an image built from identical inputs (`<image>:ctx-<hash>`), not built
 * at all: the new tags are PUT onto that manifest through the registry API. In
 * `merge` mode it stitches per-platform digests into one OCI index. This entry reads
 * the inputs and the run's context, hands the image domain a job and reports the
 * outcome.
 */
import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { runMain } from '../../core/run.js'
import type { Logger } from '../../core/logger.js'
import type { OwnRegistry } from '../../image/base-images.js'
import { buildImage } from '../../image/build.js'
import type { Outcome, SourceContext } from '../../image/job.js'
import { mergeImages } from '../../image/merge.js'
import { resolveImageName, resolveTarget, type TargetRequest } from '../../image/target.js'
import { parseImageRef } from '../../model/image-ref.js'
import { getInputs, type Inputs } from './inputs.js'
import { report } from './report.js'
import { saveLogin } from './state.js'

/** The run's context: the event the tags follow, the repository, the workspace. */
function githubContext(env = process.env): SourceContext & { workspace: string } {
  let event: Record<string, unknown> = {}
  try {
    if (env.GITHUB_EVENT_PATH && existsSync(env.GITHUB_EVENT_PATH)) {
      event = JSON.parse(readFileSync(env.GITHUB_EVENT_PATH, 'utf8')) as Record<string, unknown>
    }
  } catch {
    event = {}
  }
  const repo = event.repository as { default_branch?: string } | undefined
  const pr = event.pull_request as { number?: number; base?: { ref?: string } } | undefined
  const server = env.GITHUB_SERVER_URL ?? 'https://github.com'
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
    sourceUrl: repository ? `${server}/${repository}` : undefined,
    runUrl:
      repository && env.GITHUB_RUN_ID
        ? `${server}/${repository}/actions/runs/${env.GITHUB_RUN_ID}`
        : undefined,
    workspace: resolve(env.GITHUB_WORKSPACE ?? process.cwd())
  }
}

/** What the inputs ask to build, for the domain to resolve against the services file. */
function targetRequest(inputs: Inputs, workspace: string): TargetRequest {
  return {
    workspace,
    servicesFile: inputs.config,
    service: inputs.service,
    context: inputs.context,
    dockerfile: inputs.dockerfile,
    image: inputs.image,
    registry: inputs.registry,
    target: inputs.target,
    buildArgs: inputs.buildArgs,
    platforms: inputs.platforms
  }
}

/** The login for the registry that holds `image` (Docker Hub for a short name). */
function registryOf(inputs: Inputs, image: string): OwnRegistry {
  return {
    host: parseImageRef(image).registry ?? 'docker.io',
    username: inputs.username,
    password: inputs.password,
    ca: inputs.caCert,
    insecure: inputs.insecure
  }
}

/** Merge mode: the per-platform digests into one index. */
async function merge(
  inputs: Inputs,
  source: SourceContext,
  ws: string,
  log: Logger
): Promise<Outcome> {
  const { service, image } = await resolveImageName(targetRequest(inputs, ws), log)
  return mergeImages(
    {
      service,
      image,
      digests: inputs.digests,
      tagRules: inputs.tags,
      registry: registryOf(inputs, image),
      source
    },
    log
  )
}

/** Build mode: the target resolved, then built or promoted. */
async function build(
  inputs: Inputs,
  source: SourceContext,
  ws: string,
  log: Logger
): Promise<Outcome> {
  const target = await log.group('Resolve the service', () =>
    resolveTarget(targetRequest(inputs, ws), log)
  )
  return buildImage(
    {
      target,
      registry: registryOf(inputs, target.image),
      tagRules: inputs.tags,
      labels: inputs.labels,
      secrets: inputs.secrets,
      cache: inputs.cache,
      push: inputs.push,
      reuse: inputs.reuse,
      backend: inputs.backend,
      network: inputs.network,
      timeoutMs: inputs.timeoutMs,
      source
    },
    log,
    { loginWritten: saveLogin }
  )
}

/** The action's entry point. */
export async function run(): Promise<void> {
  await runMain('build', async log => {
    const inputs = getInputs()
    const { workspace, ...source } = githubContext()
    const started = Date.now()
    const outcome =
      inputs.mode === 'merge'
        ? await merge(inputs, source, workspace, log)
        : await build(inputs, source, workspace, log)
    report(outcome, { resultsDir: inputs.resultsDir, started }, log)
  })
}
