/**
 * kustomize's image semantics, as its source defines them: `images[].name` matches an
 * image reference by exact name with any tag and digest (`api/internal/image`
 * IsImageMatched: no `docker.io/` or `library/` folding), the transformer replaces the
 * name with `newName` and both tag and digest when `newTag` or `digest` is set
 * (`api/filters/imagetag/updater.go`), and `kustomize edit set image NAME=NEWREF`
 * writes `name: NAME` with `newName`, `newTag` and `digest` from NEWREF
 * (`kustomize/commands/edit/set/setimage.go`). Pure.
 */
import type { ImageRef } from '../../../model/image-ref.js'

/** One `images:` entry of a kustomization. */
export interface KustomizeImage {
  name: string
  newName?: string
  newTag?: string
  digest?: string
  tagSuffix?: string
}

/** kustomize's `image.Split`: name, tag and digest of a reference as written. */
export function splitImage(value: string): { name: string; tag: string; digest: string } {
  // A first path component may hold a registry port (`host:5000/app`): search after it.
  const slash = value.indexOf('/')
  const offset = slash > 0 ? slash : 0
  const search = value.slice(offset)
  const at = search.indexOf('@')
  const colon = search.indexOf(':')
  if (colon < 0 && at < 0) return { name: value, tag: '', digest: '' }
  if (at >= 0 && (at < colon || colon < 0)) {
    return { name: value.slice(0, offset + at), tag: '', digest: value.slice(offset + at + 1) }
  }
  if (at >= 0 && colon >= 0) {
    return {
      name: value.slice(0, offset + colon),
      tag: value.slice(offset + colon + 1, offset + at),
      digest: value.slice(offset + at + 1)
    }
  }
  return { name: value.slice(0, offset + colon), tag: value.slice(offset + colon + 1), digest: '' }
}

const TAG_PART =
  /^(?::[a-zA-Z0-9_.{}-]*)?(?:@[a-zA-Z0-9]+(?:[.+_-][a-zA-Z0-9]+)*:[a-zA-Z0-9_.{}-]*)?$/

/**
 * Whether the image reference `value` has the name `name` (kustomize's IsImageMatched).
 * kustomize compiles `name` into a regular expression, so a `.` there matches any
 * character; here the name is taken literally, which differs only for names that no
 * registry accepts.
 */
export function imageMatches(value: string, name: string): boolean {
  return value.startsWith(name) && TAG_PART.test(value.slice(name.length))
}

/**
 * The reference `value` becomes under `entry`, or undefined when the entry does not
 * match it (kustomize's imageTagUpdater).
 */
export function applyImage(value: string, entry: KustomizeImage): string | undefined {
  if (!entry.name || !imageMatches(value, entry.name)) return undefined
  let { name, tag, digest } = splitImage(value)
  if (entry.newName) name = entry.newName
  if (entry.newTag && entry.digest) {
    tag = entry.newTag
    digest = entry.digest
  } else if (entry.newTag) {
    tag = entry.newTag
    digest = ''
  } else if (entry.digest) {
    tag = ''
    digest = entry.digest
  } else if (entry.tagSuffix) {
    tag += entry.tagSuffix
    digest = ''
  }
  return `${name}${tag ? `:${tag}` : ''}${digest ? `@${digest}` : ''}`
}

/**
 * The entry `kustomize edit set image <name>=<ref>` writes: `newName` only when the
 * new repository differs from `name`, `newTag` and `digest` as the reference has them.
 */
export function entryFor(name: string, ref: ImageRef): KustomizeImage {
  return {
    name,
    ...(ref.name !== name ? { newName: ref.name } : {}),
    ...(ref.tag ? { newTag: ref.tag } : {}),
    ...(ref.digest ? { digest: ref.digest } : {})
  }
}

/** The name part of an image reference as kustomize splits it. */
export function imageName(value: string): string {
  return splitImage(value).name
}

/** One image field of a resource (a plain object parsed from YAML). */
export interface ImageField {
  /** Where it is, as `spec.template.spec.containers[0].image`. */
  path: string
  value: string
  set(value: string): void
}

type Obj = Record<string, unknown>

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/**
 * kustomize's legacy image filter: the `image` of every item of a `containers` or
 * `initContainers` list anywhere in the resource.
 */
function legacyFields(node: unknown, path: string, out: ImageField[]): void {
  if (Array.isArray(node)) {
    node.forEach((item, i) => legacyFields(item, `${path}[${i}]`, out))
    return
  }
  if (!isObj(node)) return
  for (const [key, value] of Object.entries(node)) {
    const here = path ? `${path}.${key}` : key
    legacyFields(value, here, out)
    if ((key === 'containers' || key === 'initContainers') && Array.isArray(value)) {
      value.forEach((c, i) => {
        if (isObj(c) && typeof c.image === 'string') {
          out.push({ path: `${here}[${i}].image`, value: c.image, set: v => (c.image = v) })
        }
      })
    }
  }
}

/** kustomize's default `images` field specs (api/internal/konfig/builtinpluginconsts). */
const FIELD_SPECS: [string[], string, string[]][] = [
  [['spec'], 'containers', ['image']],
  [['spec'], 'initContainers', ['image']],
  [['spec'], 'volumes', ['image', 'reference']],
  [['spec', 'template', 'spec'], 'containers', ['image']],
  [['spec', 'template', 'spec'], 'initContainers', ['image']],
  [['spec', 'template', 'spec'], 'volumes', ['image', 'reference']]
]

function specFields(resource: Obj): ImageField[] {
  const out: ImageField[] = []
  for (const [prefix, list, leaf] of FIELD_SPECS) {
    let node: unknown = resource
    for (const k of prefix) node = isObj(node) ? node[k] : undefined
    const items = isObj(node) ? node[list] : undefined
    if (!Array.isArray(items)) continue
    items.forEach((item, i) => {
      let holder: unknown = item
      for (const k of leaf.slice(0, -1)) holder = isObj(holder) ? holder[k] : undefined
      const last = leaf[leaf.length - 1]!
      if (isObj(holder) && typeof holder[last] === 'string') {
        const h = holder
        out.push({
          path: `${[...prefix, list].join('.')}[${i}].${leaf.join('.')}`,
          value: h[last] as string,
          set: v => (h[last] = v)
        })
      }
    })
  }
  return out
}

function isCrd(resource: Obj): boolean {
  return resource.kind === 'CustomResourceDefinition'
}

/** Every image field the images transformer looks at, each once, in document order. */
export function imageFields(resource: unknown): ImageField[] {
  if (!isObj(resource) || isCrd(resource)) return []
  const out: ImageField[] = []
  legacyFields(resource, '', out)
  const seen = new Set(out.map(f => f.path))
  for (const f of specFields(resource)) if (!seen.has(f.path)) out.push(f)
  return out
}

/**
 * Apply one `images:` entry to a resource in place, as kustomize's
 * ImageTagTransformer does: the legacy filter, then the field specs.
 */
export function transformImages(resource: unknown, entry: KustomizeImage): void {
  if (!isObj(resource) || isCrd(resource)) return
  const legacy: ImageField[] = []
  legacyFields(resource, '', legacy)
  // The field specs read the values the legacy pass left (read after it runs).
  for (const pass of [() => legacy, () => specFields(resource)]) {
    for (const f of pass()) {
      const next = applyImage(f.value, entry)
      if (next !== undefined) f.set(next)
    }
  }
}
