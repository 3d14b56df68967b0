import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import http from 'node:http'
import http2 from 'node:http2'
import https from 'node:https'
import net, { type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { makeTestCa } from '../../../support/registry.js'
import { HttpClient } from '../../../../src/core/http/client.js'
import { bypassesProxy, proxyFor } from '../../../../src/core/http/proxy.js'
import {
  HttpError,
  attemptTimeout,
  isDeadlineError,
  parseRetryAfter
} from '../../../../src/core/http/request.js'
import { memoryLogger } from '../../../../src/core/logger.js'
import { secrets } from '../../../../src/core/secrets.js'

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void

/** A scripted server: per path, a list of handlers used in turn (the last one repeats). */
function scripted(): {
  routes: Map<string, Handler[]>
  hits: Map<string, { method: string; headers: http.IncomingHttpHeaders; body: string }[]>
  handle: (req: http.IncomingMessage, res: http.ServerResponse) => void
} {
  const routes = new Map<string, Handler[]>()
  const hits = new Map<
    string,
    { method: string; headers: http.IncomingHttpHeaders; body: string }[]
  >()
  const handle = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0]!
      const body = Buffer.concat(chunks).toString()
      const list = hits.get(path) ?? []
      list.push({ method: req.method ?? '', headers: req.headers, body })
      hits.set(path, list)
      const handlers = routes.get(path)
      if (!handlers) {
        res.writeHead(404).end('no route')
        return
      }
      const h = handlers.length > 1 ? handlers.shift()! : handlers[0]!
      h(req, res, body)
    })
  }
  return { routes, hits, handle }
}

const ok: Handler = (_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok')
const status =
  (code: number, headers: Record<string, string> = {}): Handler =>
  (_req, res) =>
    res.writeHead(code, headers).end(`status ${code}`)

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>(r => server.listen(0, '127.0.0.1', r))
  return (server.address() as AddressInfo).port
}

const sleep = (ms: number): Promise<void> => new Promise(r => setTimeout(r, ms))

async function rejection(p: Promise<unknown>): Promise<HttpError> {
  try {
    await p
  } catch (error) {
    expect(error).toBeInstanceOf(HttpError)
    return error as HttpError
  }
  throw new Error('expected an HttpError')
}

