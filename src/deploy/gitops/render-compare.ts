/**
 * Judging a deploy by what the target renders: the images a render holds, the
 * structural differences between the render before and after the edit, and the
 * verdict (every deployed image renders where an old one was, nothing else moved),
 * with messages that list what the target does render, the closest first. Pure.
 */
import { parseAllDocuments } from 'yaml'
import { targetLabel, type ImageUpdate, type Target } from './updates.js'
import { imageFields, imageName, splitImage } from './kustomize/image.js'
import { didYouMean, editDistance } from '../../core/did-you-mean.js'

/** One image a target renders. */
export interface RenderedImage {
  /** `Kind/name` (or `Kind/namespace/name`) of the resource. */
  resource: string
  /** The field, as `spec.template.spec.containers[0].image`. */
  path: string
  value: string
}

/** One structural difference between two renders. */
export interface RenderDifference {
  resource: string
  path: string
  before?: unknown
  after?: unknown
}

type Obj = Record<string, unknown>

/** `Kind/[namespace/]name` of a parsed resource. */
export function resourceId(doc: unknown): string {
  const o = (typeof doc === 'object' && doc !== null ? doc : {}) as Obj
  const meta = (typeof o.metadata === 'object' && o.metadata !== null ? o.metadata : {}) as Obj
  const ns = typeof meta.namespace === 'string' ? `${meta.namespace}/` : ''
  return `${String(o.kind ?? '?')}/${ns}${String(meta.name ?? '?')}`
}

/** The resources of a renderer's multi-document output. */
export function parseRender(text: string): unknown[] {
  const out: unknown[] = []
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0)
      throw new Error(`the render is not valid YAML: ${doc.errors[0]!.message}`)
    const value: unknown = doc.toJS()
    if (value !== null && value !== undefined) out.push(value)
  }
  return out
}

/** The images of parsed resources, in order. */
export function imagesOf(resources: readonly unknown[]): RenderedImage[] {
  return resources.flatMap(r =>
    imageFields(r).map(f => ({ resource: resourceId(r), path: f.path, value: f.value }))
  )
}

function diffValue(
  a: unknown,
  b: unknown,
  resource: string,
  path: string,
  out: RenderDifference[]
): void {
  if (out.length > 50) return
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length)
      out.push({ resource, path, before: `${a.length} items`, after: `${b.length} items` })
    else a.forEach((x, i) => diffValue(x, b[i], resource, `${path}[${i}]`, out))
    return
  }
  const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)
  if (isObj(a) && isObj(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const here = path ? `${path}.${k}` : k
      if (!(k in a) || !(k in b)) out.push({ resource, path: here, before: a[k], after: b[k] })
      else diffValue(a[k], b[k], resource, here, out)
    }
    return
  }
  if (a !== b) out.push({ resource, path, before: a, after: b })
}

/** The one difference of two renders whose lists of `what` differ in length. */
function countDiffers(before: number, after: number, what: string): RenderDifference[] {
  return [
    { resource: '(render)', path: '', before: `${before} ${what}`, after: `${after} ${what}` }
  ]
}

/** Every structural difference between two lists of resources (at most about 50). */
export function diffResources(
  before: readonly unknown[],
  after: readonly unknown[]
): RenderDifference[] {
  const out: RenderDifference[] = []
  if (before.length !== after.length) return countDiffers(before.length, after.length, 'resources')
  before.forEach((b, i) => diffValue(b, after[i], resourceId(after[i]), '', out))
  return out
}

/** Differences between two image lists (the in-process resolution compares only these). */
export function diffImages(
  before: readonly RenderedImage[],
  after: readonly RenderedImage[]
): RenderDifference[] {
  if (before.length !== after.length) return countDiffers(before.length, after.length, 'images')
  const out: RenderDifference[] = []
  before.forEach((b, i) => {
    const a = after[i]!
    if (a.resource !== b.resource || a.path !== b.path) {
      out.push({
        resource: a.resource,
        path: a.path,
        before: `${b.resource} ${b.path}`,
        after: `${a.resource} ${a.path}`
      })
    } else if (a.value !== b.value)
      out.push({ resource: a.resource, path: a.path, before: b.value, after: a.value })
  })
  return out
}

const basename = (name: string): string => name.slice(name.lastIndexOf('/') + 1)

/** Rendered image references, one per name, the closest to `names` first. */
export function closestImages(names: readonly string[], rendered: readonly string[]): string[] {
  const byName = new Map<string, string>()
  for (const r of rendered) if (!byName.has(imageName(r))) byName.set(imageName(r), r)
  const score = (candidate: string): number =>
    Math.min(
      ...names.map(
        n =>
          (basename(n) === basename(candidate) ? 0 : 1000) +
          editDistance(n.toLowerCase(), candidate.toLowerCase())
      )
    )
  return [...byName.entries()].sort((a, b) => score(a[0]) - score(b[0])).map(([, ref]) => ref)
}

