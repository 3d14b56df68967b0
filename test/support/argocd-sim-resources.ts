/**
 * The resource routes of the Argo CD simulator, after argoproj/argo-cd at 37ee0097cf85
 * (server/application/application.go, pkg/apiclient/application/application.pb.gw.go):
 *
 * - `GET .../resource-tree`: the captured tree (reference/argocd), and for an app with
 *   a Rollout the Rollout node (group argoproj.io, version v1alpha1, `info` Revision as
 *   controller/cache/info.go `populateNodeInfo` writes it, the health of health.lua)
 *   with its ReplicaSets and Pods as children (`parentRefs`);
 * - `GET .../resource` (`GetResource`): the live object as `{"manifest": "<JSON>"}`;
 *   `GET .../resource/actions` (`ListResourceActions`): `{"actions": [...]}`, an enabled
 *   action without `disabled` (Go's omitempty), no `actions` key when there are none;
 * - `POST .../resource/actions` (`RunResourceAction`, deprecated since 3.1): the
 *   resource in the query, the body the action name as a JSON string (gateway `body:
 *   "action"`); `POST .../resource/actions/v2` (`RunResourceActionV2`, 3.1 on): every
 *   field in a JSON object body. Both answer `{}`. The server runs the action's Lua
 *   without looking at its `disabled` flag; an action without a script is Unknown (500)
 *   "error getting Lua resource action: built-in script does not exist";
 * - `getAppLiveResource`: a resource not in the tree is InvalidArgument "<kind> <group>
 *   <name> not found as part of application <app>"; a required field of the request left
 *   out fails when the gateway marshals it (gogo `NewRequiredNotSetError`, highest field
 *   number first): Internal "grpc: error while marshaling: proto: required field ...";
 * - an Argo CD before 3.1 has no v2 route: grpc-gateway v1's ServeMux answers an
 *   unknown path with `http.Error` 404 "Not Found" in plain text (no protoErrorHandler
 *   is set in server/server.go).
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { REFERENCE_DIR, simNow, type AppState } from './argocd-sim-app.js'
import type { GrpcError } from './argocd-sim-server.js'

/** What a resource route answers. */
export type ResourceReply = { json: unknown } | { error: GrpcError } | { plain404: true }

/** A resource action the simulator ran. */
export interface SimAction {
  app: string
  action: string
  /** `group/kind namespace/name`. */
  resource: string
  via: 'v1' | 'v2'
  at: number
}

type Node = Record<string, unknown> & { health?: { status: string; message?: string } }

/** The resource tree of an app. */
export function resourceTree(st: AppState): { nodes: Node[] } {
  const tree = JSON.parse(
    readFileSync(join(REFERENCE_DIR, 'captured_resource-tree-myapp.json'), 'utf8')
  ) as { nodes: Node[] }
  const health = (st.obj.status.health as { status?: string }).status ?? 'Healthy'
  for (const n of tree.nodes) {
    n.namespace = 'shop'
    if (n.kind === 'Pod' && health !== 'Healthy')
      n.health = { status: health, message: 'Back-off restarting failed container app' }
  }
  const r = st.rollout
  if (!r) return tree
  const o = r.obj
  const [pod, service, , rs] = tree.nodes as [Node, Node, Node, Node]
  const rollout: Node = {
    group: 'argoproj.io',
    version: 'v1alpha1',
    kind: 'Rollout',
    namespace: o.metadata.namespace,
    name: o.metadata.name,
    uid: o.metadata.uid,
    info: [
      { name: 'Revision', value: `Rev:${o.metadata.annotations['rollout.argoproj.io/revision']}` }
    ],
    resourceVersion: o.metadata.resourceVersion,
    health: r.health(),
    createdAt: '2025-08-13T07:52:14Z'
  }
  const nodes: Node[] = [{ ...service, name: st.spec.name }, rollout]
  const hashes = [...new Set([o.status.stableRS as string, o.status.currentPodHash as string])]
  const revision = Number(o.metadata.annotations['rollout.argoproj.io/revision'])
  const degraded = rollout.health!.status === 'Degraded' && !o.status.abort
  for (const hash of hashes) {
    const rsName = `${o.metadata.name}-${hash}`
    const rsUid = `${hash}-0000-4000-8000-000000000000`
    const bad = degraded && hash === o.status.currentPodHash
    nodes.push({
      ...rs,
      name: rsName,
      uid: rsUid,
      parentRefs: [
        {
          group: 'argoproj.io',
          kind: 'Rollout',
          namespace: 'shop',
          name: o.metadata.name,
          uid: o.metadata.uid
        }
      ],
      info: [
        {
          name: 'Revision',
          value: `Rev:${hash === o.status.currentPodHash ? revision : revision - 1}`
        }
      ],
      health: { status: 'Healthy' }
    })
    nodes.push({
      ...pod,
      name: `${rsName}-x7k2p`,
      uid: `${hash}-0000-4000-8000-000000000001`,
      parentRefs: [
        { group: 'apps', kind: 'ReplicaSet', namespace: 'shop', name: rsName, uid: rsUid }
      ],
      images: [o.spec.template.spec.containers[0].image as string],
      health: bad
        ? { status: 'Degraded', message: 'Back-off restarting failed container app' }
        : { status: 'Healthy' }
    })
  }
  return { ...tree, nodes }
}

