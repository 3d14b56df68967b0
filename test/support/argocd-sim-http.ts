/**
 * HTTP helpers of the Argo CD simulator: the version answer, the web UI page, a
 * throwaway TLS certificate, gRPC-gateway error bodies (the HTTP status mapped from
 * the gRPC code, `{"error", "code", "message"}`), the scope an app is visible in
 * (apps in any namespace, projects) and the label selector.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import type http from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AppState } from './argocd-sim-app.js'
import { makeTestCa } from './registry.js'

/** The `/api/version` answer. */
export const VERSION = {
  Version: 'v3.1.8+sim',
  BuildDate: '2025-09-01T00:00:00Z',
  GitCommit: '0000000000000000000000000000000000000000',
  GitTreeState: 'clean',
  GoVersion: 'go1.24.6',
  Compiler: 'gc',
  Platform: 'linux/amd64',
  KustomizeVersion: 'v5.7.0',
  HelmVersion: 'v3.18.4',
  KubectlVersion: 'v0.33.1',
  JsonnetVersion: 'v0.21.0'
}

/** The web UI's page, served outside /api/. */
export const HTML =
  '<!doctype html><html lang="en"><head><meta charset="UTF-8"><title>Argo CD</title><base href="/"></head><body><noscript><p>Your browser does not support JavaScript.</p></noscript><div id="app"></div></body></html>'

/** A throwaway CA and server certificate for HTTPS. */
export async function makeCert(): Promise<{ ca: string; cert: string; key: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'argocd-sim-tls-'))
  try {
    const made = makeTestCa(dir)
    return {
      ca: made.caPem,
      cert: readFileSync(made.cert, 'utf8'),
      key: readFileSync(made.key, 'utf8')
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** gRPC code → HTTP status, as grpc-gateway maps them. */
export const GRPC_HTTP: Record<number, number> = {
  2: 500,
  3: 400,
  5: 404,
  7: 403,
  9: 400,
  13: 500,
  14: 503,
  16: 401
}

/** Answer JSON. */
export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text)
  })
  res.end(text)
}
/** Answer a gRPC-gateway error body; returns the HTTP status. */
export function grpcError(res: http.ServerResponse, code: number, message: string): number {
  const status = GRPC_HTTP[code] ?? 500
  sendJson(res, status, { error: message, code, message })
  return status
}

/**
 * Whether a request's scope shows the app. Routes naming one app (GET, sync, the
 * watch by name) default `appNamespace` to the control plane namespace `argocd`;
 * the list spans every namespace unless one is given.
 */
export function visible(st: AppState | undefined, q: URLSearchParams, named = true): boolean {
  if (!st) return false
  const ns = q.get('appNamespace') || (named ? 'argocd' : undefined)
  if (ns && ns !== st.obj.metadata.namespace) return false
  const projects = [...q.getAll('project'), ...q.getAll('projects')]
  if (projects.length > 0 && !projects.includes(st.obj.spec.project)) return false
  return true
}

/** Whether labels match a simple label selector (`a=b,c!=d,e,!f`). */
export function selectorMatch(
  labels: Record<string, string> | undefined,
  selector: string
): boolean {
  for (const part of selector
    .split(',')
    .map(p => p.trim())
    .filter(Boolean)) {
    const m = /^([^!=]+?)\s*(!=|==|=)\s*(.*)$/.exec(part)
    if (m) {
      const v = labels?.[m[1]!]
      if (m[2] === '!=' ? v === m[3] : v !== m[3]) return false
    } else if (part.startsWith('!')) {
      if (labels?.[part.slice(1)] !== undefined) return false
    } else if (labels?.[part] === undefined) return false
  }
  return true
}

/** A body parsed as JSON, loosely: {} when it is not an object. */
export function safeJson(text: string): Record<string, unknown> {
  try {
    const v = JSON.parse(text) as unknown
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : {}
  } catch {
    return {}
  }
}