describe('HttpClient against a local server', () => {
  const s = scripted()
  const server = http.createServer(s.handle)
  let base = ''
  const waits: number[] = []
  const sleep = async (ms: number): Promise<void> => {
    waits.push(ms)
  }
  const clients: HttpClient[] = []
  const client = (o: ConstructorParameters<typeof HttpClient>[0] = {}): HttpClient => {
    const c = new HttpClient({ sleep, backoffMs: 10, env: {}, ...o })
    clients.push(c)
    return c
  }

  beforeAll(async () => {
    base = `http://127.0.0.1:${await listen(server)}`
  })
  afterAll(async () => {
    await Promise.all(clients.map(c => c.close()))
    server.closeAllConnections()
    await new Promise(r => server.close(r))
  })

  it('retries a 429 after the Retry-After seconds it was told', async () => {
    waits.length = 0
    s.routes.set('/limited', [status(429, { 'retry-after': '2' }), ok])
    const log = memoryLogger()
    const res = await client({ logger: log }).request(`${base}/limited`)
    expect(res.status).toBe(200)
    expect(res.text()).toBe('ok')
    expect(waits).toEqual([2000])
    expect(s.hits.get('/limited')).toHaveLength(2)
    expect(log.text()).toContain('HTTP 429; retrying in 2.0s (1/3)')
  })

  it('honours an HTTP-date Retry-After and caps it at maxBackoffMs', async () => {
    waits.length = 0
    const inAMinute = new Date(Date.now() + 60_000).toUTCString()
    s.routes.set('/date', [status(503, { 'retry-after': inAMinute }), ok])
    await client({ maxBackoffMs: 5000 }).request(`${base}/date`)
    expect(waits).toEqual([5000])
  })

  it('retries 503 then succeeds; backs off exponentially with jitter', async () => {
    waits.length = 0
    s.routes.set('/flaky', [status(503), status(502), status(500), ok])
    const res = await client({ backoffMs: 100 }).request(`${base}/flaky`)
    expect(res.status).toBe(200)
    expect(s.hits.get('/flaky')).toHaveLength(4)
    expect(waits).toHaveLength(3)
    expect(waits[0]).toBeGreaterThanOrEqual(50)
    expect(waits[0]).toBeLessThanOrEqual(100)
    expect(waits[2]).toBeGreaterThanOrEqual(200)
    expect(waits[2]).toBeLessThanOrEqual(400)
  })

  it('returns the last 5xx answer when retries run out', async () => {
    s.routes.set('/down', [status(503)])
    const res = await client({ retries: 2 }).request(`${base}/down`)
    expect(res.status).toBe(503)
    expect(s.hits.get('/down')).toHaveLength(3)
  })

  it('does not retry 4xx other than 429', async () => {
    s.routes.set('/nope', [status(404), ok])
    const res = await client().request(`${base}/nope`)
    expect(res.status).toBe(404)
    expect(s.hits.get('/nope')).toHaveLength(1)
  })

  it('does not retry POST by default; does with retry: true; retries PUT', async () => {
    s.routes.set('/post', [status(503), ok])
    const res = await client().request(`${base}/post`, { method: 'POST', body: 'x' })
    expect(res.status).toBe(503)
    expect(s.hits.get('/post')).toHaveLength(1)
    s.routes.set('/post2', [status(503), ok])
    const again = await client().request(`${base}/post2`, { method: 'POST', retry: true })
    expect(again.status).toBe(200)
    expect(s.hits.get('/post2')).toHaveLength(2)
    s.routes.set('/put', [status(503), ok])
    expect((await client().request(`${base}/put`, { method: 'PUT', body: 'b' })).status).toBe(200)
    s.routes.set('/get-no', [status(503), ok])
    const no = await client().request(`${base}/get-no`, { retry: false })
    expect(no.status).toBe(503)
  })

  it('sends JSON with its content type and default headers; parses JSON answers', async () => {
    s.routes.set('/json', [
      (req, res, body) =>
        res
          .writeHead(201, { 'content-type': 'application/json', 'x-multi': ['a', 'b'] })
          .end(JSON.stringify({ got: JSON.parse(body), ct: req.headers['content-type'] }))
    ])
    const res = await client({ headers: { authorization: 'Bearer t' } }).request(`${base}/json`, {
      method: 'post',
      json: { a: 1 }
    })
    expect(res.status).toBe(201)
    expect(res.json()).toEqual({ got: { a: 1 }, ct: 'application/json' })
    expect(res.headers['x-multi']).toBe('a, b')
    const hit = s.hits.get('/json')![0]!
    expect(hit.method).toBe('POST')
    expect(hit.headers.authorization).toBe('Bearer t')
    expect(hit.headers['user-agent']).toBe('conveyor')
  })

  it('times out a slow response (headers) and a stalled body', async () => {
    s.routes.set('/slow', [(_req, res) => setTimeout(() => res.writeHead(200).end('late'), 3000)])
    const started = Date.now()
    const e = await rejection(client({ retries: 0, timeoutMs: 300 }).request(`${base}/slow`))
    expect(e.message).toContain('timed out after 300ms')
    expect(e.message).toContain(`GET ${base}/slow`)
    expect(Date.now() - started).toBeLessThan(2500)
    s.routes.set('/stall', [
      (_req, res) => {
        res.writeHead(200, { 'content-length': '100' })
        res.write('partial')
      }
    ])
    const e2 = await rejection(client({ retries: 1 }).request(`${base}/stall`, { timeoutMs: 300 }))
    expect(e2.message).toContain('timed out')
    expect(e2.message).toContain('(after 2 attempts)')
    expect(s.hits.get('/stall')).toHaveLength(2)
  })

  it('retries a dropped connection, and fails clearly when it keeps dropping', async () => {
    const drop: Handler = req => req.socket.destroy()
    s.routes.set('/drop-once', [drop, ok])
    expect((await client().request(`${base}/drop-once`)).status).toBe(200)
    s.routes.set('/drop', [drop])
    const e = await rejection(client({ retries: 2 }).request(`${base}/drop`))
    expect(e.message).toMatch(/UND_ERR_SOCKET|ECONNRESET|other side closed/)
    expect(e.message).toContain('(after 3 attempts)')
    expect(s.hits.get('/drop')).toHaveLength(3)
  })

  it('reports a refused connection with the code and no secret from the path', async () => {
    const srv = net.createServer()
    const port = await listen(srv)
    await new Promise(r => srv.close(r))
    const token = 'path-token-secret-91'
    secrets.add(token)
    const e = await rejection(
      client({ retries: 1 }).request(`http://127.0.0.1:${port}/v2/${token}/x?q=${token}`)
    )
    expect(e.message).toContain('ECONNREFUSED')
    expect(e.message).not.toContain(token)
    expect(e.message).not.toContain('q=')
  })

  it('streams a response as it arrives, and close() aborts it', async () => {
    s.routes.set('/watch', [
      (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/x-ndjson' })
        let n = 0
        const t = setInterval(() => {
          res.write(`{"n":${++n}}\n`)
          if (n === 3) {
            clearInterval(t)
            res.end()
          }
        }, 150)
      }
    ])
    const c = client()
    const started = Date.now()
    const st = await c.stream(`${base}/watch`)
    expect(st.status).toBe(200)
    const arrivals: number[] = []
    let text = ''
    for await (const chunk of st.body) {
      arrivals.push(Date.now() - started)
      text += chunk.toString()
    }
    expect(text).toBe('{"n":1}\n{"n":2}\n{"n":3}\n')
    expect(arrivals[0]).toBeLessThan(arrivals[arrivals.length - 1]! - 150)

    s.routes.set('/forever', [
      (_req, res) => {
        res.writeHead(200)
        const t = setInterval(() => res.write('tick\n'), 50)
        res.on('close', () => clearInterval(t))
      }
    ])
    const f = await c.stream(`${base}/forever`)
    let chunks = 0
    await expect(
      (async () => {
        for await (const _chunk of f.body) {
          if (++chunks === 2) f.close()
        }
      })()
    ).rejects.toThrow()
    expect(chunks).toBeGreaterThanOrEqual(2)
    expect(chunks).toBeLessThan(10)
  })

  it('stream: an idle stream times out with idleTimeoutMs, a refused one throws HttpError', async () => {
    s.routes.set('/idle', [
      (_req, res) => {
        res.writeHead(200)
        res.write('first\n')
      }
    ])
    const st = await client().stream(`${base}/idle`, { idleTimeoutMs: 300 })
    const started = Date.now()
    await expect(
      (async () => {
        for await (const _c of st.body) {
          /* drain */
        }
      })()
    ).rejects.toThrow()
    expect(Date.now() - started).toBeLessThan(3000)
    await rejection(client().stream('http://127.0.0.1:1/x'))
  })
})

