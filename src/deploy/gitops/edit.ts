/**
 * The GitOps edits: kustomize `images:` entries, Helm values keys and the container
 * images of raw manifests, patched in place with YamlEditor. `planEdits` reads the
 * files and returns their new contents and the old → new of every update; it writes
 * nothing, so the push loop can re-apply it on a fresh tip.
 */
import { lstatSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import picomatch from 'picomatch'
import type { Scalar } from 'yaml'
import { isWithin, symlinkOnPath } from '../../core/confine.js'
import type { ImageUpdate, Target } from './updates.js'
import { didYouMeanImage, noTargetMessage, renderedList } from './render-compare.js'
import { ConfigurationError } from '../../core/errors.js'
import { formatImageRef, parseImageRef, type ImageRef } from '../../model/image-ref.js'
import { KustomizationEdit } from './kustomize/edit.js'
import { isMap, isScalar, isSeq, scalarText, YamlEditor } from './yaml-edit.js'

/** One update applied to one place. */
export interface EditChange {
  service: string
  /** Repo-relative file. */
  file: string
  /** 1-based line of the changed value. */
  line: number
  old?: string
  new: string
}

/** What applying the updates would do. */
export interface EditPlan {
  /** Repo-relative path → new content, only files whose bytes change. */
  files: Map<string, string>
  /** Repo-relative path → the content before, for the files in `files`. */
  originals: Map<string, string>
  changes: EditChange[]
  /** Service → the targets that hold (or now get) its image. */
  placed: Map<string, Target[]>
  /** `file:key` of each Helm target edited → the dotted keys written. */
  helmKeys: Map<string, string[]>
}

const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization']
const CONTAINER_KEYS = new Set(['containers', 'initContainers', 'ephemeralContainers'])

/**
 * Whether an image name written in a target denotes the update's image: one of its
 * names exactly, as kustomize matches `images[].name` (no `docker.io/` folding).
 */
export function matchesUpdate(name: string, update: ImageUpdate): boolean {
  return update.names.includes(name)
}

/**
 * Refuse `full` (a path under the clone `within`) when it is, or goes through, a
 * symbolic link, or lies outside the clone: editing through a link would rewrite a
 * file elsewhere (anything the runner's user can write) and commit nothing.
 */
export function assertNoSymlink(within: string, full: string, what: string): void {
  const rel = relative(within, full)
  if (!isWithin(within, full)) {
    throw new ConfigurationError(`${what}: ${rel} is outside the config repository`)
  }
  const link = symlinkOnPath(within, rel)
  if (link !== undefined) {
    throw new ConfigurationError(
      `${what}: ${link} in the config repository is a symbolic link; deploy edits only regular files inside the clone (a link may lead outside it), so nothing was changed. Replace the link with the file or point the target at the real path.`
    )
  }
}

/** Whether a path exists, without following a final symlink. */
function present(path: string): boolean {
  return lstatSync(path, { throwIfNoEntry: false }) !== undefined
}

class Workspace {
  private readonly editors = new Map<string, YamlEditor>()
  readonly kustomizations = new Map<string, KustomizationEdit>()
  /** `file:key` of each Helm target edited → the dotted keys written. */
  readonly helmKeys = new Map<string, string[]>()
  constructor(
    readonly root: string,
    /** The clone that every edited file must be a regular file of. */
    readonly within: string
  ) {}

  editor(rel: string, what: string): YamlEditor {
    let e = this.editors.get(rel)
    if (!e) {
      const full = join(this.root, rel)
      assertNoSymlink(this.within, full, what)
      if (!present(full) || !statSync(full).isFile()) {
        throw new ConfigurationError(`${what}: file ${rel} does not exist in the config repository`)
      }
      try {
        e = new YamlEditor(readFileSync(full, 'utf8'), rel)
      } catch (error) {
        throw new ConfigurationError((error as Error).message)
      }
      this.editors.set(rel, e)
    }
    return e
  }

  /** New contents of the files whose bytes change, and what they held before. */
  result(): { files: Map<string, string>; originals: Map<string, string> } {
    const files = new Map<string, string>()
    const originals = new Map<string, string>()
    for (const [rel, e] of this.editors) {
      const text = e.toString()
      if (text !== e.source) {
        files.set(rel, text)
        originals.set(rel, e.source)
      }
    }
    return { files, originals }
  }
}

/**
 * The kustomization file of target `dir` (relative to `root`), refused when it is
 * missing or reached through a symbolic link.
 */
export function kustomizationFile(root: string, within: string, dir: string): string {
  assertNoSymlink(within, join(root, dir), `target kustomize:${dir}`)
  for (const name of KUSTOMIZATION_FILES) {
    const rel = dir === '.' ? name : `${dir}/${name}`
    if (present(join(root, rel))) {
      assertNoSymlink(within, join(root, rel), `target kustomize:${dir}`)
      return rel
    }
  }
  throw new ConfigurationError(
    `target kustomize:${dir}: no kustomization.yaml in ${dir} of the config repository`
  )
}

function editKustomize(
  ws: Workspace,
  dir: string,
  update: ImageUpdate,
  rendered: readonly string[] | undefined,
  out: EditChange[]
): boolean {
  const rel = kustomizationFile(ws.root, ws.within, dir)
  let k = ws.kustomizations.get(rel)
  if (!k) {
    k = new KustomizationEdit(ws.editor(rel, `target kustomize:${dir}`), rel)
    ws.kustomizations.set(rel, k)
  }
  return k.apply(update, rendered, out)
}

function helmPart(key: string, p: ImageRef, ref: string, where: string): string {
  const last = key.split('.').pop()!.toLowerCase()
  if (last.endsWith('tag')) {
    if (!p.tag) throw new ConfigurationError(`${where}: the key takes a tag but ${ref} has none`)
    return p.tag
  }
  if (last.endsWith('repository')) return p.name
  if (last.endsWith('digest')) {
    if (!p.digest)
      throw new ConfigurationError(`${where}: the key takes a digest but ${ref} has none`)
    return p.digest
  }
  return ref
}

function editHelm(
  ws: Workspace,
  target: Extract<Target, { kind: 'helm' }>,
  update: ImageUpdate,
  out: EditChange[]
): void {
  const where = `target helm:${target.file}:${target.key}`
  const ed = ws.editor(target.file, where)
  const path = target.key.split('.')
  const node = ed.get(0, path)
  if (node === undefined) {
    throw new ConfigurationError(`${target.file}: key ${target.key} does not exist (${where})`)
  }
  const p = update.parsed
  if (isMap(node)) {
    // `image: {repository, tag}`: set the parts present.
    const old = formatImageRef({
      name: scalarText(node.get('repository', true)) ?? '',
      tag: scalarText(node.get('tag', true)),
      digest: scalarText(node.get('digest', true))
    })
    let changed = false
    if (!node.has('repository') && !node.has('tag')) {
      throw new ConfigurationError(
        `${target.file}: key ${target.key} is a map without repository or tag`
      )
    }
    const written: string[] = []
    const set = (key: string, value: string): void => {
      written.push(`${target.key}.${key}`)
      changed = ed.setKey(node, key, value) || changed
    }
    if (node.has('repository')) set('repository', p.name)
    if (node.has('tag') || p.tag) set('tag', p.tag ?? '')
    // A digest goes into its own key, added when missing (the render check then asks
    // the chart's templates to use it).
    if (node.has('digest') || p.digest) set('digest', p.digest ?? '')
    ws.helmKeys.set(`${target.file}:${target.key}`, written)
    if (changed) {
      out.push({
        service: update.service,
        file: target.file,
        line: ed.lineOf(node.range![0]),
        old,
        new: update.ref
      })
    }
    return
  }
  if (!isScalar(node)) {
    throw new ConfigurationError(
      `${target.file}: key ${target.key} holds a list, expected a string`
    )
  }
  const value = helmPart(target.key, p, update.ref, where)
  ws.helmKeys.set(`${target.file}:${target.key}`, [target.key])
  const old = scalarText(node)
  if (ed.setScalar(node as Scalar, value)) {
    out.push({
      service: update.service,
      file: target.file,
      line: ed.lineOf(node.range![0]),
      old,
      new: value
    })
  }
}

/** Regular files under `root` (relative, `/`-separated); symlinks are not followed. */
function listFiles(
  root: string,
  dir = '',
  out: { files: string[]; links: string[] } = { files: [], links: [] }
): { files: string[]; links: string[] } {
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    if (entry.name === '.git') continue
    const rel = dir === '' ? entry.name : `${dir}/${entry.name}`
    if (entry.isDirectory()) listFiles(root, rel, out)
    else if (entry.isFile()) out.files.push(rel)
    else if (entry.isSymbolicLink()) out.links.push(rel)
  }
  return out
}

