/**
 * An in-process resolution of a kustomization, for when neither `kustomize` nor
 * `kubectl` is on the runner: resources and bases (files and directories), components,
 * patches (strategic merge and JSON 6902, inline or from files, with targets), name
 * prefixes and suffixes, namespaces, `images:` entries and ImageTagTransformer /
 * PatchTransformer configs in `transformers:`, in kustomize's order. It is good enough
 * to tell which container images a kustomization renders, not to render it: generators
 * make no images and are not run; remote resources, Helm charts and replacements get a
 * notice and are skipped. Reads go through a FileSource; paths are relative to the
 * repository and never leave it. Paths referenced but absent are reported, so that a
 * sparse checkout can be widened and the resolution run again.
 */
import { posix } from 'node:path'
import { parse, parseAllDocuments } from 'yaml'
import { transformImages, type KustomizeImage } from './image.js'
import {
  applyJson6902,
  isObj,
  mergeObj,
  nameOf,
  patchNames,
  selects,
  type Obj,
  type PatchTarget,
  type Resource
} from './patch.js'

/** Read access to the repository (paths relative to it, `/`-separated). */
export interface FileSource {
  /** A regular file's text, or undefined when it is absent. */
  read(rel: string): string | undefined
  /** Whether the path is a directory. */
  isDir(rel: string): boolean
}

/** A path the kustomization references that is not there. */
export interface MissingPath {
  path: string
  /** What it was expected to be (`any` for a resource: a file or a directory). */
  kind: 'file' | 'dir' | 'any'
}

/** What a resolution found. */
export interface Resolution {
  resources: Obj[]
  notices: string[]
  missing: MissingPath[]
}

/** The file names kustomize looks for in a directory. */
export const KUSTOMIZATION_NAMES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization']

const REMOTE = /^(?:[a-z][a-z0-9+.-]*:\/\/|git@|git::|(?:github|gitlab)\.com\/|bitbucket\.org\/)/i
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'PersistentVolume',
  'StorageClass',
  'PriorityClass',
  'MutatingWebhookConfiguration',
  'ValidatingWebhookConfiguration',
  'APIService'
])

const strings = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []
const objects = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter(isObj) : [])

class Resolver {
  readonly notices: string[] = []
  readonly missing: MissingPath[] = []
  private readonly stack: string[] = []

  constructor(private readonly files: FileSource) {}

  /** `entry` of the kustomization in `dir` as a repository path, or undefined (noticed). */
  private path(dir: string, entry: string, what: string): string | undefined {
    if (REMOTE.test(entry)) {
      this.notices.push(`${dir}: remote ${what} ${entry} is not resolved in-process; skipped`)
      return undefined
    }
    const p = posix.normalize(posix.join(dir, entry))
    if (posix.isAbsolute(entry) || p === '..' || p.startsWith('../')) {
      this.notices.push(`${dir}: ${what} ${entry} is outside the repository; skipped`)
      return undefined
    }
    return p
  }

  private miss(path: string, kind: MissingPath['kind']): void {
    if (!this.missing.some(m => m.path === path)) this.missing.push({ path, kind })
  }

  private readYaml(rel: string, kind: MissingPath['kind']): Obj[] | undefined {
    const text = this.files.read(rel)
    if (text === undefined) {
      this.miss(rel, kind)
      return undefined
    }
    const out: Obj[] = []
    for (const doc of parseAllDocuments(text)) {
      if (doc.errors.length > 0) {
        throw new Error(`${rel}: not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}`)
      }
      const v: unknown = doc.toJS()
      if (isObj(v) && /List$/.test(String(v.kind ?? '')) && Array.isArray(v.items)) {
        out.push(...objects(v.items))
      } else if (isObj(v)) out.push(v)
    }
    return out
  }

