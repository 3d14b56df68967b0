/**
 * The root filesystem of an overlay image read from its layers' directories, as the
 * kernel's overlayfs would merge them, without mounting anything: a path is looked up
 * from the top layer down; a whiteout (a character device 0:0, or a `.wh.<name>` file
 * as fuse-overlayfs stores them) deletes it for the layers below; a directory merges
 * with the directories of the same path below it until one of them is opaque (its
 * layer's tar recorded `.wh..wh..opq` there) or something other than a directory is
 * found. Symlinks resolve inside the image, as in rootfs.ts.
 *
 * What cannot be read as expected (an error other than "absent", an opacity that cannot
 * be told) is recorded in `problem`, and the view then answers "absent": the caller
 * discards what it read and mounts the image instead.
 */
import { lstatSync, readdirSync, readlinkSync, type Stats } from 'node:fs'
import { join } from 'node:path'
import { errorMessage } from '../../core/errors.js'
import { resolveParts, type RootView } from './rootfs.js'

/** One layer: its directory of changes, and the directories it made opaque. */
export interface OverlayLayer {
  diff: string
  /** The opaque directories (relative, '' for the root); throws when they cannot be told. */
  opaque(): ReadonlySet<string>
}

/** A root filesystem of stacked layers; `problem` says why what it answered is not to be trusted. */
export interface LayeredView extends RootView {
  readonly problem?: string
}

const OPAQUE = '.wh..wh..opq'
const WHITEOUT = '.wh.'

/** What the image holds at a symlink-free path. */
type Node =
  | { dir: true; /** layers (indexes, top first) whose directory shows here */ layers: number[] }
  | { dir: false; host: string; link?: string }
  | undefined

function lstatIfAny(path: string): Stats | undefined {
  try {
    return lstatSync(path)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined
    throw error
  }
}

/** A whiteout as the kernel's overlay format stores it: a character device 0:0. */
function isWhiteout(st: Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0
}

class Layered implements LayeredView {
  problem?: string
  private readonly nodes = new Map<string, Node>()

  constructor(private readonly layers: readonly OverlayLayer[]) {}

  /** Run `fn`; an error becomes the view's problem and the answer "absent". */
  private guard<T>(fn: () => T): T | undefined {
    if (this.problem) return undefined
    try {
      return fn()
    } catch (error) {
      this.problem = errorMessage(error)
      return undefined
    }
  }

  /** Whether layer `i` made the directory `parts` opaque (hiding the layers below). */
  private opaque(i: number, parts: string[]): boolean {
    const layer = this.layers[i]!
    if (lstatIfAny(join(layer.diff, ...parts, OPAQUE))) return true
    return layer.opaque().has(parts.join('/'))
  }

  /** What shows at `parts`, looked up in the `candidates` layers (top first). */
  private lookup(candidates: number[], parts: string[]): Node {
    const parent = parts.slice(0, -1)
    const name = parts[parts.length - 1]!
    const dirs: number[] = []
    for (const [at, i] of candidates.entries()) {
      const diff = this.layers[i]!.diff
      const host = join(diff, ...parts)
      const st = lstatIfAny(host)
      if (!st || isWhiteout(st)) {
        // Deleted in this layer: nothing below shows.
        if (st || lstatIfAny(join(diff, ...parent, WHITEOUT + name))) break
        continue
      }
      if (!st.isDirectory()) {
        if (dirs.length > 0) break // below a directory, a non-directory ends the merge
        return { dir: false, host, ...(st.isSymbolicLink() ? { link: readlinkSync(host) } : {}) }
      }
      dirs.push(i)
      if (at < candidates.length - 1 && this.opaque(i, parts)) break
    }
    return dirs.length > 0 ? { dir: true, layers: dirs } : undefined
  }

  private node(parts: string[]): Node {
    const key = parts.join('/')
    if (this.nodes.has(key)) return this.nodes.get(key)
    let node: Node
    if (parts.length === 0) {
      const layers: number[] = []
      for (let i = 0; i < this.layers.length; i++) {
        layers.push(i)
        if (i < this.layers.length - 1 && this.opaque(i, [])) break
      }
      node = { dir: true, layers }
    } else {
      const parent = this.node(parts.slice(0, -1))
      node = parent?.dir ? this.lookup(parent.layers, parts) : undefined
    }
    this.nodes.set(key, node)
    return node
  }

  /** The symlink-free parts of `rel`, and what shows there. */
  private find(rel: string): { parts: string[]; node: NonNullable<Node> } | undefined {
    const parts = resolveParts(rel, path => {
      const node = this.node(path)
      if (!node) return undefined
      return !node.dir && node.link !== undefined ? { link: node.link } : 'other'
    })
    const node = parts && this.node(parts)
    return node ? { parts: parts!, node } : undefined
  }

  resolve(rel: string): string | undefined {
    return this.guard(() => {
      const found = this.find(rel)
      if (!found) return undefined
      const { parts, node } = found
      return node.dir ? join(this.layers[node.layers[0]!]!.diff, ...parts) : node.host
    })
  }

  list(rel: string): string[] | undefined {
    const found = this.guard(() => this.find(rel))
    if (!found) return undefined
    const { parts, node } = found
    if (!node.dir) {
      throw Object.assign(new Error(`ENOTDIR: not a directory, ${rel}`), { code: 'ENOTDIR' })
    }
    return this.guard(() => {
      const names = new Set<string>()
      // Deleted in a layer: hidden in every layer below it.
      const hidden = new Set<string>()
      for (const i of node.layers) {
        const dir = join(this.layers[i]!.diff, ...parts)
        const deleted: string[] = []
        for (const entry of readdirSync(dir, { withFileTypes: true })) {
          const name = entry.name
          if (name === OPAQUE) continue
          if (name.startsWith(WHITEOUT)) deleted.push(name.slice(WHITEOUT.length))
          else if (entry.isCharacterDevice() && isWhiteout(lstatSync(join(dir, name))))
            deleted.push(name)
          else if (!hidden.has(name)) names.add(name)
        }
        for (const name of deleted) hidden.add(name)
      }
      return [...names]
    })
  }
}

/** A view of the layers `layers` (top first). */
export function layeredView(layers: readonly OverlayLayer[]): LayeredView {
  return new Layered(layers)
}
