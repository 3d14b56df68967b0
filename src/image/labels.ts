/**
 * The OCI labels of a service's image (`org.opencontainers.image.*`): title, source,
 * revision, created, version, url, plus the user's labels, which win. Pure.
 */

/** What the standard labels are made from. */
export interface LabelContext {
  service: string
  /** `https://github.com/acme/shop` */
  sourceUrl?: string
  revision: string
  /** ISO 8601. */
  created: string
  /** The version the image stands for (the first computed tag), if any. */
  version?: string
  description?: string
}

/** The label set: standard labels first, user labels (`key=value`) override them. */
export function computeLabels(
  ctx: LabelContext,
  user: ReadonlyMap<string, string> = new Map()
): Map<string, string> {
  const labels = new Map<string, string>()
  const set = (k: string, v: string | undefined): void => {
    if (v !== undefined && v !== '') labels.set(`org.opencontainers.image.${k}`, v)
  }
  set('title', ctx.service)
  set('description', ctx.description)
  set('url', ctx.sourceUrl)
  set('source', ctx.sourceUrl)
  set('revision', ctx.revision)
  set('created', ctx.created)
  set('version', ctx.version)
  for (const [k, v] of user) labels.set(k, v)
  return labels
}