  /** The kustomization of `dir`, or undefined (missing). */
  private kustomization(dir: string): Obj | undefined {
    for (const name of KUSTOMIZATION_NAMES) {
      const rel = dir === '.' ? name : `${dir}/${name}`
      const text = this.files.read(rel)
      if (text === undefined) continue
      const v: unknown = parse(text)
      if (!isObj(v)) throw new Error(`${rel}: expected a kustomization map`)
      return v
    }
    this.miss(dir, 'dir')
    return undefined
  }

  /** Build the kustomization in `dir` (kind Kustomization). */
  build(dir: string): Resource[] {
    if (this.stack.includes(dir)) {
      throw new Error(
        `kustomizations refer to each other in a cycle: ${[...this.stack, dir].join(' → ')}`
      )
    }
    this.stack.push(dir)
    try {
      const k = this.kustomization(dir)
      if (!k) return []
      const acc: Resource[] = []
      this.expand(dir, k, acc)
      return acc
    } finally {
      this.stack.pop()
    }
  }

  /** Resources, components and transformations of `k` (in `dir`) onto `acc`. */
  private expand(dir: string, k: Obj, acc: Resource[]): void {
    for (const entry of [...strings(k.bases), ...strings(k.resources)]) {
      const p = this.path(dir, entry, 'resource')
      if (p === undefined) continue
      if (this.files.isDir(p)) acc.push(...this.build(p))
      else {
        for (const obj of this.readYaml(p, 'any') ?? []) acc.push({ obj, origName: nameOf(obj) })
      }
    }
    for (const entry of strings(k.components)) {
      const p = this.path(dir, entry, 'component')
      if (p === undefined) continue
      if (this.stack.includes(p)) throw new Error(`component cycle at ${p}`)
      this.stack.push(p)
      try {
        const c = this.kustomization(p)
        if (c) this.expand(p, c, acc)
      } finally {
        this.stack.pop()
      }
    }
    this.generatorFiles(dir, k)
    if (k.helmCharts !== undefined || k.helmChartInflationGenerator !== undefined) {
      this.notices.push(`${dir}: helmCharts are not rendered in-process; their images are not seen`)
    }
    this.transform(dir, k, acc)
  }

  /** Generators make no images, but their files must be there for a renderer. */
  private generatorFiles(dir: string, k: Obj): void {
    for (const g of [...objects(k.configMapGenerator), ...objects(k.secretGenerator)]) {
      const files = strings(g.files).map(f => f.slice(f.indexOf('=') + 1))
      for (const f of [...files, ...strings(g.envs), ...strings(g.env ? [g.env] : [])]) {
        const p = this.path(dir, f, 'generator file')
        if (p !== undefined && this.files.read(p) === undefined) this.miss(p, 'file')
      }
    }
  }

  /** Patch documents of an entry: inline text or a file. */
  private patchDocs(dir: string, entry: { path?: unknown; patch?: unknown }): unknown[] {
    if (typeof entry.patch === 'string') {
      return parseAllDocuments(entry.patch).map(d => d.toJS() as unknown)
    }
    if (typeof entry.path === 'string') {
      const p = this.path(dir, entry.path, 'patch')
      if (p === undefined) return []
      const text = this.files.read(p)
      if (text === undefined) {
        this.miss(p, 'file')
        return []
      }
      return parseAllDocuments(text).map(d => d.toJS() as unknown)
    }
    return []
  }

  private patch(dir: string, acc: Resource[], doc: unknown, target: PatchTarget | undefined): void {
    if (Array.isArray(doc)) {
      for (const r of acc.filter(r => target !== undefined && selects(target, r))) {
        try {
          applyJson6902(r.obj, doc)
        } catch (error) {
          this.notices.push(
            `${dir}: a JSON 6902 patch of ${nameOf(r.obj)} failed: ${(error as Error).message}`
          )
        }
      }
      return
    }
    if (!isObj(doc)) return
    for (let i = acc.length - 1; i >= 0; i--) {
      const r = acc[i]!
      if (target !== undefined ? !selects(target, r) : !patchNames(doc, r)) continue
      const merged = mergeObj(r.obj, doc)
      if (merged === undefined) acc.splice(i, 1)
      else {
        // With a target, the patch's own name says nothing: the resource keeps its own.
        if (target !== undefined)
          merged.metadata = { ...(merged.metadata as Obj), name: nameOf(r.obj) }
        r.obj = merged
      }
    }
  }

