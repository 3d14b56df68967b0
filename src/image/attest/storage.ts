/**
 * An image buildah just built, read straight from containers/storage, without starting
 * a buildah process for it (each costs 100-300 ms): the store's graph root and driver
 * (from `buildah info`, asked while the build runs, with the build's own environment),
 * `<driver>-images/images.json` (the image → its top layer) and
 * `<driver>-layers/layers.json` (each layer → its parent). With vfs the top layer's
 * directory `vfs/dir/<id>` is the whole root filesystem; with overlay each layer's
 * `overlay/<id>/diff` holds its own changes, stacked by layered-view.ts, and the layer's
 * tar-split (tar-split.ts) tells which directories it made opaque. The tar-splits of all
 * layers above the base are read at once (streamed, in zlib's thread pool) before the
 * scan; one that cannot be read matters only if the scan needs that layer's opacity.
 *
 * Anything this does not recognise (another driver, an image store elsewhere, a layer
 * missing, unfinished or in another store, a format surprise) is a reason, returned as
 * a string: the caller then mounts a container as before. File formats as written by
 * containers/storage (layers.go, images.go, drivers/vfs, drivers/overlay,
 * pkg/archive) and vbatts/tar-split (tar/storage).
 */
import { existsSync, lstatSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { errorMessage } from '../../core/errors.js'
import { layeredView, type LayeredView } from './layered-view.js'
import { directoryView, type RootView } from './rootfs.js'
import { readOpaqueDirs } from './tar-split.js'

/** Where a store keeps its data, as `buildah info` reports it. */
export interface StoreLocation {
  graphRoot: string
  /** `vfs`, `overlay`, ... */
  driver: string
  /** The driver's options (`overlay.mount_program=...`). */
  options: string[]
}

/** The store of `buildah info`'s JSON output, or why it cannot be used. Pure. */
export function parseBuildahInfo(stdout: string): StoreLocation | string {
  let store: { GraphRoot?: unknown; GraphDriverName?: unknown; GraphOptions?: unknown }
  try {
    store = (JSON.parse(stdout) as { store?: typeof store }).store ?? {}
  } catch (error) {
    return `buildah info printed no JSON (${errorMessage(error)})`
  }
  const { GraphRoot: graphRoot, GraphDriverName: driver, GraphOptions: options } = store
  if (typeof graphRoot !== 'string' || !graphRoot.startsWith('/') || typeof driver !== 'string')
    return 'buildah info names no graph root and driver'
  const list = Array.isArray(options) ? options.filter(o => typeof o === 'string') : []
  return { graphRoot, driver, options: list }
}

/** Options under which a layer's directory is not what this reads. */
const UNSUPPORTED_OPTION = /imagestore|composefs|metacopy/

/** Why this store cannot be read directly, or undefined when it can. Pure. */
export function unsupportedStore(store: StoreLocation): string | undefined {
  if (store.driver !== 'vfs' && store.driver !== 'overlay')
    return `storage driver ${store.driver} (only vfs and overlay are read directly)`
  const option = store.options.find(o => UNSUPPORTED_OPTION.test(o))
  return option ? `storage option ${option}` : undefined
}

interface ImageRecord {
  id?: unknown
  names?: unknown
  layer?: unknown
}

interface LayerRecord {
  id?: unknown
  parent?: unknown
  flags?: unknown
}

/**
 * The top layer of the image `id` (hex, `sha256:` allowed) or, without an id, of the
 * image named `name`, in the records of images.json. Pure.
 */
export function topLayerOf(
  images: unknown,
  image: { id?: string; name: string }
): { top: string } | string {
  if (!Array.isArray(images)) return 'images.json is not a list'
  const id = image.id?.replace(/^sha256:/, '')
  const found = (images as ImageRecord[]).find(r =>
    id ? r?.id === id : Array.isArray(r?.names) && (r.names as unknown[]).includes(image.name)
  )
  if (!found) return `image ${id ?? image.name} is not in images.json`
  if (typeof found.layer !== 'string' || found.layer === '')
    return `image ${id ?? image.name} has no top layer in images.json`
  return { top: found.layer }
}

/** The layers from `top` down to the base (top first), from layers.json's records. Pure. */
export function layerChain(layers: unknown, top: string): string[] | string {
  if (!Array.isArray(layers)) return 'layers.json is not a list'
  const byId = new Map<string, LayerRecord>()
  for (const r of layers as LayerRecord[]) if (typeof r?.id === 'string') byId.set(r.id, r)
  const chain: string[] = []
  for (let id: string | undefined = top; id;) {
    const record = byId.get(id)
    if (!record) return `layer ${id} is not in layers.json (another store holds it)`
    const flags = record.flags as Record<string, unknown> | undefined
    if (flags?.incomplete === true) return `layer ${id} is incomplete (being written or removed)`
    if (chain.includes(id)) return `layer ${id} is its own ancestor in layers.json`
    chain.push(id)
    if (record.parent !== undefined && typeof record.parent !== 'string')
      return `layer ${id} has a parent that is not a layer id`
    id = record.parent as string | undefined
  }
  return chain
}

function readJson(path: string): unknown {
  return JSON.parse(readFileSync(path, 'utf8'))
}

/** The image's root filesystem in the store, and what it is, for the log. */
export interface StoredRootfs {
  view: RootView
  /** Set when the view met something it does not recognise while read (then discard). */
  problem(): string | undefined
  describe: string
}

/**
 * The root filesystem of an image in the store, read without any buildah process; a
 * string says why it cannot be (the caller falls back to a mounted container).
 */
export async function storedRootfs(
  store: StoreLocation,
  image: { id?: string; name: string }
): Promise<StoredRootfs | string> {
  const unsupported = unsupportedStore(store)
  if (unsupported) return unsupported
  const { graphRoot, driver } = store
  let chain: string[] | string
  try {
    const top = topLayerOf(readJson(join(graphRoot, `${driver}-images`, 'images.json')), image)
    if (typeof top === 'string') return top
    chain = layerChain(readJson(join(graphRoot, `${driver}-layers`, 'layers.json')), top.top)
  } catch (error) {
    return `the store's metadata cannot be read (${errorMessage(error)})`
  }
  if (typeof chain === 'string') return chain
  const layers = chain.length === 1 ? 'one layer' : `${chain.length} layers`
  const describe = `${graphRoot} (${driver}, ${layers})`
  if (driver === 'vfs') {
    // vfs copies the parent into each layer: the top layer's directory is the whole image.
    const dir = join(graphRoot, 'vfs', 'dir', chain[0]!)
    if (!isDirectory(dir)) return `the vfs layer directory ${dir} is missing`
    return { view: directoryView(dir), problem: () => undefined, describe }
  }
  const home = join(graphRoot, driver)
  for (const id of chain) {
    const diff = join(home, id, 'diff')
    if (existsSync(join(home, id, 'composefs-data'))) return `layer ${id} is stored as composefs`
    // A link to an additional layer store, or nothing at all: not a layer we read.
    if (!isDirectory(diff)) return `${diff} is not a directory`
  }
  // The base layer's opacity never matters: nothing lies below it.
  const opaque = await Promise.all(
    chain.map((id, i) =>
      i === chain.length - 1
        ? 'the base layer has nothing below it'
        : readOpaqueDirs(join(graphRoot, `${driver}-layers`, `${id}.tar-split.gz`))
    )
  )
  const view: LayeredView = layeredView(
    chain.map((id, i) => ({
      diff: join(home, id, 'diff'),
      opaque: (): Set<string> => {
        const dirs = opaque[i]!
        if (typeof dirs === 'string') throw new Error(`layer ${id}: ${dirs}`)
        return dirs
      }
    }))
  )
  return { view, problem: () => view.problem, describe }
}

/** Whether `path` is a directory itself (not a link to one). */
function isDirectory(path: string): boolean {
  try {
    return lstatSync(path).isDirectory()
  } catch {
    return false
  }
}