/** A "did you mean" hint for an update among what a target renders, or ''. */
export function didYouMeanImage(update: ImageUpdate, rendered: readonly string[]): string {
  const first = closestImages(update.names, rendered)[0]
  if (first === undefined) return ''
  const name = imageName(first)
  const close = update.names.some(
    n => basename(n) === basename(name) || didYouMean(n, [name]) !== undefined
  )
  return close ? ` Did you mean "${name}"?` : ''
}

/** The images a target renders, closest first, cut to `max` for a message. */
export function renderedList(
  names: readonly string[],
  rendered: readonly string[],
  max = 12
): string {
  const all = closestImages(names, rendered)
  if (all.length === 0) return 'no container image at all'
  const shown = all.slice(0, max).join(', ')
  return all.length > max ? `${shown} and ${all.length - max} more` : shown
}

/**
 * The message for an update that renders in none of its targets: what it was looked
 * up as, the closest rendered name, and what the targets render.
 */
export function nowhereMessage(
  update: ImageUpdate,
  targets: readonly string[],
  rendered: readonly string[]
): string {
  return (
    `${update.service}: ${update.ref} would render nowhere: no image named ${update.names.map(n => `"${n}"`).join(' or ')} appears in what ${targets.join(', ')} render${targets.length === 1 ? 's' : ''}` +
    ` (a name must be the image name as the resources write it, without tag or digest).` +
    `${didYouMeanImage(update, rendered)} The target renders: ${renderedList(update.names, rendered)}.` +
    ' Nothing was pushed; the config repository is unchanged.'
  )
}

/**
 * Whether a rendered image `value` is the deployed reference `ref`: the same text, or,
 * for a reference with a digest, the same name and digest (kustomize v2 drops the tag
 * when an entry has both; with a digest, runtimes pull by digest and the tag says
 * nothing more).
 */
export function rendersRef(ref: string, value: string): boolean {
  if (value === ref) return true
  const r = splitImage(ref)
  const v = splitImage(value)
  return r.digest !== '' && v.digest === r.digest && v.name === r.name && v.tag === ''
}

/** What a verified target reports. */
export interface TargetVerdict {
  /** Differences that are not a deployed image taking an old one's place. */
  unexpected: RenderDifference[]
  /** Updates whose image the render after the edit does not hold. */
  missing: ImageUpdate[]
}

/**
 * Judge one target: `diffs` between the render before and after, `after` the images
 * rendered after the edit, `placed` the updates edited into this target, and
 * `shows(update, value)` whether a rendered value is the update's image.
 */
export function judge(
  diffs: readonly RenderDifference[],
  after: readonly RenderedImage[],
  placed: readonly ImageUpdate[],
  shows: (update: ImageUpdate, value: string) => boolean
): TargetVerdict {
  const fields = new Set(after.map(i => `${i.resource} ${i.path}`))
  const unexpected = diffs.filter(
    d =>
      !(
        fields.has(`${d.resource} ${d.path}`) &&
        typeof d.after === 'string' &&
        typeof d.before === 'string' &&
        placed.some(u => shows(u, d.after as string))
      )
  )
  const missing = placed.filter(u => !after.some(i => shows(u, i.value)))
  return { unexpected, missing }
}

/** A difference as a message line. */
export function describeDifference(d: RenderDifference): string {
  const show = (v: unknown): string =>
    v === undefined ? '(absent)' : (JSON.stringify(v)?.slice(0, 80) ?? String(v))
  return `${d.resource} ${d.path || '(whole render)'}: ${show(d.before)} → ${show(d.after)}`
}

/** The message for an update that no target takes (none of its targets renders it). */
export function noTargetMessage(
  update: ImageUpdate,
  list: readonly Target[],
  rendered: ReadonlyMap<string, readonly string[]> | undefined
): string {
  const images = list.flatMap(t => (t.kind === 'kustomize' ? (rendered?.get(t.dir) ?? []) : []))
  const helmNames = list.flatMap(t => (t.kind === 'helm' && t.name ? [t.name] : []))
  if (images.length > 0 || helmNames.length === 0) {
    return nowhereMessage(update, list.map(targetLabel), images)
  }
  const hint = didYouMean(update.service, helmNames) ?? didYouMean(update.parsed.name, helmNames)
  return `${update.service}: no target takes ${update.ref}: ${list.map(targetLabel).join(', ')} name${list.length === 1 ? 's' : ''} ${helmNames.map(n => `"${n}"`).join(', ')}.${hint ? ` Did you mean "${hint}"?` : ''} Nothing was pushed; the config repository is unchanged.`
}
