/**
 * The `images:` list of one kustomization, edited the way `kustomize edit set image
 * NAME=NEWREF` edits it, but in place: an entry is found by `name` (or by `newName`)
 * and only its changed scalars move; new entries go into one `images:` list (written
 * once per file, however many images are added). Which name a new entry gets is the
 * first of the update's names that the target renders, when that is known.
 */
import type { Scalar, YAMLMap, YAMLSeq } from 'yaml'
import type { EditChange } from '../edit.js'
import type { ImageUpdate } from '../updates.js'
import { ConfigurationError } from '../../../core/errors.js'
import { formatImageRef } from '../../../model/image-ref.js'
import { entryFor, imageMatches } from './image.js'
import { formatScalar, isMap, isScalar, isSeq, scalarText, type YamlEditor } from '../yaml-edit.js'

function text(entry: YAMLMap, key: string): string | undefined {
  return scalarText(entry.get(key, true))
}

/** The reference an entry makes its images render as (for the old → new report). */
function refOfEntry(entry: YAMLMap): string {
  const name = text(entry, 'newName') ?? text(entry, 'name') ?? ''
  return formatImageRef({ name, tag: text(entry, 'newTag'), digest: text(entry, 'digest') })
}

/** The entry of `entries` an update edits: by `name` first, then by `newName`. */
export function findEntry(
  entries: readonly YAMLMap[],
  update: ImageUpdate
): { entry: YAMLMap; by: 'name' | 'newName' } | undefined {
  for (const n of update.names) {
    const entry = entries.find(e => text(e, 'name') === n)
    if (entry) return { entry, by: 'name' }
  }
  for (const n of update.names) {
    const entry = entries.find(e => text(e, 'newName') === n)
    if (entry) return { entry, by: 'newName' }
  }
  return undefined
}

/**
 * The name a new entry for `update` takes: with `rendered` (the image references the
 * target renders before the edit), the first of the update's names that one of them
 * has, or undefined when none has it; without, the update's first name.
 */
export function entryName(
  update: ImageUpdate,
  rendered: readonly string[] | undefined
): string | undefined {
  if (rendered === undefined) return update.names[0]
  return update.names.find(n => rendered.some(r => imageMatches(r, n)))
}

/** Edits of one kustomization file. */
export class KustomizationEdit {
  private readonly pending: [string, string][][] = []
  private readonly pendingChanges: EditChange[] = []

  constructor(
    private readonly ed: YamlEditor,
    readonly rel: string
  ) {
    if (!isMap(ed.docs[0]?.contents)) {
      throw new ConfigurationError(`${rel}: expected a kustomization map`)
    }
  }

  private get root(): YAMLMap {
    return this.ed.docs[0]!.contents as YAMLMap
  }

  private entries(): YAMLMap[] {
    const images = this.ed.get(0, ['images'])
    if (isSeq(images)) return images.items.filter(isMap)
    if (images === undefined || images === null || (isScalar(images) && images.value === null)) {
      return []
    }
    throw new ConfigurationError(`${this.rel}: "images" must be a list`)
  }

  /**
   * Apply one update. `rendered` is what the target renders before the edit, when
   * known. Returns whether the kustomization has (or now gets) an entry for it.
   */
  apply(update: ImageUpdate, rendered: readonly string[] | undefined, out: EditChange[]): boolean {
    const found = findEntry(this.entries(), update)
    if (found) {
      this.update(found.entry, found.by, update, out)
      return true
    }
    const name = entryName(update, rendered)
    if (name === undefined) return false
    const twin = this.pending.findIndex(fields => fields[0]![1] === name)
    if (twin >= 0) {
      // The same target listed twice adds nothing; two images under one name would
      // leave one of them not deployed.
      const other = this.pendingChanges[twin]!
      if (other.service === update.service) return true
      throw new ConfigurationError(
        `${this.rel}: ${other.service} and ${update.service} would both become the images entry "${name}"; deploy one image per name`
      )
    }
    const e = entryFor(name, update.parsed)
    const fields: [string, string][] = [['name', e.name]]
    if (e.newName) fields.push(['newName', e.newName])
    if (e.newTag) fields.push(['newTag', e.newTag])
    if (e.digest) fields.push(['digest', e.digest])
    this.pending.push(fields)
    this.pendingChanges.push({
      service: update.service,
      file: this.rel,
      line: this.ed.lineOf(this.root.range![1]),
      new: update.ref
    })
    return true
  }

  private update(
    entry: YAMLMap,
    by: 'name' | 'newName',
    update: ImageUpdate,
    out: EditChange[]
  ): void {
    const ed = this.ed
    const p = update.parsed
    const old = refOfEntry(entry)
    const name = text(entry, 'name') ?? ''
    const line = ed.lineOf(entry.range![0])
    let changed = false
    const drop = (key: string): void => {
      if (!entry.has(key)) return
      // A flow map cannot lose a key in place: blank values mean "unset" to kustomize.
      if (entry.flow) changed = ed.setKey(entry, key, '') || changed
      else changed = ed.deleteKey(entry, key) || changed
    }
    try {
      if (p.name !== name) changed = ed.setKey(entry, 'newName', p.name) || changed
      else drop('newName')
      if (p.tag) changed = ed.setKey(entry, 'newTag', p.tag) || changed
      else drop('newTag')
      if (p.digest) changed = ed.setKey(entry, 'digest', p.digest) || changed
      else drop('digest')
    } catch (error) {
      throw new ConfigurationError(
        `${this.rel}: cannot edit the images entry of ${by === 'name' ? name : text(entry, 'newName')} in place: ${(error as Error).message}`
      )
    }
    if (changed) out.push({ service: update.service, file: this.rel, line, old, new: update.ref })
  }

  /** Write the new entries (one `images:` list) and report them. */
  flush(out: EditChange[]): void {
    if (this.pending.length === 0) return
    const ed = this.ed
    const images = ed.get(0, ['images'])
    if (isSeq(images) && (images.items.length > 0 || images.flow)) {
      for (const fields of this.pending) ed.appendMapItem(images as YAMLSeq, fields)
    } else if (ed.pairOf(this.root, 'images')) {
      throw new ConfigurationError(
        `${this.rel}: "images:" is empty; write "images: []" or list one entry`
      )
    } else {
      const pad = ' '.repeat(this.listIndent())
      const lines = this.pending.flatMap(fields =>
        fields.map(([k, v], i) => `${pad}${i === 0 ? '- ' : '  '}${k}: ${formatScalar(v, 'PLAIN')}`)
      )
      ed.appendToDocument(0, `images:\n${lines.join('\n')}\n`)
    }
    out.push(...this.pendingChanges)
    this.pending.length = 0
    this.pendingChanges.length = 0
  }

  /** The indentation of the file's top-level block lists (`resources:` and the like). */
  private listIndent(): number {
    for (const pair of this.root.items) {
      const value = pair.value as YAMLSeq | Scalar | undefined
      if (isSeq(value) && !value.flow && value.items.length > 0 && value.range) {
        const first = value.items[0] as { range?: [number, number, number] }
        if (!first.range) continue
        const src = this.ed.source
        const dash = src.lastIndexOf('-', first.range[0])
        return dash - (src.lastIndexOf('\n', dash) + 1)
      }
    }
    return 0
  }
}
