/**
 * What the build action hands the image domain and what it gets back: an `ImageJob`
 * (what to build, where it goes, how) or a `MergeJob` (which per-platform images to
 * stitch into one index), and an `Outcome` (built, reused or merged; the digest, the
 * tags, version and labels, the result file's content and what the step summary shows).
 * A dry run's outcome says what a build would be tagged and labelled with.
 */
import { RESULT_VERSION, type BuildResult } from '../model/build-result.js'
import type { AttestJob, Attestations } from './attest/attach.js'
import type { BackendName, BuildSecret } from './backends.js'
import type { RegistryLogin } from './distribution.js'
import type { MetadataContext } from './metadata/context.js'
import type { TagRequest } from './tagging.js'

/** The commit and run an image comes from: its tags, labels and result file say so. */
export interface SourceContext {
  /**
   * The run as the tag rules and labels see it (event, ref, commit, payload, "now"): for a
   * `pull_request_target` run its pull request's ref, not the base branch it runs on.
   */
  metadata: MetadataContext
  /** `GITHUB_REF`: what the run checked out (the result file). */
  ref: string
  /** `GITHUB_SHA`: the commit the run checked out (the result file). */
  sha: string
  /** `owner/name`, or '' outside a runner. */
  repository: string
  /** The run's web address, for the result file. */
  runUrl?: string
}

/** What is built: a service of the services file, or an image from an explicit context. */
export interface ImageTarget {
  /** The service name (for an explicit image, the last part of its repository). */
  name: string
  /** Absolute, inside the workspace. */
  context: string
  /** Absolute, inside the workspace. */
  dockerfile: string
  /** The image name, with its registry, without tag or digest. */
  image: string
  buildArgs: Map<string, string>
  platforms: string[]
  target?: string
}

/** One image to build (or to promote, when identical inputs were built before). */
export interface ImageJob {
  target: ImageTarget
  /** The registry of the image (its host) and the login for it. */
  login: RegistryLogin
  /** The `tags`, `flavor` and `labels` inputs the tags and labels are worked out from. */
  tagging: TagRequest
  secrets: BuildSecret[]
  /** `registry` (per-image cache ref), `none`, or an explicit cache reference. */
  cache: string
  push: boolean
  /** Whether an image built from identical inputs may be promoted instead of building. */
  reuse: boolean
  backend: BackendName | 'auto'
  network?: string
  timeoutMs: number
  source: SourceContext
  /** Provenance and SBOM of the pushed image, and how they are signed; none when unset. */
  attest?: AttestJob
}

/** Per-platform images, pushed by earlier jobs, to stitch into one OCI index. */
export interface MergeJob {
  service: string
  /** The image name, with its registry, without tag or digest. */
  image: string
  /** The per-platform manifest (or index) digests, in the order given. */
  digests: string[]
  /** The index gets the tags; labels are the per-platform images' own. */
  tagging: TagRequest
  /** The registry of the image and the login for it. */
  login: RegistryLogin
  source: SourceContext
  /** Provenance of the index, and how it is signed; none when unset. */
  attest?: AttestJob
}

/** What a build, a promotion or a merge produced. */
export interface Outcome {
  /**
   * `built` (by a backend), `reused` (promoted without a build), `merged`, or `dry-run`
   * (tags and labels worked out, nothing built or pushed).
   */
  kind: 'built' | 'reused' | 'merged' | 'dry-run'
  service: string
  /** The image name, without tag. */
  image: string
  /** Full references `<image>:<tag>`; none when nothing was pushed (a dry run: would be). */
  tags: string[]
  /** The first tag (metadata-action's `version`); '' when none was worked out. */
  version: string
  /**
   * The labels worked out for the image (a build applies them; a reused image keeps those of
   * the build that made it; none for a merged index).
   */
  labels?: ReadonlyMap<string, string>
  platforms: string[]
  /** The manifest digest in the registry, or the local image id when not pushed. */
  digest: string
  /** Why it was built, reused or merged, in words. */
  why: string
  pushed: boolean
  /** Bytes of config and layers (summed over an index's manifests), when known. */
  size?: number
  backend?: BackendName
  contextHash?: string
  /** Files the context hash covered. */
  files?: number
  /** The cache reference used, `none`, or `not needed`. */
  cache?: string
  /** The result file's content: set when the image was pushed. */
  result?: BuildResult
  /** The attestations pushed now, or found on a promoted digest. */
  attestations?: Attestations
}

/** The result file of a pushed image (for deploy), from its outcome and source. Pure. */
export function resultOf(
  o: Pick<Outcome, 'service' | 'image' | 'digest' | 'tags' | 'kind' | 'platforms'>,
  source: SourceContext,
  createdAt: Date
): BuildResult {
  return {
    version: RESULT_VERSION,
    service: o.service,
    image: o.image,
    digest: o.digest,
    tags: o.tags,
    reused: o.kind === 'reused',
    platforms: o.platforms,
    source: {
      repository: source.repository,
      sha: source.sha,
      ref: source.ref,
      runUrl: source.runUrl
    },
    createdAt: createdAt.toISOString()
  }
}

/** A pushed image's outcome, with the content of its result file (created now). */
export function withResult(o: Omit<Outcome, 'result'>, source: SourceContext): Outcome {
  return { ...o, result: resultOf(o, source, new Date()) }
}