function editManifests(
  ws: Workspace,
  glob: string,
  update: ImageUpdate,
  out: EditChange[],
  imagePaths: readonly string[][]
): void {
  const match = picomatch(glob, { dot: true })
  const listed = listFiles(ws.root)
  const link = listed.links.find(f => match(f) && /\.ya?ml$/.test(f))
  if (link !== undefined)
    assertNoSymlink(ws.within, join(ws.root, link), `target manifests:${glob}`)
  const files = listed.files.filter(f => match(f) && /\.ya?ml$/.test(f)).sort()
  if (files.length === 0) {
    throw new ConfigurationError(
      `target manifests:${glob}: no YAML file matches in the config repository`
    )
  }
  let found = 0
  const seen: string[] = []
  for (const rel of files) {
    const ed = ws.editor(rel, `target manifests:${glob}`)
    const consider = (img: unknown): void => {
      const text = scalarText(img)
      if (!text) return
      seen.push(text)
      let name: string
      try {
        name = parseImageRef(text).name
      } catch {
        return
      }
      if (!matchesUpdate(name, update)) return
      found++
      if (ed.setScalar(img as Scalar, update.ref)) {
        const line = ed.lineOf((img as Scalar).range![0])
        out.push({ service: update.service, file: rel, line, old: text, new: update.ref })
      }
    }
    const visit = (node: unknown): void => {
      if (isMap(node)) {
        for (const pair of node.items) {
          const key = isScalar(pair.key) ? String(pair.key.value) : ''
          if (CONTAINER_KEYS.has(key) && isSeq(pair.value)) {
            for (const c of pair.value.items) if (isMap(c)) consider(c.get('image', true))
          } else visit(pair.value)
        }
      } else if (isSeq(node)) for (const item of node.items) visit(item)
    }
    ed.docs.forEach((doc, i) => {
      visit(doc.contents)
      // Extra dotted paths for custom resources that hold an image elsewhere.
      for (const path of imagePaths) {
        const node = ed.get(i, path)
        if (isScalar(node)) consider(node)
      }
    })
  }
  if (found === 0) {
    throw new ConfigurationError(
      `target manifests:${glob}: no container uses the image of ${update.service} (${update.names.join(', ')}) in ${files.length} file(s).${didYouMeanImage(update, seen)} The files use: ${renderedList(update.names, seen)}. Nothing was pushed; the config repository is unchanged.`
    )
  }
}

