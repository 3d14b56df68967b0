/**
 * kustomize's patches on resources parsed into plain objects, as far as the in-process
 * resolution needs them to tell which images a kustomization renders: strategic merge
 * patches (maps merge, lists of named items merge by their key, `$patch: delete` and
 * `$patch: replace`, null deletes), JSON 6902 operations, and patch target selectors
 * (kind, name and namespace as anchored regular expressions, group, version, label
 * and annotation selectors). Pure.
 */

/** A parsed object. */
export type Obj = Record<string, unknown>

/** Whether a value is a plain object. */
export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** kustomize's patch `target`. */
export interface PatchTarget {
  group?: string
  version?: string
  kind?: string
  name?: string
  namespace?: string
  labelSelector?: string
  annotationSelector?: string
}

/** A resource being built: the object and the name it was first read with. */
export interface Resource {
  obj: Obj
  origName: string
}

function meta(o: Obj): Obj {
  return isObj(o.metadata) ? o.metadata : {}
}

/** The name of a resource. */
export function nameOf(o: Obj): string {
  return String(meta(o).name ?? '')
}

function anchored(pattern: string, value: string): boolean {
  try {
    return new RegExp(`^(?:${pattern})$`).test(value)
  } catch {
    return pattern === value
  }
}

function selectorMatches(selector: string, values: unknown): boolean {
  const map = isObj(values) ? values : {}
  const has = (k: string): boolean => typeof map[k] === 'string'
  for (const raw of selector.split(',')) {
    const term = raw.trim()
    if (term === '') continue
    const m = /^([^!=\s]+)\s*(==|=|!=)\s*(.*)$/.exec(term)
    if (m) {
      const equal = map[m[1]!] === m[3]!.trim()
      if ((m[2] === '!=') === equal) return false
    } else if (term.startsWith('!')) {
      if (has(term.slice(1).trim())) return false
    } else if (!has(term)) return false
  }
  return true
}

/** Whether a patch `target` selects a resource. */
export function selects(target: PatchTarget, r: Resource): boolean {
  const o = r.obj
  const [group, version] = String(o.apiVersion ?? '').includes('/')
    ? String(o.apiVersion).split('/')
    : ['', String(o.apiVersion ?? '')]
  if (target.group !== undefined && target.group !== group) return false
  if (target.version !== undefined && target.version !== version) return false
  if (target.kind !== undefined && !anchored(target.kind, String(o.kind ?? ''))) return false
  if (
    target.name !== undefined &&
    !anchored(target.name, nameOf(o)) &&
    !anchored(target.name, r.origName)
  ) {
    return false
  }
  if (
    target.namespace !== undefined &&
    !anchored(target.namespace, String(meta(o).namespace ?? ''))
  ) {
    return false
  }
  if (target.labelSelector && !selectorMatches(target.labelSelector, meta(o).labels)) return false
  if (
    target.annotationSelector &&
    !selectorMatches(target.annotationSelector, meta(o).annotations)
  ) {
    return false
  }
  return true
}

/** Whether a strategic merge patch without a target names this resource. */
export function patchNames(patch: Obj, r: Resource): boolean {
  if (patch.kind !== undefined && patch.kind !== r.obj.kind) return false
  const name = nameOf(patch)
  if (name !== nameOf(r.obj) && name !== r.origName) return false
  const ns = meta(patch).namespace
  return ns === undefined || ns === meta(r.obj).namespace
}

/** Keys by which kyaml merges lists of maps (the associative keys it knows). */
const MERGE_KEYS = ['name', 'mountPath', 'devicePath', 'ip', 'type', 'topologyKey', 'containerPort']

function mergeKey(a: unknown[], b: unknown[]): string | undefined {
  const items = [...a, ...b].filter(i => !(isObj(i) && i.$patch !== undefined && !hasKey(i)))
  if (items.length === 0 || !items.every(isObj)) return undefined
  return MERGE_KEYS.find(k => items.every(i => (i as Obj)[k] !== undefined))
}

function hasKey(o: Obj): boolean {
  return MERGE_KEYS.some(k => o[k] !== undefined)
}

function clean(o: Obj): Obj {
  const out: Obj = {}
  for (const [k, v] of Object.entries(o)) if (!k.startsWith('$')) out[k] = v
  return out
}