describe('HttpClient deadlines', () => {
  // A server that accepts connections and never answers (a black-holed service).
  const sockets = new Set<net.Socket>()
  const silent = net.createServer(socket => {
    sockets.add(socket)
    socket.on('error', () => undefined)
  })
  const s = scripted()
  const server = http.createServer(s.handle)
  let quiet = ''
  let base = ''
  const clients: HttpClient[] = []
  const client = (o: ConstructorParameters<typeof HttpClient>[0] = {}): HttpClient => {
    const c = new HttpClient({ env: {}, ...o })
    clients.push(c)
    return c
  }
  beforeAll(async () => {
    quiet = `http://127.0.0.1:${await listen(silent)}`
    base = `http://127.0.0.1:${await listen(server)}`
  })
  afterAll(async () => {
    await Promise.all(clients.map(c => c.close()))
    for (const socket of sockets) socket.destroy()
    await new Promise(r => silent.close(r))
    server.closeAllConnections()
    await new Promise(r => server.close(r))
  })

  it('attemptTimeout: the smaller of the timeout and the time left', () => {
    expect(attemptTimeout(30_000, undefined, 0)).toEqual({ ms: 30_000, byDeadline: false })
    expect(attemptTimeout(30_000, 50_000, 0)).toEqual({ ms: 30_000, byDeadline: false })
    expect(attemptTimeout(30_000, 5000, 0)).toEqual({ ms: 5000, byDeadline: true })
    expect(attemptTimeout(30_000, 5000, 6000)).toEqual({ ms: 0, byDeadline: true })
  })

  it('cuts the attempt at the deadline and retries no more (a server that never answers)', async () => {
    const started = Date.now()
    const e = await rejection(
      client({ retries: 4, timeoutMs: 30_000 }).request(`${quiet}/api/version`, {
        deadline: started + 600
      })
    )
    const took = Date.now() - started
    expect(took).toBeGreaterThanOrEqual(500)
    expect(took).toBeLessThan(2000)
    expect(e.message).toMatch(
      new RegExp(`^GET ${quiet}/api/version: timed out after \\d+ms \\(the time limit ran out\\)$`)
    )
    expect(e.timeout).toBe('deadline')
    expect(isDeadlineError(e)).toBe(true)
  })

  it('its own timeout is a request timeout, not the deadline', async () => {
    const e = await rejection(
      client({ retries: 0, timeoutMs: 300 }).request(`${quiet}/x`, {
        deadline: Date.now() + 60_000
      })
    )
    expect(e.message).toContain('timed out after 300ms')
    expect(e.message).not.toContain('time limit')
    expect(e.timeout).toBe('request')
    expect(isDeadlineError(e)).toBe(false)
  })

  it('does not sleep into the deadline: the last 5xx answer comes back in time', async () => {
    s.routes.set('/busy', [status(503)])
    const started = Date.now()
    const res = await client({ retries: 10, backoffMs: 300 }).request(`${base}/busy`, {
      deadline: started + 1000
    })
    expect(res.status).toBe(503)
    expect(Date.now() - started).toBeLessThan(1000)
    const hits = s.hits.get('/busy')!.length
    expect(hits).toBeGreaterThanOrEqual(1)
    expect(hits).toBeLessThan(5)
  })

  it('sends nothing once the deadline has passed', async () => {
    s.routes.set('/late', [ok])
    const e = await rejection(client().request(`${base}/late`, { deadline: Date.now() - 1 }))
    expect(e.message).toBe(`GET ${base}/late: not sent, the time limit ran out`)
    expect(isDeadlineError(e)).toBe(true)
    expect(s.hits.get('/late')).toBeUndefined()
  })

  it('stream: the wait for the headers is bounded by the timeout and the deadline', async () => {
    let started = Date.now()
    const e = await rejection(client().stream(`${quiet}/watch`, { timeoutMs: 400 }))
    expect(Date.now() - started).toBeLessThan(2000)
    expect(e.message).toBe(`GET ${quiet}/watch: timed out after 400ms`)
    expect(e.timeout).toBe('request')
    started = Date.now()
    const d = await rejection(
      client().stream(`${quiet}/watch`, { timeoutMs: 30_000, deadline: started + 400 })
    )
    expect(Date.now() - started).toBeLessThan(2000)
    expect(d.message).toMatch(/timed out after \d+ms \(the time limit ran out\)/)
    expect(isDeadlineError(d)).toBe(true)
  })
})

