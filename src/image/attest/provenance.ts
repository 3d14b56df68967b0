/**
 * SLSA provenance v1 (https://slsa.dev/spec/v1.0/provenance) of an image built by
 * Conveyor in a GitHub Actions workflow. It follows GitHub's workflow buildType
 * (https://actions.github.io/buildtypes/workflow/v1, what actions/attest-build-provenance
 * writes) where that fits: the same `externalParameters.workflow` {ref, repository, path},
 * `internalParameters.github`, the git commit as the first resolved dependency in SPDX
 * download-location form, `builder.id` = the workflow's URL and `invocationId` = the run
 * attempt's URL. It adds what GitHub's type has no room for, so it has a buildType of its
 * own (BUILD_TYPE, documented in docs/buildtypes/image-v1.md): the service built
 * (`externalParameters.image`) and the base images as resolved dependencies.
 */
import { serverUrl } from '../../core/context.js'
import { parseImageRef } from '../../model/image-ref.js'
import { imageSubject, makeStatement, type Statement } from './statement.js'

/** `predicateType` of SLSA provenance v1. */
export const SLSA_PROVENANCE_V1 = 'https://slsa.dev/provenance/v1'

/**
 * Conveyor's buildType. A URN, not a URL: Conveyor has no domain of its own to host the
 * description under, and a URL on a domain we do not control could later describe
 * something else. docs/buildtypes/image-v1.md is the description.
 */
export const BUILD_TYPE = 'urn:conveyor:buildtype:image:v1'

/** The workflow run that built the image (what the runner's GITHUB_* variables say). */
export interface WorkflowRun {
  /** `https://github.com` or a GitHub Enterprise Server URL. */
  serverUrl: string
  /** `owner/name` */
  repository: string
  repositoryId?: string
  repositoryOwnerId?: string
  /** The git ref of the run, `refs/heads/main`, `refs/tags/v1.2.3`, `refs/pull/7/merge`. */
  ref: string
  /** The commit built (40 hex). */
  sha: string
  /** GITHUB_WORKFLOW_REF: `owner/name/.github/workflows/ci.yml@refs/heads/main`. */
  workflowRef: string
  runId: string
  runAttempt: string
  eventName: string
  /** `github-hosted` or `self-hosted` (RUNNER_ENVIRONMENT). */
  runnerEnvironment?: string
}

/** A base image the build resolved (a `FROM` line), with the digest it got. */
export interface BaseImage {
  /** The reference as written or resolved, e.g. `docker.io/library/alpine:3.20`. */
  reference: string
  /** `sha256:<hex>` of the manifest or index pulled. */
  digest: string
}

/** What Conveyor knows about one image build. */
export interface ImageBuild {
  /** Repository without tag: `ghcr.io/acme/cart`. */
  image: string
  /** Digest of the pushed manifest or platform index. */
  digest: string
  service?: string
  /** Build context and Dockerfile, relative to the repository root. */
  context?: string
  dockerfile?: string
  platforms?: string[]
  /** Names of the build args (values stay out: users do pass secrets that way). */
  buildArgNames?: string[]
  /** The content hash of the build inputs (Conveyor's build avoidance), `ctx-<hash>`. */
  contextTag?: string
  /** `buildx`, `docker` or `buildah`. */
  backend?: string
  baseImages?: BaseImage[]
  startedOn?: Date
  finishedOn?: Date
  /** Conveyor's version or commit, recorded as `builder.version.conveyor`. */
  conveyorVersion?: string
}

/** An SLSA ResourceDescriptor. */
export interface ResourceDescriptor {
  uri?: string
  name?: string
  digest?: Record<string, string>
  annotations?: Record<string, string>
}

/** The SLSA provenance v1 predicate. */
export interface ProvenancePredicate {
  buildDefinition: {
    buildType: string
    externalParameters: {
      workflow: { ref: string; repository: string; path: string }
      image?: Record<string, unknown>
    }
    internalParameters?: Record<string, unknown>
    resolvedDependencies: ResourceDescriptor[]
  }
  runDetails: {
    builder: { id: string; version?: Record<string, string> }
    metadata: { invocationId: string; startedOn?: string; finishedOn?: string }
  }
}

/** Read the run from the runner's environment; throws naming the first variable missing. */
export function workflowRunFromEnv(env: NodeJS.ProcessEnv = process.env): WorkflowRun {
  const need = (name: string): string => {
    const value = env[name]?.trim()
    if (!value) throw new Error(`provenance: the runner variable ${name} is not set`)
    return value
  }
  const opt = (name: string): string | undefined => env[name]?.trim() || undefined
  return {
    serverUrl: serverUrl(env),
    repository: need('GITHUB_REPOSITORY'),
    repositoryId: opt('GITHUB_REPOSITORY_ID'),
    repositoryOwnerId: opt('GITHUB_REPOSITORY_OWNER_ID'),
    ref: need('GITHUB_REF'),
    sha: need('GITHUB_SHA'),
    workflowRef: need('GITHUB_WORKFLOW_REF'),
    runId: need('GITHUB_RUN_ID'),
    runAttempt: opt('GITHUB_RUN_ATTEMPT') ?? '1',
    eventName: need('GITHUB_EVENT_NAME'),
    runnerEnvironment: opt('RUNNER_ENVIRONMENT')
  }
}

