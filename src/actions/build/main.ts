/**
 * The build action: one service's image, built and pushed, or, when the registry
 * already holds an image built from identical inputs (`<image>:ctx-<hash>`), not built
 * at all: the new tags are PUT onto that manifest through the registry API. In
 * `merge` mode it stitches per-platform digests into one OCI index. With `dry-run` it
 * only works out the tags, version and labels (no registry, no build). This entry reads
 * the inputs and the run's context, hands the image domain a job and reports the
 * outcome.
 */
import { resolve } from 'node:path'
import { readEventPayload, runUrl, serverUrl } from '../../core/context.js'
import { gitText } from '../../core/git.js'
import { runMain } from '../../core/run.js'
import type { Logger } from '../../core/logger.js'
import type { RegistryLogin } from '../../image/distribution.js'
import type { AttestJob } from '../../image/attest/attach.js'
import { keylessAvailable } from '../../image/attest/keyless.js'
import { workflowRunFromEnv } from '../../image/attest/provenance.js'
import { buildImage } from '../../image/build.js'
import type { Outcome, SourceContext } from '../../image/job.js'
import { mergeImages } from '../../image/merge.js'
import {
  commitDateFromPayload,
  metadataContext,
  repoFromPayload,
  type RunInfo
} from '../../image/metadata/context.js'
import { previewImage, type TagRequest } from '../../image/tagging.js'
import { resolveImageName, resolveTarget, type TargetRequest } from '../../image/target.js'
import { parseImageRef } from '../../model/image-ref.js'
import { getInputs, type Inputs } from './inputs.js'
import { report } from './report.js'
import { saveLogin } from './state.js'

/**
 * The commit's date for `{{commit_date}}` when the payload does not hold it (only a push's
 * does): the checkout's committer date, if the workspace has the commit. Only asked when a
 * rule or label uses it; otherwise (or when git cannot tell) "now" stands in.
 */
async function commitDate(
  inputs: Inputs,
  sha: string,
  workspace: string,
  log: Logger
): Promise<Date | undefined> {
  const text = [...inputs.tags, ...inputs.flavor, ...inputs.labels.values()].join('\n')
  if (!/^[0-9a-f]{7,64}$/i.test(sha) || !text.includes('commit_date')) return undefined
  try {
    const iso = await gitText(['log', '-1', '--format=%cI', sha, '--'], { cwd: workspace })
    return iso ? new Date(iso) : undefined
  } catch {
    log.info(`commit_date: ${sha} is not in the workspace's git history; using now`)
    return undefined
  }
}

/**
 * The run's context: the event the tags follow (as metadata-action reads it from the
 * `GITHUB_*` variables and the payload), what was checked out, the workspace.
 */
async function githubContext(
  inputs: Inputs,
  log: Logger,
  env = process.env
): Promise<SourceContext & { workspace: string }> {
  const payload = readEventPayload(env)
  const repository = env.GITHUB_REPOSITORY ?? ''
  const workspace = resolve(env.GITHUB_WORKSPACE ?? process.cwd())
  const sha = env.GITHUB_SHA ?? ''
  const ref = env.GITHUB_REF ?? ''
  const repo = repoFromPayload(payload)
  repo.htmlUrl ??= repository ? `${serverUrl(env)}/${repository}` : undefined
  const run: RunInfo = {
    eventName: env.GITHUB_EVENT_NAME ?? '',
    ref,
    sha,
    payload,
    repo,
    now: new Date(),
    env,
    commitDate: commitDateFromPayload(payload, sha)
      ? undefined
      : await commitDate(inputs, sha, workspace, log)
  }
  return {
    metadata: metadataContext(run),
    ref,
    sha,
    repository,
    runUrl: runUrl(env),
    workspace
  }
}

/** The inputs the tags and labels are worked out from. */
function tagging(inputs: Inputs): TagRequest {
  return { rules: inputs.tags, flavor: inputs.flavor, labels: inputs.labels }
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
function loginFor(inputs: Inputs, image: string): RegistryLogin {
  return {
    registry: parseImageRef(image).registry ?? 'docker.io',
    username: inputs.username,
    password: inputs.password,
    ca: inputs.ca,
    insecure: inputs.insecure
  }
}

/** One way of running the action: merge, dry run or build. */
type Mode = (inputs: Inputs, source: SourceContext, ws: string, log: Logger) => Promise<Outcome>

/** Merge mode: the per-platform digests into one index. */
const merge: Mode = async (inputs, source, ws, log) => {
  const { service, image } = await resolveImageName(targetRequest(inputs, ws), log)
  return mergeImages(
    {
      service,
      image,
      digests: inputs.digests,
      tagging: tagging(inputs),
      login: loginFor(inputs, image),
      source,
      attest: attestJob(inputs, ws, log)
    },
    log
  )
}

/** Dry run: the image named, its tags and labels worked out; no context read, no registry. */
const preview: Mode = async (inputs, source, ws, log) => {
  const named = await resolveImageName(targetRequest(inputs, ws), log)
  return previewImage({ ...named, tagging: tagging(inputs), source }, log)
}

/**
 * What to attest and how to sign: with the signing key; without one, keylessly when the
 * job may request an OIDC token (id-token: write); else unsigned. Provenance needs the
 * runner's GITHUB_* variables (an error names the first one missing).
 */
function attestJob(inputs: Inputs, workspace: string, log: Logger): AttestJob | undefined {
  const { provenance, sbom, signingKey, githubToken } = inputs.attest
  if (!inputs.push || (!provenance && !sbom)) return undefined
  const keyless =
    !signingKey && keylessAvailable() && githubToken ? { token: githubToken } : undefined
  if (signingKey) log.info(`attestations: signed with signing-key (keyid ${signingKey.keyid})`)
  else if (keyless) log.info('attestations: signed keylessly through Sigstore (id-token: write)')
  else log.info('attestations: unsigned (no signing-key, and no OIDC token for keyless signing)')
  return {
    provenance,
    sbom,
    key: signingKey,
    keyless,
    run: provenance ? workflowRunFromEnv() : undefined,
    workspace
  }
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
      login: loginFor(inputs, target.image),
      tagging: tagging(inputs),
      secrets: inputs.secrets,
      cache: inputs.cache,
      push: inputs.push,
      reuse: inputs.reuse,
      backend: inputs.backend,
      network: inputs.network,
      timeoutMs: inputs.timeoutMs,
      source,
      attest: attestJob(inputs, ws, log)
    },
    log,
    { loginWritten: saveLogin }
  )
}

/** The action's entry point. */
export async function run(): Promise<void> {
  await runMain('build', async log => {
    const inputs = getInputs()
    const started = Date.now()
    const { workspace, ...source } = await githubContext(inputs, log)
    const outcome = inputs.dryRun
      ? await preview(inputs, source, workspace, log)
      : inputs.mode === 'merge'
        ? await merge(inputs, source, workspace, log)
        : await build(inputs, source, workspace, log)
    report(outcome, { resultsDir: inputs.resultsDir, started }, log)
  })
}