/** The request fields of `ApplicationResourceRequest` / `ResourceActionRunRequest(V2)`. */
interface ResourceRequest {
  namespace?: string
  resourceName?: string
  version?: string
  group?: string
  kind?: string
  action?: string
}

/** Go encoding/json: a value of the wrong type for a string field of the V2 request. */
function decodeV2(body: string): { value: ResourceRequest } | { error: GrpcError } {
  if (body.trim() === '') return { value: {} }
  let raw: unknown
  try {
    raw = JSON.parse(body)
  } catch {
    return { error: { code: 3, message: 'invalid character looking for beginning of value' } }
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    const kind = Array.isArray(raw) ? 'array' : raw === null ? 'null' : typeof raw
    return {
      error: {
        code: 3,
        message: `json: cannot unmarshal ${kind} into Go value of type application.ResourceActionRunRequestV2`
      }
    }
  }
  const fields = [
    'namespace',
    'resourceName',
    'version',
    'group',
    'kind',
    'action',
    'appNamespace',
    'project',
    'name'
  ]
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    const f = fields.find(x => x.toLowerCase() === k.toLowerCase())
    if (!f || v === null) continue
    if (typeof v !== 'string') {
      return {
        error: {
          code: 3,
          message: `json: cannot unmarshal ${Array.isArray(v) ? 'array' : typeof v} into Go struct field ResourceActionRunRequestV2.${f} of type string`
        }
      }
    }
    out[f] = v
  }
  return { value: out }
}

/** The gateway's body `"action"`: a JSON string, or nothing. */
function decodeV1Action(body: string): { value?: string } | { error: GrpcError } {
  if (body.trim() === '') return {}
  let raw: unknown
  try {
    raw = JSON.parse(body)
  } catch {
    const c = body.trim()[0]
    return {
      error: { code: 3, message: `invalid character '${c}' looking for beginning of value` }
    }
  }
  if (typeof raw !== 'string') {
    const kind = Array.isArray(raw) ? 'array' : raw === null ? 'null' : typeof raw
    return {
      error: { code: 3, message: `json: cannot unmarshal ${kind} into Go value of type string` }
    }
  }
  return { value: raw }
}

/** gogo's Marshal: the first required field left out, highest field number first. */
function missingRequired(r: ResourceRequest, withAction: boolean): GrpcError | undefined {
  const required: (keyof ResourceRequest)[] = [
    ...(withAction ? (['action'] as const) : []),
    'kind',
    'version',
    'resourceName'
  ]
  const missing = required.find(f => r[f] === undefined)
  if (!missing) return undefined
  return {
    code: 13,
    message: `grpc: error while marshaling: proto: required field "${missing}" not set`
  }
}

/** `tree.FindNode(group, kind, namespace, name)`. */
function findNode(st: AppState, r: ResourceRequest): Node | undefined {
  return resourceTree(st).nodes.find(
    n =>
      String(n.group ?? '') === (r.group ?? '') &&
      n.kind === r.kind &&
      String(n.namespace ?? '') === (r.namespace ?? '') &&
      n.name === r.resourceName &&
      Boolean(n.uid)
  )
}