describe('TLS and proxies', () => {
  let dir = ''
  let caPem = ''
  /** A CA that signed nothing here. */
  let otherCaPem = ''
  let httpsServer: https.Server
  let httpsBase = ''
  let proxy: http.Server
  let proxyUrl = ''
  const tunnels: string[] = []
  const forwarded: string[] = []
  const clients: HttpClient[] = []
  const client = (o: ConstructorParameters<typeof HttpClient>[0] = {}): HttpClient => {
    const c = new HttpClient({ retries: 0, timeoutMs: 5000, env: {}, ...o })
    clients.push(c)
    return c
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'conveyor-http-tls-'))
    caPem = makeTestCa(dir).caPem
    otherCaPem = makeTestCa(join(dir, 'other')).caPem
    httpsServer = https.createServer(
      { key: readFileSync(join(dir, 'server.key')), cert: readFileSync(join(dir, 'server.crt')) },
      (req, res) => res.writeHead(200).end(`tls ${req.url}`)
    )
    httpsBase = `https://127.0.0.1:${await listen(httpsServer)}`
    proxy = http.createServer((req, res) => {
      // plain-HTTP forward proxying (absolute-form request line)
      forwarded.push(req.url ?? '')
      const target = new URL(req.url ?? '')
      const up = http.request(
        {
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          method: req.method,
          headers: req.headers
        },
        upRes => {
          res.writeHead(upRes.statusCode ?? 502, upRes.headers)
          upRes.pipe(res)
        }
      )
      req.pipe(up)
    })
    proxy.on('connect', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      tunnels.push(req.url ?? '')
      const [host, port] = (req.url ?? '').split(':')
      const up = net.connect(Number(port), host, () => {
        socket.write('HTTP/1.1 200 Connection Established\r\n\r\n')
        up.write(head)
        up.pipe(socket)
        socket.pipe(up)
      })
      up.on('error', () => socket.destroy())
      socket.on('error', () => up.destroy())
    })
    proxyUrl = `http://127.0.0.1:${await listen(proxy)}`
  })
  afterAll(async () => {
    await Promise.all(clients.map(c => c.close()))
    httpsServer?.closeAllConnections()
    proxy?.closeAllConnections()
    await new Promise(r => httpsServer?.close(r))
    await new Promise(r => proxy?.close(r))
    rmSync(dir, { recursive: true, force: true })
  })

  it('a private CA is trusted alone first; a chain ending at a system root is trusted on a second handshake', async () => {
    // Here the server's CA plays a system root: the private CA given is another one.
    const c = client({ ca: otherCaPem, roots: [caPem] })
    expect((await c.request(`${httpsBase}/root`)).text()).toBe('tls /root')
    expect((await c.request(`${httpsBase}/again`)).text()).toBe('tls /again')
    const st = await c.stream(`${httpsBase}/streamed`)
    let text = ''
    for await (const chunk of st.body) text += chunk.toString()
    expect(text).toBe('tls /streamed')
    // A stream is the first request of another client: the same second handshake.
    const s2 = await client({ ca: otherCaPem, roots: [caPem] }).stream(`${httpsBase}/first`)
    for await (const chunk of s2.body) void chunk
    expect(s2.status).toBe(200)
    // Neither the private CA nor the roots: refused, with the handshake's reason.
    const e = await rejection(client({ ca: otherCaPem, roots: [] }).request(`${httpsBase}/no`))
    expect(e.message).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER|SELF_SIGNED/)
    const es = await rejection(client({ ca: otherCaPem, roots: [] }).stream(`${httpsBase}/no`))
    expect(es.message).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER|SELF_SIGNED/)
  })

  it('refuses a certificate from an unknown CA', async () => {
    const e = await rejection(client().request(`${httpsBase}/a`))
    expect(e.message).toMatch(/CERT|certificate|SELF_SIGNED|UNABLE_TO_VERIFY/i)
  })

  it('with http2, requests (HEAD and parallel PUTs too) share one TLS connection', async () => {
    const sessions: string[] = []
    const h2 = http2.createSecureServer(
      {
        key: readFileSync(join(dir, 'server.key')),
        cert: readFileSync(join(dir, 'server.crt')),
        allowHTTP1: true
      },
      (req, res) => res.writeHead(200).end(`v${req.httpVersion} ${req.method} ${req.url}`)
    )
    h2.on('session', () => sessions.push('session'))
    const port = await listen(h2)
    try {
      const c = client({ ca: caPem, http2: true })
      const head = await c.request(`https://127.0.0.1:${port}/h`, { method: 'HEAD' })
      expect(head.status).toBe(200)
      const puts = await Promise.all(
        ['a', 'b', 'c'].map(t =>
          c.request(`https://127.0.0.1:${port}/${t}`, { method: 'PUT', body: t })
        )
      )
      expect(puts.map(r => r.text())).toEqual(['v2.0 PUT /a', 'v2.0 PUT /b', 'v2.0 PUT /c'])
      expect(sessions).toHaveLength(1)
      // Without the option: HTTP/1.1, and a new connection after every HEAD.
      const plain = await client({ ca: caPem }).request(`https://127.0.0.1:${port}/p`)
      expect(plain.text()).toBe('v1.1 GET /p')
    } finally {
      await new Promise(r => h2.close(r))
    }
  })

  it('with http2, parallel requests are in flight at once over the one connection', async () => {
    // The server answers nothing until it holds all three PUTs (or gives up after 3 s):
    // a client that sends one request at a time would be seen with one.
    let inFlight = 0
    let most = 0
    const held: (() => void)[] = []
    const h2 = http2.createSecureServer(
      { key: readFileSync(join(dir, 'server.key')), cert: readFileSync(join(dir, 'server.crt')) },
      (req, res) => {
        most = Math.max(most, ++inFlight)
        const answer = (): void => {
          inFlight--
          res.writeHead(200).end(`${req.method} ${req.url}`)
        }
        held.push(answer)
        if (held.length === 3) held.splice(0).forEach(a => a())
        else setTimeout(() => held.splice(0).forEach(a => a()), 3000).unref()
      }
    )
    const sessions: string[] = []
    h2.on('session', () => sessions.push('session'))
    const port = await listen(h2)
    try {
      const c = client({ ca: caPem, http2: true })
      const started = Date.now()
      const puts = await Promise.all(
        ['a', 'b', 'c'].map(t =>
          c.request(`https://127.0.0.1:${port}/${t}`, { method: 'PUT', body: t })
        )
      )
      expect(puts.map(r => r.text())).toEqual(['PUT /a', 'PUT /b', 'PUT /c'])
      expect(most).toBe(3)
      expect(Date.now() - started).toBeLessThan(2500)
      expect(sessions).toHaveLength(1)
    } finally {
      await new Promise(r => h2.close(r))
    }
  })

  it('with http2 offered to an HTTP/1.1-only server: one request at a time, all answered', async () => {
    let inFlight = 0
    let most = 0
    const h1 = https.createServer(
      { key: readFileSync(join(dir, 'server.key')), cert: readFileSync(join(dir, 'server.crt')) },
      (req, res) => {
        most = Math.max(most, ++inFlight)
        setTimeout(() => {
          inFlight--
          res.writeHead(200).end(`v${req.httpVersion} ${req.method} ${req.url}`)
        }, 20)
      }
    )
    const port = await listen(h1)
    try {
      const c = client({ ca: caPem, http2: true })
      const got = await Promise.all(
        ['a', 'b', 'c', 'd'].map((t, i) =>
          c.request(`https://127.0.0.1:${port}/${t}`, {
            method: i % 2 ? 'GET' : 'PUT',
            body: i % 2 ? undefined : t
          })
        )
      )
      expect(got.map(r => r.text())).toEqual([
        'v1.1 PUT /a',
        'v1.1 GET /b',
        'v1.1 PUT /c',
        'v1.1 GET /d'
      ])
      // No HTTP/1.1 pipelining: the next request goes once the last one is answered.
      expect(most).toBe(1)
    } finally {
      h1.closeAllConnections()
      await new Promise(r => h1.close(r))
    }
  })

  it('preconnect: the handshake is done before the first request, which then uses that connection', async () => {
    const handshakes: net.Socket[] = []
    const h2 = http2.createSecureServer(
      { key: readFileSync(join(dir, 'server.key')), cert: readFileSync(join(dir, 'server.crt')) },
      (req, res) => res.writeHead(200).end(`v${req.httpVersion} ${req.method} ${req.url}`)
    )
    h2.on('secureConnection', (socket: net.Socket) => handshakes.push(socket))
    const port = await listen(h2)
    try {
      const c = client({ ca: caPem, http2: true })
      c.preconnect(`https://127.0.0.1:${port}/v2/`)
      c.preconnect(`https://127.0.0.1:${port}/again`)
      for (let i = 0; i < 100 && handshakes.length === 0; i++) await sleep(10)
      expect(handshakes).toHaveLength(1)
      // The server's first HTTP/2 frames arrive while nobody reads the connection.
      await sleep(50)
      const got = await Promise.all(
        ['a', 'b'].map(t => c.request(`https://127.0.0.1:${port}/${t}`))
      )
      expect(got.map(r => r.text())).toEqual(['v2.0 GET /a', 'v2.0 GET /b'])
      expect(handshakes).toHaveLength(1)
      // A connection opened ahead with the private CA alone, to a chain that ends at a
      // system root: its refusal is the first request's, which then trusts the roots.
      const wide = client({ ca: otherCaPem, roots: [caPem], http2: true })
      wide.preconnect(`https://127.0.0.1:${port}/`)
      expect((await wide.request(`https://127.0.0.1:${port}/w`)).text()).toBe('v2.0 GET /w')
    } finally {
      h2.close()
      for (const s of handshakes) s.destroy()
    }
  })

  it('preconnect to an HTTP/1.1-only server: the connection serves HTTP/1.1', async () => {
    const handshakes: net.Socket[] = []
    const h1 = https.createServer(
      { key: readFileSync(join(dir, 'server.key')), cert: readFileSync(join(dir, 'server.crt')) },
      (req, res) => res.writeHead(200).end(`v${req.httpVersion} ${req.method} ${req.url}`)
    )
    h1.on('secureConnection', (socket: net.Socket) => handshakes.push(socket))
    const port = await listen(h1)
    try {
      const c = client({ ca: caPem, http2: true })
      c.preconnect(`https://127.0.0.1:${port}/`)
      for (let i = 0; i < 100 && handshakes.length === 0; i++) await sleep(10)
      const a = await c.request(`https://127.0.0.1:${port}/a`)
      const b = await c.request(`https://127.0.0.1:${port}/b`, { method: 'PUT', body: 'b' })
      expect([a.text(), b.text()]).toEqual(['v1.1 GET /a', 'v1.1 PUT /b'])
      expect(handshakes).toHaveLength(1)
    } finally {
      h1.closeAllConnections()
      await new Promise(r => h1.close(r))
    }
  })

  it("preconnect: a connection the server closed meanwhile is replaced; a failed one is the first request's error; close() ends an unused one", async () => {
    const handshakes: net.Socket[] = []
    const h2 = http2.createSecureServer(
      { key: readFileSync(join(dir, 'server.key')), cert: readFileSync(join(dir, 'server.crt')) },
      (req, res) => res.writeHead(200).end(`${req.method} ${req.url}`)
    )
    h2.on('secureConnection', (socket: net.Socket) => {
      handshakes.push(socket)
      // The first connection is dropped at once, as an idle timeout would.
      if (handshakes.length === 1) socket.destroy()
    })
    const port = await listen(h2)
    try {
      const c = client({ ca: caPem, http2: true })
      c.preconnect(`https://127.0.0.1:${port}/`)
      for (let i = 0; i < 100 && handshakes.length === 0; i++) await sleep(10)
      await sleep(100)
      expect((await c.request(`https://127.0.0.1:${port}/x`)).text()).toBe('GET /x')
      expect(handshakes).toHaveLength(2)

      // An unused one: closed with the client.
      const unused = client({ ca: caPem, http2: true })
      unused.preconnect(`https://127.0.0.1:${port}/`)
      for (let i = 0; i < 100 && handshakes.length === 2; i++) await sleep(10)
      const closed = new Promise(r => handshakes[2]!.once('close', r))
      await unused.close()
      await closed

      // Nothing listens: the first request reports the refusal.
      const spare = net.createServer()
      const free = await listen(spare)
      await new Promise(r => spare.close(r))
      const gone = client({ ca: caPem, http2: true })
      gone.preconnect(`https://127.0.0.1:${free}/`)
      const e = await rejection(gone.request(`https://127.0.0.1:${free}/y`))
      expect(e.message).toMatch(/ECONNREFUSED/)
    } finally {
      h2.close()
      for (const s of handshakes) s.destroy()
    }
  })

  it('trusts a private CA given to one client only (never process-wide)', async () => {
    const res = await client({ ca: caPem }).request(`${httpsBase}/b`)
    expect(res.status).toBe(200)
    expect(res.text()).toBe('tls /b')
    await rejection(client().request(`${httpsBase}/c`))
    expect(process.env.NODE_TLS_REJECT_UNAUTHORIZED).toBeUndefined()
  })

  it('insecure skips verification for that client only', async () => {
    expect((await client({ insecure: true }).request(`${httpsBase}/d`)).status).toBe(200)
    await rejection(client().request(`${httpsBase}/e`))
  })

  it('tunnels HTTPS through HTTPS_PROXY with CONNECT, with the private CA end to end', async () => {
    tunnels.length = 0
    const res = await client({ ca: caPem, env: { HTTPS_PROXY: proxyUrl } }).request(
      `${httpsBase}/via-proxy`
    )
    expect(res.text()).toBe('tls /via-proxy')
    expect(tunnels).toEqual([new URL(httpsBase).host])
    // An HTTP/2 client behind a proxy opens nothing ahead: its requests go through the proxy.
    tunnels.length = 0
    const h2 = client({ ca: caPem, http2: true, env: { HTTPS_PROXY: proxyUrl } })
    h2.preconnect(`${httpsBase}/`)
    expect((await h2.request(`${httpsBase}/h2-via-proxy`)).text()).toBe('tls /h2-via-proxy')
    expect(tunnels).toEqual([new URL(httpsBase).host])
  })

  it('lower-case https_proxy works too; NO_PROXY bypasses it', async () => {
    tunnels.length = 0
    await client({ ca: caPem, env: { https_proxy: proxyUrl } }).request(`${httpsBase}/lc`)
    expect(tunnels).toHaveLength(1)
    tunnels.length = 0
    const res = await client({
      ca: caPem,
      env: { HTTPS_PROXY: proxyUrl, NO_PROXY: 'example.com,127.0.0.1' }
    }).request(`${httpsBase}/direct`)
    expect(res.status).toBe(200)
    expect(tunnels).toEqual([])
  })

  it('HTTP_PROXY carries plain http requests', async () => {
    tunnels.length = 0
    forwarded.length = 0
    const plain = http.createServer((_req, res) => res.writeHead(200).end('plain'))
    const port = await listen(plain)
    try {
      const res = await client({ env: { HTTP_PROXY: proxyUrl } }).request(
        `http://127.0.0.1:${port}/p`
      )
      expect(res.text()).toBe('plain')
      expect(tunnels.length + forwarded.length).toBe(1)
    } finally {
      plain.closeAllConnections()
      await new Promise(r => plain.close(r))
    }
  })
})