function mergeList(base: unknown[], patch: unknown[]): unknown[] {
  if (patch.some(i => isObj(i) && i.$patch === 'replace')) {
    return patch
      .filter(i => !(isObj(i) && i.$patch === 'replace'))
      .map(i => (isObj(i) ? clean(i) : i))
  }
  const key = mergeKey(base, patch)
  if (key === undefined) return patch.map(i => (isObj(i) ? clean(i) : i))
  const out = [...base]
  for (const item of patch as Obj[]) {
    const at = out.findIndex(o => (o as Obj)[key] === item[key])
    if (item.$patch === 'delete') {
      if (at >= 0) out.splice(at, 1)
    } else if (at >= 0) out[at] = mergeObj(out[at] as Obj, item)
    else out.push(clean(item))
  }
  return out
}

/**
 * `patch` merged into `base` (a new object), the strategic merge way; undefined when
 * the patch deletes it (`$patch: delete`).
 */
export function mergeObj(base: Obj, patch: Obj): Obj | undefined {
  if (patch.$patch === 'delete') return undefined
  if (patch.$patch === 'replace') return clean(patch)
  const out: Obj = { ...base }
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$')) continue
    const cur = out[k]
    if (v === null) delete out[k]
    else if (isObj(v) && isObj(cur)) {
      const merged = mergeObj(cur, v)
      if (merged === undefined) delete out[k]
      else out[k] = merged
    } else if (Array.isArray(v) && Array.isArray(cur)) out[k] = mergeList(cur, v)
    else out[k] = isObj(v) ? clean(v) : v
  }
  return out
}

function pointer(path: string): string[] {
  if (path === '') return []
  if (!path.startsWith('/')) throw new Error(`path ${JSON.stringify(path)} must start with /`)
  return path
    .slice(1)
    .split('/')
    .map(s => s.replace(/~1/g, '/').replace(/~0/g, '~'))
}

function parentOf(doc: Obj, parts: string[]): { parent: unknown; last: string } {
  let node: unknown = doc
  for (const p of parts.slice(0, -1)) {
    node = Array.isArray(node) ? node[Number(p)] : isObj(node) ? node[p] : undefined
    if (node === undefined) throw new Error(`no such path /${parts.join('/')}`)
  }
  return { parent: node, last: parts[parts.length - 1]! }
}

function getAt(doc: Obj, path: string): unknown {
  let node: unknown = doc
  for (const p of pointer(path)) {
    node = Array.isArray(node) ? node[Number(p)] : isObj(node) ? node[p] : undefined
  }
  if (node === undefined) throw new Error(`no such path ${path}`)
  return structuredClone(node)
}

function removeAt(doc: Obj, path: string): void {
  const { parent, last } = parentOf(doc, pointer(path))
  if (Array.isArray(parent)) parent.splice(Number(last), 1)
  else if (isObj(parent) && last in parent) delete parent[last]
  else throw new Error(`no such path ${path}`)
}

function addAt(doc: Obj, path: string, value: unknown, replace: boolean): void {
  const { parent, last } = parentOf(doc, pointer(path))
  if (Array.isArray(parent)) {
    const i = last === '-' ? parent.length : Number(last)
    if (!Number.isInteger(i) || i < 0 || i > parent.length) throw new Error(`bad index ${path}`)
    if (replace) parent[i] = value
    else parent.splice(i, 0, value)
  } else if (isObj(parent)) {
    if (replace && !(last in parent)) throw new Error(`no such path ${path}`)
    parent[last] = value
  } else throw new Error(`no such path ${path}`)
}

/** Apply JSON 6902 operations to a resource in place; throws on an operation that fails. */
export function applyJson6902(doc: Obj, ops: readonly unknown[]): void {
  for (const op of ops) {
    if (!isObj(op) || typeof op.op !== 'string' || typeof op.path !== 'string') {
      throw new Error('each operation needs op and path')
    }
    if (op.op === 'add') addAt(doc, op.path, structuredClone(op.value), false)
    else if (op.op === 'replace') addAt(doc, op.path, structuredClone(op.value), true)
    else if (op.op === 'remove') removeAt(doc, op.path)
    else if (op.op === 'copy') addAt(doc, op.path, getAt(doc, String(op.from)), false)
    else if (op.op === 'move') {
      const v = getAt(doc, String(op.from))
      removeAt(doc, String(op.from))
      addAt(doc, op.path, v, false)
    } else if (op.op !== 'test') throw new Error(`unknown op ${op.op}`)
  }
}
