/**
 * Argo CD's resource calls (swagger: ApplicationService `GetResource`,
 * `ListResourceActions`, `RunResourceAction`, `RunResourceActionV2`): the live object
 * of one resource of an application, the actions Argo CD lists for it, and running
 * one. Argo CD 3.1 added `POST .../resource/actions/v2` (every field in a JSON body)
 * and deprecated the v1 form (the resource in the query, the body the action name as
 * a JSON string); a server without v2 answers its path with a plain-text 404, and the
 * v1 form is used from then on. A run is never retried here: the caller reads the
 * live resource again before sending it once more (an action must not run twice).
 */
import { ConfigurationError } from '../core/errors.js'
import type { HttpResponse } from '../core/http/request.js'
import { isHtml, type AppScope, type ArgoClient } from './client.js'
import type { RolloutRef } from './rollout.js'

/** One entry of `ListResourceActions` (an enabled action has no `disabled` field). */
export interface ResourceAction {
  name: string
  disabled?: boolean
  displayName?: string
}

/** `group/Kind namespace/name`, as messages name a resource. */
export function resourceName(ref: RolloutRef): string {
  return `${ref.group ? `${ref.group}/` : ''}${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}`
}

function query(ref: RolloutRef, scope: AppScope): Record<string, string | undefined> {
  return {
    namespace: ref.namespace,
    resourceName: ref.name,
    version: ref.version,
    group: ref.group,
    kind: ref.kind,
    appNamespace: scope.appNamespace,
    project: scope.project
  }
}

/** The resource calls of one Argo CD client. */
export class ResourceCalls {
  /** Whether the server has the v2 action route (unknown until tried). */
  private v2: boolean | undefined

  constructor(private readonly client: ArgoClient) {}

  /** `GET .../resource`: the live object (Argo CD sends it as a JSON string in `manifest`). */
  async live(app: string, scope: AppScope, ref: RolloutRef): Promise<Record<string, unknown>> {
    const c = this.client
    const path = `/api/v1/applications/${encodeURIComponent(app)}/resource`
    const res = await c.send(c.url(path, query(ref, scope)), { headers: c.headers() })
    const body = c.check<{ manifest?: string }>(res, `live ${resourceName(ref)} of "${app}"`, {
      ...scope,
      app
    })
    try {
      return JSON.parse(body.manifest ?? '') as Record<string, unknown>
    } catch {
      throw new Error(`live ${resourceName(ref)} of "${app}": the manifest is not JSON`)
    }
  }

  /** `GET .../resource/actions`: the actions Argo CD offers for the resource now. */
  async actions(app: string, scope: AppScope, ref: RolloutRef): Promise<ResourceAction[]> {
    const c = this.client
    const path = `/api/v1/applications/${encodeURIComponent(app)}/resource/actions`
    const res = await c.send(c.url(path, query(ref, scope)), { headers: c.headers() })
    const body = c.check<{ actions?: ResourceAction[] | null }>(
      res,
      `actions of ${resourceName(ref)} in "${app}"`,
      { ...scope, app }
    )
    return body.actions ?? []
  }

  /**
   * Run `action` on the resource: v2 first, v1 when the server has no v2 route.
   * Not retried (see the header). Returns the route that ran it.
   */
  async run(app: string, scope: AppScope, ref: RolloutRef, action: string): Promise<'v1' | 'v2'> {
    const c = this.client
    const what = `action "${action}" on ${resourceName(ref)} in "${app}"`
    const base = `/api/v1/applications/${encodeURIComponent(app)}/resource/actions`
    if (this.v2 !== false) {
      const res = await c.send(c.url(`${base}/v2`), {
        method: 'POST',
        headers: c.headers(),
        json: {
          name: app,
          namespace: ref.namespace,
          resourceName: ref.name,
          version: ref.version,
          group: ref.group,
          kind: ref.kind,
          action,
          ...(scope.appNamespace ? { appNamespace: scope.appNamespace } : {}),
          ...(scope.project ? { project: scope.project } : {})
        },
        retry: false
      })
      if (!noSuchRoute(res)) {
        this.v2 = true
        this.answer(res, what, scope, app, ref, action)
        return 'v2'
      }
      this.v2 = false
    }
    const res = await c.send(c.url(base, query(ref, scope)), {
      method: 'POST',
      headers: c.headers(),
      json: action,
      retry: false
    })
    this.answer(res, what, scope, app, ref, action)
    return 'v1'
  }

  private answer(
    res: HttpResponse,
    what: string,
    scope: AppScope,
    app: string,
    ref: RolloutRef,
    action: string
  ): void {
    if (res.status === 403 && !isHtml(res)) {
      throw new ConfigurationError(
        `${what}: permission denied (403). The account needs the RBAC permission "applications, action/${ref.group}/${ref.kind}/${action}" on ${scope.project ?? '<project>'}/${app}`
      )
    }
    this.client.check(res, what, { ...scope, app })
  }
}

/** grpc-gateway's answer for a path it has no route for: 404 in plain text, not JSON. */
function noSuchRoute(res: HttpResponse): boolean {
  if (res.status !== 404 && res.status !== 405) return false
  const type = res.headers['content-type'] ?? ''
  return !type.includes('json') && !isHtml(res)
}
