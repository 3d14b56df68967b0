/**
 * The tags, version and labels of one image, worked out by the metadata engine
 * (`./metadata/`, docker/metadata-action's grammar and semantics) from the `tags`, `flavor`
 * and `labels` inputs and the run's context: refused when no rule gives a tag for this event
 * or a tag or label holds a registered secret (tags and labels end up in the image), logged
 * with the rule that made each tag. A dry run stops here: it previews what a build would push.
 */
import { ConfigurationError } from '../core/errors.js'
import type { Logger } from '../core/logger.js'
import type { Outcome, SourceContext } from './job.js'
import { computeMetadata, type TagSource } from './metadata/compute.js'
import type { MetadataContext } from './metadata/context.js'
import { refuseSecrets } from './refuse-secrets.js'

/** What the tags and labels are made from (the inputs, as the user wrote them). */
export interface TagRequest {
  /** `tags` lines (metadata-action syntax, line numbers as written); none: Conveyor's defaults. */
  rules: readonly string[]
  /** `flavor` lines (`latest=`, `prefix=`, `suffix=`, `onlatest=`). */
  flavor: readonly string[]
  /** The user's labels, over the OCI labels. */
  labels: ReadonlyMap<string, string>
}

/** The tags, version and labels of an image in one run. */
export interface ImageMetadata {
  /** The first tag (metadata-action's `version` output). */
  version: string
  /** Tag names, in order: the version first. */
  tags: string[]
  /** `<image>:<tag>` for each tag. */
  refs: string[]
  /** The labels the image gets: the OCI labels, the user's over them. */
  labels: Map<string, string>
  /** Each tag and the rule (or flavor) that made it. */
  sources: TagSource[]
}

/** The labels as a map, from the engine's sorted `key=value` lines (empty values kept, as metadata-action keeps them). */
function labelMap(lines: readonly string[]): Map<string, string> {
  return new Map(
    lines.map(line => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)])
  )
}

/**
 * Work out an image's tags, version and labels. The image's title label is the service
 * name (Conveyor builds several services from one repository; metadata-action uses the
 * repository name). Throws ConfigurationError for a bad rule or flavor, when no rule gives
 * a tag for this event (unless `options.preview`: a dry run shows that no tag applies, with a
 * warning), or when a tag or label holds a registered secret.
 */
export function imageMetadata(
  request: TagRequest,
  image: { name: string; service: string },
  ctx: MetadataContext,
  log: Logger,
  options: { preview?: boolean } = {}
): ImageMetadata {
  const m = computeMetadata(
    {
      tags: request.rules,
      flavor: request.flavor,
      labels: [...request.labels].map(([k, v]) => `${k}=${v}`)
    },
    { ...ctx, repo: { ...ctx.repo, name: image.service } }
  )
  for (const w of m.warnings) log.warning(w)
  if (m.tags.length === 0) {
    const why = `input "tags": no tag rule applies to this event (${ctx.eventName} ${ctx.ref}); add e.g. type=sha or type=raw,value=...`
    if (!options.preview) throw new ConfigurationError(why)
    log.warning(`${why} (a build would fail here)`)
  }
  // Named by position: the rule's text may itself hold the secret (in an encoding).
  refuseSecrets(
    'tags',
    m.tags.map((tag, i) => [`tag ${i + 1} of ${m.tags.length}`, tag] as const),
    'the tags worked out for this event'
  )
  const labels = labelMap(m.labels)
  refuseSecrets('labels', labels, 'the labels of the image')
  log.info(`tags: ${m.sources.map(s => `${s.tag} (${s.rule})`).join(', ')}`)
  log.info(`version: ${m.version.main ?? ''}`)
  return {
    version: m.version.main ?? '',
    tags: m.tags,
    refs: m.tags.map(t => `${image.name}:${t}`),
    labels,
    sources: m.sources
  }
}

/** A dry run: what a build of `image` would be tagged and labelled with; nothing built or pushed. */
export interface PreviewJob {
  service: string
  /** The image name, with its registry, without tag or digest. */
  image: string
  tagging: TagRequest
  source: SourceContext
}

/** Work out and log the tags, version and labels a build would give; touch no registry. */
export async function previewImage(job: PreviewJob, log: Logger): Promise<Outcome> {
  const m = await log.group('Tags and labels (dry run)', async () => {
    const computed = imageMetadata(
      job.tagging,
      { name: job.image, service: job.service },
      job.source.metadata,
      log,
      { preview: true }
    )
    for (const ref of computed.refs) log.info(`tag ${ref}`)
    for (const [k, v] of computed.labels) log.info(`label ${k}=${v}`)
    return computed
  })
  return {
    kind: 'dry-run',
    service: job.service,
    image: job.image,
    tags: m.refs,
    version: m.version,
    labels: m.labels,
    platforms: [],
    digest: '',
    why: 'dry-run: true (tags and labels worked out; nothing built or pushed)',
    pushed: false
  }
}
