/**
 * A smart-HTTP git server for token tests: `git http-backend` (CGI) behind a small Node
 * HTTP server on 127.0.0.1 that requires a token (HTTP Basic with any user, or Bearer)
 * and records every request's headers, so tests can assert how the token was sent.
 * Tokens are `read` (clone/fetch) or `write` (push too). Also: a bare config remote
 * seeded from examples/config-repo. No vitest imports: the bench reuses it.
 */
import { spawn } from 'node:child_process'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join, relative } from 'node:path'
import { makeRepo, type TestRepo } from './gitrepo.js'

/** The example config repository shipped with the project. */
export const EXAMPLE_CONFIG_REPO = join(import.meta.dirname, '..', '..', 'examples', 'config-repo')

/** Every file under `dir`, relative path → content. */
export function readTree(
  dir: string,
  base = dir,
  out: Record<string, string> = {}
): Record<string, string> {
  for (const entry of readdirSync(dir)) {
    const full = join(dir, entry)
    if (statSync(full).isDirectory()) readTree(full, base, out)
    else out[relative(base, full)] = readFileSync(full, 'utf8')
  }
  return out
}

/** A working repository + bare origin on `main` holding the example config repository (plus extras). */
export function makeConfigRemote(extra: Record<string, string> = {}): TestRepo {
  const repo = makeRepo({ ...readTree(EXAMPLE_CONFIG_REPO), ...extra })
  repo.push('main')
  return repo
}

/** One recorded request. */
export interface GitHttpRequest {
  method: string
  url: string
  headers: IncomingMessage['headers']
  status: number
}

/** A running server. */
export interface GitHttpServer {
  /** `http://127.0.0.1:<port>/<name>` for a bare repository `<root>/<name>`. */
  url(name: string): string
  requests: GitHttpRequest[]
  stop(): Promise<void>
}

function tokenOf(header: string | undefined): string | undefined {
  if (!header) return undefined
  const m = /^(\w+)\s+(\S+)$/.exec(header.trim())
  if (!m) return undefined
  const scheme = m[1]!.toLowerCase()
  if (scheme === 'bearer') return m[2]
  if (scheme === 'basic') {
    const decoded = Buffer.from(m[2]!, 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    return colon >= 0 ? decoded.slice(colon + 1) : undefined
  }
  return undefined
}

/**
 * Serve the bare repositories under `root`. `tokens` maps a token to its permission.
 */
export async function startGitHttp(options: {
  root: string
  tokens: Record<string, 'read' | 'write'>
}): Promise<GitHttpServer> {
  const requests: GitHttpRequest[] = []
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    const record = (status: number): void => {
      requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: { ...req.headers },
        status
      })
    }
    const token = tokenOf(req.headers.authorization)
    const perm = token !== undefined ? options.tokens[token] : undefined
    const push =
      url.searchParams.get('service') === 'git-receive-pack' ||
      url.pathname.endsWith('/git-receive-pack')
    if (!perm) {
      record(401)
      res
        .writeHead(401, { 'www-authenticate': 'Basic realm="git"' })
        .end('authentication required\n')
      return
    }
    if (push && perm !== 'write') {
      record(403)
      res
        .writeHead(403, { 'content-type': 'text/plain' })
        .end('write access denied for this token\n')
      return
    }
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      GIT_PROJECT_ROOT: options.root,
      GIT_HTTP_EXPORT_ALL: '1',
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_GLOBAL: '/dev/null',
      PATH_INFO: decodeURIComponent(url.pathname),
      REQUEST_METHOD: req.method ?? 'GET',
      QUERY_STRING: url.search.replace(/^\?/, ''),
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      REMOTE_USER: 'tester',
      REMOTE_ADDR: '127.0.0.1',
      ...(req.headers['content-encoding']
        ? { HTTP_CONTENT_ENCODING: req.headers['content-encoding'] }
        : {}),
      ...(req.headers['git-protocol'] ? { GIT_PROTOCOL: String(req.headers['git-protocol']) } : {})
    }
    const cgi = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'pipe'] })
    req.pipe(cgi.stdin)
    cgi.stdin.on('error', () => undefined)
    let head = Buffer.alloc(0)
    let headersDone = false
    cgi.stdout.on('data', (chunk: Buffer) => {
      if (headersDone) {
        res.write(chunk)
        return
      }
      head = Buffer.concat([head, chunk])
      const end = head.indexOf('\r\n\r\n')
      if (end < 0) return
      headersDone = true
      let status = 200
      const headers: Record<string, string> = {}
      for (const line of head.subarray(0, end).toString('latin1').split('\r\n')) {
        const colon = line.indexOf(':')
        if (colon < 0) continue
        const k = line.slice(0, colon).trim()
        const v = line.slice(colon + 1).trim()
        if (k.toLowerCase() === 'status') status = Number(v.split(' ')[0])
        else headers[k] = v
      }
      record(status)
      res.writeHead(status, headers)
      res.write(head.subarray(end + 4))
    })
    cgi.stdout.on('end', () => {
      if (!headersDone) {
        record(500)
        res.writeHead(500).end()
      } else res.end()
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    url: name => `http://127.0.0.1:${port}/${name}`,
    requests,
    stop: () =>
      new Promise<void>(resolve => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}