  private transform(dir: string, k: Obj, acc: Resource[]): void {
    for (const entry of k.patchesStrategicMerge === undefined
      ? []
      : (k.patchesStrategicMerge as unknown[])) {
      if (typeof entry !== 'string') continue
      const docs = /\n|^\s*(?:apiVersion|kind|metadata)\s*:/.test(entry)
        ? parseAllDocuments(entry).map(d => d.toJS() as unknown)
        : this.patchDocs(dir, { path: entry })
      for (const d of docs) this.patch(dir, acc, d, undefined)
    }
    for (const p of objects(k.patches)) {
      const target = isObj(p.target) ? (p.target as PatchTarget) : undefined
      for (const d of this.patchDocs(dir, p)) this.patch(dir, acc, d, target)
    }
    this.names(k, acc)
    for (const p of objects(k.patchesJson6902)) {
      const target = isObj(p.target) ? (p.target as PatchTarget) : undefined
      for (const d of this.patchDocs(dir, p))
        if (target) this.patch(dir, acc, Array.isArray(d) ? d : [], target)
    }
    for (const image of objects(k.images)) {
      for (const r of acc) transformImages(r.obj, image as unknown as KustomizeImage)
    }
    if (k.replacements !== undefined) {
      this.notices.push(`${dir}: replacements are not applied in-process`)
    }
    if (k.configurations !== undefined) {
      this.notices.push(
        `${dir}: configurations (custom field specs) are not applied in-process; images in fields they add are not seen`
      )
    }
    for (const entry of strings(k.transformers)) this.transformer(dir, entry, acc)
  }

  /** namespace, namePrefix and nameSuffix. */
  private names(k: Obj, acc: Resource[]): void {
    for (const r of acc) {
      const m = isObj(r.obj.metadata) ? { ...r.obj.metadata } : {}
      if (typeof k.namespace === 'string' && !CLUSTER_SCOPED.has(String(r.obj.kind))) {
        m.namespace = k.namespace
      }
      if (
        (typeof k.namePrefix === 'string' || typeof k.nameSuffix === 'string') &&
        r.obj.kind !== 'Namespace'
      ) {
        m.name = `${typeof k.namePrefix === 'string' ? k.namePrefix : ''}${String(m.name ?? '')}${typeof k.nameSuffix === 'string' ? k.nameSuffix : ''}`
      }
      r.obj = { ...r.obj, metadata: m }
    }
  }

  /** A `transformers:` entry: image tag and patch transformer configs are applied. */
  private transformer(dir: string, entry: string, acc: Resource[]): void {
    const p = this.path(dir, entry, 'transformer')
    if (p === undefined) return
    const configs = this.files.isDir(p)
      ? this.build(p).map(r => r.obj)
      : (this.readYaml(p, 'any') ?? [])
    for (const c of configs) {
      if (c.kind === 'ImageTagTransformer' && isObj(c.imageTag)) {
        for (const r of acc) transformImages(r.obj, c.imageTag as unknown as KustomizeImage)
      } else if (c.kind === 'PatchTransformer') {
        const target = isObj(c.target) ? (c.target as PatchTarget) : undefined
        for (const d of this.patchDocs(dir, c)) this.patch(dir, acc, d, target)
      }
    }
  }
}

/** Resolve the kustomization in `dir` (repository-relative). Throws on invalid YAML or a cycle. */
export function resolveKustomization(files: FileSource, dir: string): Resolution {
  const r = new Resolver(files)
  const resources = r.build(dir).map(x => x.obj)
  return { resources, notices: r.notices, missing: r.missing }
}
