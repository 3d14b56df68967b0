/**
 * A loopback reverse proxy that injects faults between an action and a real server
 * (registry, git smart HTTP, GitHub and Argo CD simulators): dropped connections,
 * delays, 429 with Retry-After, 5xx answers, truncated bodies, and streams that are
 * buffered until the end (what a misbehaving corporate proxy does to watch streams).
 */
import http from 'node:http'
import https from 'node:https'
import type { AddressInfo } from 'node:net'

/** One kind of fault. */
export type Fault =
  | { kind: 'drop' }
  | { kind: 'delay'; ms: number }
  | { kind: 'status'; status: number; retryAfter?: string; body?: string }
  | { kind: 'truncate'; bytes: number }
  | { kind: 'buffer' }

/** A rule: which requests, how many times, what fault. */
export interface FaultRule {
  /** Method and path test; default every request. */
  match?: (req: { method: string; url: string; headers: http.IncomingHttpHeaders }) => boolean
  /** Apply to this many matching requests, then stop (default: forever). */
  times?: number
  fault: Fault
}

/** A request the proxy saw. */
export interface SeenRequest {
  method: string
  url: string
  headers: http.IncomingHttpHeaders
  body: Buffer
  fault?: Fault['kind']
  status?: number
}

/** A running fault proxy. */
export interface FaultProxy {
  url: string
  port: number
  rules: FaultRule[]
  seen: SeenRequest[]
  /** Replace the rules. */
  setRules(rules: FaultRule[]): void
  close(): Promise<void>
}

/** Start a proxy on 127.0.0.1 forwarding to `target` (http:// or https://). */
export async function startFaultProxy(
  target: string,
  options: { rules?: FaultRule[]; ca?: string; insecure?: boolean } = {}
): Promise<FaultProxy> {
  const upstream = new URL(target)
  const client = upstream.protocol === 'https:' ? https : http
  const state = { rules: [...(options.rules ?? [])], seen: [] as SeenRequest[] }
  const counts = new Map<FaultRule, number>()
  const sockets = new Set<import('node:net').Socket>()

  /** The whole body of a stream, or undefined when it was aborted (a client or upstream gone). */
  const readAll = async (stream: AsyncIterable<unknown>): Promise<Buffer | undefined> => {
    const chunks: Buffer[] = []
    try {
      for await (const c of stream) chunks.push(c as Buffer)
    } catch {
      return undefined
    }
    return Buffer.concat(chunks)
  }

  const pickFault = (req: http.IncomingMessage): Fault | undefined => {
    for (const rule of state.rules) {
      const info = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers }
      if (rule.match && !rule.match(info)) continue
      const used = counts.get(rule) ?? 0
      if (rule.times !== undefined && used >= rule.times) continue
      counts.set(rule, used + 1)
      return rule.fault
    }
    return undefined
  }

  const server = http.createServer(async (req, res) => {
    const body = await readAll(req)
    if (body === undefined) return void req.socket.destroy()
    const fault = pickFault(req)
    const seen: SeenRequest = {
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      headers: req.headers,
      body,
      fault: fault?.kind
    }
    state.seen.push(seen)
    if (fault?.kind === 'drop') {
      req.socket.destroy()
      return
    }
    if (fault?.kind === 'status') {
      seen.status = fault.status
      const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/json' }
      if (fault.retryAfter !== undefined) headers['retry-after'] = fault.retryAfter
      res.writeHead(fault.status, headers)
      res.end(fault.body ?? JSON.stringify({ error: 'injected fault', code: fault.status }))
      return
    }
    if (fault?.kind === 'delay') await new Promise(r => setTimeout(r, fault.ms))
    const headers = { ...req.headers, host: upstream.host }
    const up = client.request(
      {
        protocol: upstream.protocol,
        hostname: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers,
        ca: options.ca,
        rejectUnauthorized: !options.insecure
      },
      async upRes => {
        seen.status = upRes.statusCode
        const outHeaders = { ...upRes.headers }
        // Rewrite absolute redirects and token realms that point at the upstream.
        for (const key of ['location', 'www-authenticate'] as const) {
          const v = outHeaders[key]
          if (typeof v === 'string')
            outHeaders[key] = v.split(upstream.origin).join(`http://127.0.0.1:${port}`)
        }
        if (fault?.kind === 'truncate') {
          const full = await readAll(upRes)
          if (full === undefined) return void res.socket?.destroy()
          res.writeHead(upRes.statusCode ?? 502, {
            ...outHeaders,
            'content-length': String(full.length)
          })
          res.write(full.subarray(0, Math.min(fault.bytes, full.length)))
          res.socket?.destroy()
          return
        }
        if (fault?.kind === 'buffer') {
          const full = await readAll(upRes)
          if (full === undefined) return void res.socket?.destroy()
          delete outHeaders['transfer-encoding']
          res.writeHead(upRes.statusCode ?? 502, {
            ...outHeaders,
            'content-length': String(full.length)
          })
          res.end(full)
          return
        }
        res.writeHead(upRes.statusCode ?? 502, outHeaders)
        upRes.pipe(res)
      }
    )
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' })
      res.end('upstream error')
    })
    res.on('close', () => up.destroy())
    up.end(body)
  })
  server.on('connection', s => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>(r => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    get rules() {
      return state.rules
    },
    seen: state.seen,
    setRules(rules) {
      state.rules = [...rules]
      counts.clear()
    },
    close: () =>
      new Promise<void>(resolve => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      })
  }
}