/**
 * Split GITHUB_WORKFLOW_REF into the workflow's path and ref. The path and the ref may
 * both hold `@` (a tag `pkg@1.2.3`): the repository prefix is cut first, and the ref is
 * everything after the first `@` that follows a `.yml`/`.yaml` path.
 */
export function splitWorkflowRef(
  workflowRef: string,
  repository: string
): { path: string; ref: string } {
  const prefix = `${repository}/`
  if (!workflowRef.startsWith(prefix)) {
    throw new Error(
      `provenance: GITHUB_WORKFLOW_REF ${JSON.stringify(workflowRef)} does not start with ${JSON.stringify(prefix)}`
    )
  }
  const rest = workflowRef.slice(prefix.length)
  const m = /^(.*?\.ya?ml)@(.+)$/.exec(rest)
  if (!m) {
    throw new Error(
      `provenance: GITHUB_WORKFLOW_REF ${JSON.stringify(workflowRef)} is not <repository>/<path>.yml@<ref>`
    )
  }
  return { path: m[1]!, ref: m[2]! }
}

/**
 * A purl for a base image (`pkg:docker/<name>@<tag or digest>`), the form BuildKit
 * writes in its provenance. The digest goes in the descriptor's `digest` map as well.
 */
export function baseImageUri(reference: string): string {
  const ref = parseImageRef(reference)
  const version = ref.tag ?? ref.digest ?? 'latest'
  return `pkg:docker/${ref.name}@${encodeURIComponent(version)}`
}

/** The run attempt's URL: GitHub's `invocationId`. */
export function runAttemptUrl(run: WorkflowRun): string {
  return `${run.serverUrl}/${run.repository}/actions/runs/${run.runId}/attempts/${run.runAttempt}`
}

/** The SLSA provenance predicate of one image build. Pure. */
export function buildProvenancePredicate(run: WorkflowRun, build: ImageBuild): ProvenancePredicate {
  if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(run.sha)) {
    throw new Error(`provenance: commit ${JSON.stringify(run.sha)} is not a full git SHA`)
  }
  const workflow = splitWorkflowRef(run.workflowRef, run.repository)
  const repositoryUrl = `${run.serverUrl}/${run.repository}`
  const image: Record<string, unknown> = { name: build.image }
  if (build.service !== undefined) image.service = build.service
  if (build.context !== undefined) image.context = build.context
  if (build.dockerfile !== undefined) image.dockerfile = build.dockerfile
  if (build.platforms?.length) image.platforms = [...build.platforms]
  if (build.buildArgNames?.length) image.buildArgs = [...build.buildArgNames].sort()
  const github: Record<string, string> = { event_name: run.eventName }
  if (run.repositoryId) github.repository_id = run.repositoryId
  if (run.repositoryOwnerId) github.repository_owner_id = run.repositoryOwnerId
  if (run.runnerEnvironment) github.runner_environment = run.runnerEnvironment
  const internal: Record<string, unknown> = { github }
  if (build.backend) internal.backend = build.backend
  if (build.contextTag) internal.contextTag = build.contextTag
  const resolvedDependencies: ResourceDescriptor[] = [
    { uri: `git+${repositoryUrl}@${run.ref}`, digest: { gitCommit: run.sha } }
  ]
  for (const base of build.baseImages ?? []) {
    if (!/^sha256:[0-9a-f]{64}$/.test(base.digest)) {
      throw new Error(
        `provenance: base image ${base.reference} has digest ${JSON.stringify(base.digest)}, expected sha256:<64 hex>`
      )
    }
    resolvedDependencies.push({
      uri: baseImageUri(base.reference),
      name: base.reference,
      digest: { sha256: base.digest.slice('sha256:'.length) }
    })
  }
  const metadata: ProvenancePredicate['runDetails']['metadata'] = {
    invocationId: runAttemptUrl(run)
  }
  if (build.startedOn) metadata.startedOn = build.startedOn.toISOString()
  if (build.finishedOn) metadata.finishedOn = build.finishedOn.toISOString()
  return {
    buildDefinition: {
      buildType: BUILD_TYPE,
      externalParameters: {
        workflow: { ref: workflow.ref, repository: repositoryUrl, path: workflow.path },
        image
      },
      internalParameters: internal,
      resolvedDependencies
    },
    runDetails: {
      builder: {
        id: `${run.serverUrl}/${run.workflowRef}`,
        ...(build.conveyorVersion ? { version: { conveyor: build.conveyorVersion } } : {})
      },
      metadata
    }
  }
}

/** The in-toto statement carrying the provenance of one image. Pure. */
export function provenanceStatement(
  run: WorkflowRun,
  build: ImageBuild
): Statement<ProvenancePredicate> {
  return makeStatement(
    [imageSubject(build.image, build.digest)],
    SLSA_PROVENANCE_V1,
    buildProvenancePredicate(run, build)
  )
}
