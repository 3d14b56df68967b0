/**
 * Container image references as the distribution spec and kustomize read them:
 * `[registry[:port]/]repository[:tag][@digest]`. A first path component is a registry
 * only when it has a dot or a port or is `localhost`, so `host:5000/team/app:1.2` and
 * `team/app:1.2` both parse right.
 */

/** A parsed image reference. */
export interface ImageRef {
  /** Registry host with port, or undefined for Docker Hub style short names. */
  registry?: string
  /** Repository path within the registry, e.g. `team/app`. */
  repository: string
  /** The name as written, without tag and digest: `[registry/]repository`. */
  name: string
  tag?: string
  digest?: string
}

const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/
const HOST =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::\d+)?$/

/** Whether `tag` is a valid tag. */
export function isValidTag(tag: string): boolean {
  return TAG.test(tag)
}

/** Whether `digest` is a valid digest (`sha256:<64 hex>` and other algorithms). */
export function isValidDigest(digest: string): boolean {
  return (
    DIGEST.test(digest) && (!digest.startsWith('sha256:') || /^sha256:[a-f0-9]{64}$/.test(digest))
  )
}

/** Whether the first path component names a registry. */
function isRegistry(component: string): boolean {
  return (
    component === 'localhost' ||
    component.includes('.') ||
    component.includes(':') ||
    component.startsWith('[')
  )
}

/** Parse a reference; throws an Error saying what is wrong. */
export function parseImageRef(reference: string): ImageRef {
  const ref = reference.trim()
  if (ref === '') throw new Error('empty image reference')
  if (/\s/.test(ref)) throw new Error(`image reference ${JSON.stringify(ref)} contains whitespace`)
  let rest = ref
  let digest: string | undefined
  const at = rest.indexOf('@')
  if (at >= 0) {
    digest = rest.slice(at + 1)
    rest = rest.slice(0, at)
    if (!isValidDigest(digest))
      throw new Error(
        `image reference ${JSON.stringify(ref)}: invalid digest ${JSON.stringify(digest)}`
      )
  }
  let tag: string | undefined
  const lastSlash = rest.lastIndexOf('/')
  const colon = rest.lastIndexOf(':')
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1)
    rest = rest.slice(0, colon)
    if (!isValidTag(tag))
      throw new Error(`image reference ${JSON.stringify(ref)}: invalid tag ${JSON.stringify(tag)}`)
  }
  const parts = rest.split('/')
  let registry: string | undefined
  if (parts.length > 1 && isRegistry(parts[0]!)) {
    registry = parts.shift()
    if (!HOST.test(registry!))
      throw new Error(
        `image reference ${JSON.stringify(ref)}: invalid registry ${JSON.stringify(registry)}`
      )
  }
  if (parts.length === 0 || parts.some(p => !COMPONENT.test(p))) {
    throw new Error(
      `image reference ${JSON.stringify(ref)}: invalid repository ${JSON.stringify(parts.join('/'))} (lower-case letters, digits and separators . _ - only)`
    )
  }
  const repository = parts.join('/')
  if (rest.length > 255)
    throw new Error(`image reference ${JSON.stringify(ref)}: name longer than 255 characters`)
  return {
    registry,
    repository,
    name: registry ? `${registry}/${repository}` : repository,
    tag,
    digest
  }
}

/** Format a reference from its parts. */
export function formatImageRef(ref: { name: string; tag?: string; digest?: string }): string {
  return `${ref.name}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`
}
