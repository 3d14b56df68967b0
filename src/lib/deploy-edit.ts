/**
 * The GitOps edits: kustomize `images:` entries, Helm values keys and the container
 * images of raw manifests, patched in place with YamlEditor. `planEdits` reads the
 * files and returns their new contents and the old → new of every update; it writes
 * nothing, so the push loop can re-apply it on a fresh tip.
 */
import { lstatSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import picomatch from 'picomatch'
import type { Scalar, YAMLMap, YAMLSeq } from 'yaml'
import { isWithin, symlinkOnPath } from './confine.js'
import { ConfigurationError } from './errors.js'
import { formatImageRef, parseImageRef, sameImageName, type ImageRef } from './image-ref.js'
import type { ImageUpdate, Target } from './deploy-targets.js'
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
  changes: EditChange[]
}

const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization']
const CONTAINER_KEYS = new Set(['containers', 'initContainers', 'ephemeralContainers'])

/** Whether an image name written in a target denotes the update's image. */
export function matchesUpdate(name: string, update: ImageUpdate): boolean {
  return update.names.some(n => n === name || sameImageName(n, name))
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

  result(): Map<string, string> {
    const out = new Map<string, string>()
    for (const [rel, e] of this.editors) {
      const text = e.toString()
      if (text !== e.source) out.set(rel, text)
    }
    return out
  }
}

function kustomizationFile(ws: Workspace, dir: string): string {
  for (const name of KUSTOMIZATION_FILES) {
    const rel = dir === '.' ? name : `${dir}/${name}`
    assertNoSymlink(ws.within, join(ws.root, dir), `target kustomize:${dir}`)
    if (present(join(ws.root, rel))) return rel
  }
  throw new ConfigurationError(
    `target kustomize:${dir}: no kustomization.yaml in ${dir} of the config repository`
  )
}

function refOfEntry(entry: YAMLMap): string {
  const get = (k: string): string | undefined => scalarText(entry.get(k, true))
  const name = get('newName') ?? get('name') ?? ''
  return formatImageRef({ name, tag: get('newTag'), digest: get('digest') })
}

function editKustomize(ws: Workspace, dir: string, update: ImageUpdate, out: EditChange[]): void {
  const rel = kustomizationFile(ws, dir)
  const ed = ws.editor(rel, `target kustomize:${dir}`)
  const doc = ed.docs[0]
  const root = doc?.contents
  if (!doc || !isMap(root)) throw new ConfigurationError(`${rel}: expected a kustomization map`)
  const images = ed.get(0, ['images'])
  const p = update.parsed
  const entries = isSeq(images) ? images.items.filter(isMap) : []
  const entry = entries.find(e => {
    const name = scalarText(e.get('name', true))
    const newName = scalarText(e.get('newName', true))
    return (name && matchesUpdate(name, update)) || (newName && matchesUpdate(newName, update))
  })
  if (!entry) {
    const fields: [string, string][] = [['name', p.name]]
    if (p.tag) fields.push(['newTag', p.tag])
    if (p.digest) fields.push(['digest', p.digest])
    if (isSeq(images) && (images.items.length > 0 || images.flow)) {
      ed.appendMapItem(images as YAMLSeq, fields)
    } else if (
      images === undefined ||
      images === null ||
      (isScalar(images) && images.value === null)
    ) {
      if (ed.pairOf(root, 'images')) {
        throw new ConfigurationError(
          `${rel}: "images:" is empty; write "images: []" or list one entry`
        )
      }
      const lines = fields.map(([k, v], i) => `${i === 0 ? '- ' : '  '}${k}: ${JSON.stringify(v)}`)
      ed.appendToDocument(0, `images:\n${lines.join('\n')}\n`)
    } else {
      throw new ConfigurationError(`${rel}: "images" must be a list`)
    }
    out.push({
      service: update.service,
      file: rel,
      line: ed.lineOf(root.range![1]),
      new: update.ref
    })
    return
  }
  const old = refOfEntry(entry)
  const name = scalarText(entry.get('name', true)) ?? ''
  const line = ed.lineOf(entry.range![0])
  let changed = false
  if (entry.has('newName')) changed = ed.setKey(entry, 'newName', p.name) || changed
  else if (!sameImageName(name, p.name)) changed = ed.setKey(entry, 'newName', p.name) || changed
  if (p.tag) changed = ed.setKey(entry, 'newTag', p.tag) || changed
  else if (entry.has('newTag')) changed = ed.deleteKey(entry, 'newTag') || changed
  if (p.digest) changed = ed.setKey(entry, 'digest', p.digest) || changed
  else if (entry.has('digest')) changed = ed.deleteKey(entry, 'digest') || changed
  if (changed) out.push({ service: update.service, file: rel, line, old, new: update.ref })
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
    if (node.has('repository')) changed = ed.setKey(node, 'repository', p.name) || changed
    if (node.has('tag') || p.tag) changed = ed.setKey(node, 'tag', p.tag ?? '') || changed
    if (node.has('digest')) changed = ed.setKey(node, 'digest', p.digest ?? '') || changed
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
  for (const rel of files) {
    const ed = ws.editor(rel, `target manifests:${glob}`)
    const consider = (img: unknown): void => {
      const text = scalarText(img)
      if (!text) return
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
      `target manifests:${glob}: no container uses the image of ${update.service} (${update.names.join(', ')}) in ${files.length} file(s)`
    )
  }
}

/**
 * Plan every update against the files under `root`. Updates with their own targets
 * use those, the others use `targets`. Every file read for editing must be a regular
 * file of the clone `within` (default `root`) reached without a symlink.
 */
export function planEdits(
  root: string,
  updates: readonly ImageUpdate[],
  targets: readonly Target[],
  options: { imagePaths?: readonly string[]; within?: string } = {}
): EditPlan {
  const imagePaths = (options.imagePaths ?? []).map(p => p.split('.'))
  const within = options.within ?? root
  if (root !== within) assertNoSymlink(within, root, 'input "path"')
  const ws = new Workspace(root, within)
  const changes: EditChange[] = []
  for (const update of updates) {
    const list = update.targets.length > 0 ? update.targets : targets
    if (list.length === 0) {
      throw new ConfigurationError(
        `no target for ${update.service}: set the "targets" input or deploy: in the services file`
      )
    }
    for (const t of list) {
      if (t.kind === 'kustomize') editKustomize(ws, t.dir, update, changes)
      else if (t.kind === 'manifests') editManifests(ws, t.glob, update, changes, imagePaths)
      else {
        if (t.name !== undefined && !matchesUpdate(t.name, update)) continue
        if (t.name === undefined && update.targets.length === 0 && updates.length > 1) {
          throw new ConfigurationError(
            `target helm:${t.file}:${t.key} takes one image but ${updates.length} are deployed: add =<name> to say which`
          )
        }
        editHelm(ws, t, update, changes)
      }
    }
  }
  return { files: ws.result(), changes }
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
