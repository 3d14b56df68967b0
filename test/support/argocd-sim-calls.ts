/**
 * Calls the simulator's own tests make: API requests with the test token, watch
 * streams read raw, the captured reference files, and the shape comparison (path →
 * JSON type) used to hold the simulator's answers against the captured ones.
 */
import http from 'node:http'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { REFERENCE_DIR, type ArgoSim } from './argocd-sim.js'

/** Captured JSON is read loosely: the tests assert its shape themselves. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Loose = any

/** The token the simulator tests' servers accept. */
export const TOKEN = 'sim-test-token-123456'

/** A captured reference file, parsed. */
export const ref = (file: string): unknown =>
  JSON.parse(readFileSync(join(REFERENCE_DIR, file), 'utf8'))

/** Path → JSON type, arrays merged as `[]`, map-like objects (labels, fieldsV1) as `*`. */
export function shape(
  value: unknown,
  path = '',
  out = new Map<string, string>()
): Map<string, string> {
  const type = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value
  if (path !== '') out.set(path, type)
  if (Array.isArray(value)) for (const v of value) shape(v, `${path}[]`, out)
  else if (type === 'object') {
    const mapLike =
      /(labels|annotations|fieldsV1|f:[^.]*|\.)$/.test(path) || path.endsWith('fieldsV1')
    for (const [k, v] of Object.entries(value as object)) {
      shape(v, `${path}${path ? '.' : ''}${mapLike || /^[fv]:|^\.$/.test(k) ? '*' : k}`, out)
    }
  }
  return out
}

/** Paths of `a` missing in `b` or of another type. */
export function notIn(a: Map<string, string>, b: Map<string, string>): string[] {
  return [...a]
    .filter(([p, t]) => b.get(p) !== t)
    .map(([p, t]) => `${p}:${t} (other: ${b.get(p) ?? 'absent'})`)
}

/** One API call with the test token (unless `auth: false`). */
export async function call(
  s: ArgoSim,
  path: string,
  init: { method?: string; body?: string; headers?: Record<string, string>; auth?: boolean } = {}
): Promise<{ status: number; type: string; text: string; json: () => Record<string, unknown> }> {
  const headers: Record<string, string> = { ...(init.headers ?? {}) }
  if (init.auth !== false) headers.authorization = `Bearer ${TOKEN}`
  const res = await fetch(`${s.url}${path}`, {
    method: init.method ?? 'GET',
    body: init.body,
    headers
  })
  const text = await res.text()
  return {
    status: res.status,
    type: res.headers.get('content-type') ?? '',
    text,
    json: () => JSON.parse(text) as Record<string, unknown>
  }
}

/** A JSON POST. */
export const post = (s: ArgoSim, path: string, body: unknown): ReturnType<typeof call> =>
  call(s, path, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json' }
  })

/** Open a watch stream and collect raw text until `until` says stop (or the time limit). */
export function watch(
  s: ArgoSim,
  query: string,
  options: { sse?: boolean; ms: number; until?: (text: string) => boolean }
): Promise<{ text: string; closedByServer: boolean }> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      `${s.url}/api/v1/stream/applications?${query}`,
      {
        headers: {
          authorization: `Bearer ${TOKEN}`,
          accept: options.sse ? 'text/event-stream' : 'application/json'
        }
      },
      res => {
        let text = ''
        let closedByServer = true
        const timer = setTimeout(() => {
          closedByServer = false
          req.destroy()
        }, options.ms)
        res.on('data', (c: Buffer) => {
          text += c.toString('utf8')
          if (options.until?.(text)) {
            clearTimeout(timer)
            closedByServer = false
            req.destroy()
          }
        })
        const done = (): void => {
          clearTimeout(timer)
          resolve({ text, closedByServer })
        }
        res.on('end', done)
        res.on('close', done)
        res.on('error', done)
      }
    )
    req.on('error', e => (String(e).includes('socket hang up') ? undefined : reject(e)))
  })
}

/** The `result` objects of an NDJSON stream text. */
export const events = (ndjson: string): { type: string; application: Record<string, Loose> }[] =>
  ndjson
    .split('\n')
    .filter(Boolean)
    .map(
      l =>
        (JSON.parse(l) as { result: { type: string; application: Record<string, Loose> } }).result
    )

/** A swagger 2.0 schema (the parts the checker reads). */
interface Schema {
  $ref?: string
  type?: string
  format?: string
  properties?: Record<string, Schema>
  additionalProperties?: Schema | boolean
  items?: Schema
}

/**
 * Where a JSON value departs from a definition of reference/argocd's swagger: keys
 * the definition does not have, and values of another JSON type. Two documented
 * deviations of the real server are allowed (reference/argocd/README.md): int64
 * fields arrive as JSON numbers, Kubernetes' FieldsV1 is raw JSON, and a Go struct
 * embedded `json:",inline"` (SyncStrategyHook's SyncStrategyApply: `hook.force`)
 * has its fields inline, not under its own key.
 */
export function swaggerMismatches(value: unknown, definition: string): string[] {
  const defs = (ref('swagger-definitions.json') as { definitions: Record<string, Schema> })
    .definitions
  const out: string[] = []
  const walk = (v: unknown, schema: Schema, path: string): void => {
    if (schema.$ref) {
      const name = schema.$ref.split('/').at(-1)!
      if (name === 'v1FieldsV1') return
      const def = defs[name]!
      const inline = def.properties?.syncStrategyApply
      if (inline) {
        const embedded = defs[inline.$ref!.split('/').at(-1)!]!.properties
        return walk(v, { ...def, properties: { ...def.properties, ...embedded } }, path)
      }
      return walk(v, def, path)
    }
    const type = v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v
    const want = schema.type ?? 'object'
    if (want === 'object') {
      if (type !== 'object') return void out.push(`${path}: ${type}, not an object`)
      for (const [k, item] of Object.entries(v as object)) {
        const sub =
          schema.properties?.[k] ??
          (typeof schema.additionalProperties === 'object'
            ? schema.additionalProperties
            : undefined)
        if (sub) walk(item, sub, `${path}.${k}`)
        else if (schema.properties || !schema.additionalProperties)
          out.push(`${path}.${k}: not in the definition`)
      }
    } else if (want === 'array') {
      if (type !== 'array') return void out.push(`${path}: ${type}, not an array`)
      for (const item of v as unknown[]) walk(item, schema.items ?? {}, `${path}[]`)
    } else {
      const ok =
        want === 'string'
          ? type === 'string' || (schema.format === 'int64' && type === 'number')
          : want === 'boolean'
            ? type === 'boolean'
            : want === 'integer' || want === 'number'
              ? type === 'number'
              : true
      if (!ok)
        out.push(`${path}: ${type}, not ${want}${schema.format ? ` (${schema.format})` : ''}`)
    }
  }
  walk(value, { $ref: `#/definitions/${definition}` }, '$')
  return out
}