describe('proxy selection', () => {
  it.each([
    ['https://a.example.com/x', { HTTPS_PROXY: 'http://p:1' }, 'http://p:1'],
    ['https://a.example.com/x', { HTTP_PROXY: 'http://p:2' }, 'http://p:2'],
    ['http://a.example.com/x', { HTTPS_PROXY: 'http://p:1' }, undefined],
    ['http://a.example.com/x', { http_proxy: 'http://p:3' }, 'http://p:3'],
    ['https://a.example.com/x', { HTTPS_PROXY: '  ' }, undefined],
    ['https://a.example.com/x', { HTTPS_PROXY: 'http://p:1', NO_PROXY: 'example.com' }, undefined],
    ['https://a.example.com/x', { HTTPS_PROXY: 'http://p:1', no_proxy: '.example.com' }, undefined],
    ['https://example.com/x', { HTTPS_PROXY: 'http://p:1', NO_PROXY: '*.example.com' }, undefined],
    [
      'https://notexample.com/x',
      { HTTPS_PROXY: 'http://p:1', NO_PROXY: 'example.com' },
      'http://p:1'
    ],
    ['https://h:8443/x', { HTTPS_PROXY: 'http://p:1', NO_PROXY: 'h:443' }, 'http://p:1'],
    ['https://h:8443/x', { HTTPS_PROXY: 'http://p:1', NO_PROXY: 'h:8443' }, undefined],
    ['https://h/x', { HTTPS_PROXY: 'http://p:1', NO_PROXY: '*' }, undefined],
    ['https://[::1]:5000/x', { HTTPS_PROXY: 'http://p:1', NO_PROXY: '[::1]' }, undefined],
    ['https://[::1]:5000/x', { HTTPS_PROXY: 'http://p:1', NO_PROXY: '[::1]:5001' }, 'http://p:1'],
    ['https://H.Example.COM/x', { HTTPS_PROXY: 'http://p:1', NO_PROXY: 'example.com' }, undefined],
    [
      'https://[::1]:5000/x',
      { HTTPS_PROXY: 'http://p:1', NO_PROXY: 'localhost,127.0.0.1,::1' },
      undefined
    ],
    ['https://[::2]/x', { HTTPS_PROXY: 'http://p:1', NO_PROXY: '::1' }, 'http://p:1'],
    [
      'https://localhost:5000/x',
      { HTTPS_PROXY: 'http://p:1', NO_PROXY: 'localhost,::1' },
      undefined
    ]
  ])('%s with %j → %s', (url, env, expected) => {
    expect(proxyFor(new URL(url), env)).toBe(expected)
  })

  it('bypassesProxy without NO_PROXY is false', () => {
    expect(bypassesProxy(new URL('https://x'), undefined)).toBe(false)
    expect(bypassesProxy(new URL('https://x'), '')).toBe(false)
  })
})

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-01-01T00:00:00Z')
  it.each([
    ['5', 5000],
    [' 0 ', 0],
    ['Thu, 01 Jan 2026 00:00:10 GMT', 10_000],
    ['Wed, 31 Dec 2025 23:59:00 GMT', 0],
    ['soon', undefined],
    [undefined, undefined],
    ['', undefined]
  ])('%j → %j', (value, ms) => {
    expect(parseRetryAfter(value, now)).toBe(ms)
  })
})