/** Options of planEdits. */
export interface PlanOptions {
  /** Extra dotted paths of images in manifests (custom resources). */
  imagePaths?: readonly string[]
  /** The clone every edited file must belong to (default: root). */
  within?: string
  /** Kustomize target dir → the images it renders before the edit (names new entries). */
  rendered?: ReadonlyMap<string, readonly string[]>
}

/**
 * Plan every update against the files under `root`. Updates with their own targets
 * use those, the others use `targets`. Every file read for editing must be a regular
 * file of the clone `within` (default `root`) reached without a symlink. An update
 * that no target takes (no image of that name renders in any of its kustomize
 * targets, a Helm target names another image) is an error.
 */
export function planEdits(
  root: string,
  updates: readonly ImageUpdate[],
  targets: readonly Target[],
  options: PlanOptions = {}
): EditPlan {
  const imagePaths = (options.imagePaths ?? []).map(p => p.split('.'))
  const within = options.within ?? root
  if (root !== within) assertNoSymlink(within, root, 'input "path"')
  const ws = new Workspace(root, within)
  const changes: EditChange[] = []
  const placed = new Map<string, Target[]>()
  for (const update of updates) {
    const list = update.targets.length > 0 ? update.targets : targets
    if (list.length === 0) {
      throw new ConfigurationError(
        `no target for ${update.service}: set the "targets" input or deploy: in the services file`
      )
    }
    const here: Target[] = []
    for (const t of list) {
      if (t.kind === 'kustomize') {
        if (editKustomize(ws, t.dir, update, options.rendered?.get(t.dir), changes)) here.push(t)
      } else if (t.kind === 'manifests') {
        editManifests(ws, t.glob, update, changes, imagePaths)
        here.push(t)
      } else {
        if (t.name !== undefined && !matchesUpdate(t.name, update)) continue
        if (t.name === undefined && update.targets.length === 0 && updates.length > 1) {
          throw new ConfigurationError(
            `target helm:${t.file}:${t.key} takes one image but ${updates.length} are deployed: add =<name> to say which`
          )
        }
        editHelm(ws, t, update, changes)
        here.push(t)
      }
    }
    if (here.length === 0) {
      throw new ConfigurationError(noTargetMessage(update, list, options.rendered))
    }
    placed.set(update.service, here)
  }
  for (const k of ws.kustomizations.values()) k.flush(changes)
  return { ...ws.result(), changes, placed, helmKeys: ws.helmKeys }
}

/**
 * Sparse-checkout patterns (no-cone, rooted) covering every file the targets can
 * touch under `path`, or undefined when the whole tree is needed.
 */
export function sparsePatterns(path: string, targets: readonly Target[]): string[] | undefined {
  if (targets.length === 0) return undefined
  const prefix = path === '.' ? '' : `${path}/`
  const out = new Set<string>()
  for (const t of targets) {
    if (t.kind === 'kustomize') {
      out.add(`/${prefix}${t.dir === '.' ? '' : `${t.dir}/`}*`)
      // The directory's own entry too: when it is a symlink (a file to git), it is checked
      // out and refused as a link, rather than missing and reported as no kustomization.
      if (t.dir !== '.') out.add(`/${prefix}${t.dir}`)
    } else if (t.kind === 'helm') out.add(`/${prefix}${t.file}`)
    else out.add(`/${prefix}${t.glob}`)
  }
  return [...out]
}