function notInApp(st: AppState, r: ResourceRequest): GrpcError {
  return {
    code: 3,
    message: `${r.kind ?? ''} ${r.group ?? ''} ${r.resourceName ?? ''} not found as part of application ${st.spec.name}`
  }
}

const fromQuery = (q: URLSearchParams): ResourceRequest => {
  const out: ResourceRequest = {}
  for (const k of ['namespace', 'resourceName', 'version', 'group', 'kind'] as const) {
    const v = q.get(k)
    if (v !== null) out[k] = v
  }
  return out
}

/** Options of the resource routes. */
export interface ResourceRouteOptions {
  /** Answer the v2 action route as an Argo CD before 3.1 does (no such route). */
  noActionsV2?: boolean
  /** Actions the account may not run (RBAC `action/<group>/<kind>/<action>` denied). */
  deniedActions?: string[]
  /** Every action run, in order. */
  record: SimAction[]
  /** Tell the watchers (the action changed the app's resources). */
  changed: (st: AppState) => void
}

/** Answer one resource route of app `st`, or undefined when `sub` is not one. */
export function resourceRoute(
  st: AppState,
  sub: string,
  method: string,
  q: URLSearchParams,
  body: string,
  o: ResourceRouteOptions
): ResourceReply | undefined {
  if (sub === '/resource-tree' && method === 'GET') return { json: resourceTree(st) }
  if ((sub === '/resource' || sub === '/resource/actions') && method === 'GET') {
    const r = fromQuery(q)
    const missing = missingRequired(r, false)
    if (missing) return { error: missing }
    const node = findNode(st, r)
    if (!node) return { error: notInApp(st, r) }
    const live = liveObject(st, node)
    if (sub === '/resource') return { json: { manifest: JSON.stringify(live) } }
    const isRollout = node.kind === 'Rollout' && node.group === 'argoproj.io' && st.rollout
    const actions = isRollout ? st.rollout!.actions() : []
    return { json: actions.length ? { actions } : {} }
  }
  if (method !== 'POST') return undefined
  let r: ResourceRequest
  let via: SimAction['via']
  if (sub === '/resource/actions') {
    const action = decodeV1Action(body)
    if ('error' in action) return action
    r = { ...fromQuery(q), ...(action.value !== undefined ? { action: action.value } : {}) }
    via = 'v1'
  } else if (sub === '/resource/actions/v2') {
    if (o.noActionsV2) return { plain404: true }
    const decoded = decodeV2(body)
    if ('error' in decoded) return decoded
    r = decoded.value
    via = 'v2'
  } else return undefined
  const missing = missingRequired(r, true)
  if (missing) return { error: missing }
  if (o.deniedActions?.includes(r.action!))
    return { error: { code: 7, message: 'permission denied' } }
  const node = findNode(st, r)
  if (!node) return { error: notInApp(st, r) }
  const rollout = node.kind === 'Rollout' && node.group === 'argoproj.io' ? st.rollout : undefined
  const builtIn = [
    'resume',
    'abort',
    'retry',
    'pause',
    'restart',
    'promote-full',
    'skip-current-step'
  ]
  const custom = rollout?.spec.customActions?.some(a => a.name === r.action)
  if (!rollout || (!builtIn.includes(r.action!) && !custom)) {
    return {
      error: {
        code: 2,
        message: 'error getting Lua resource action: built-in script does not exist'
      }
    }
  }
  rollout.run(r.action!, simNow())
  o.record.push({
    app: st.spec.name,
    action: r.action!,
    resource: `argoproj.io/Rollout ${r.namespace ?? ''}/${r.resourceName}`,
    via,
    at: Date.now()
  })
  o.changed(st)
  return { json: {} }
}

/** The live object of a tree node (a Rollout's is the simulated one). */
function liveObject(st: AppState, node: Node): Record<string, unknown> {
  if (node.kind === 'Rollout' && st.rollout) return st.rollout.obj
  return {
    apiVersion: node.group ? `${String(node.group)}/${String(node.version)}` : String(node.version),
    kind: node.kind,
    metadata: {
      name: node.name,
      namespace: node.namespace,
      uid: node.uid,
      resourceVersion: node.resourceVersion
    }
  }
}
