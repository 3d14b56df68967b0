/**
 * Helpers of the reliability and security suites: a TCP sink that counts every
 * connection (any protocol: HTTP, git smart HTTP, SSH), snapshots of directories that
 * must stay untouched, a PATH with a `sudo` that records its calls, and the leak
 * table. Plain functions, no test framework imports.
 */
import { createHash } from 'node:crypto'
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync
} from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import type { Leak } from './canary.js'

/** A TCP listener that accepts, records and closes every connection. */
export interface Sink {
  host: string
  port: number
  /** Connections accepted so far. */
  connections(): number
  close(): Promise<void>
}

/** Start a sink on 127.0.0.1 and a free port. */
export async function startSink(): Promise<Sink> {
  let count = 0
  const sockets = new Set<Socket>()
  const server: Server = createServer(socket => {
    count++
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => undefined)
    socket.destroy()
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  return {
    host: `127.0.0.1:${port}`,
    port,
    connections: () => count,
    close: () =>
      new Promise<void>(resolve => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      })
  }
}

const made: string[] = []

/** A fresh empty temp dir, removed by `removeTempDirs`. */
export function emptyDir(prefix = 'conveyor-rel-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  made.push(dir)
  return dir
}

/** Remove every dir made by `emptyDir`. */
export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true })
}

/** Relative path → sha256 of the content (directories end with '/'), git's object store skipped. */
export function snapshot(
  dir: string,
  base = dir,
  out: Record<string, string> = {}
): Record<string, string> {
  if (!existsSync(dir)) return out
  for (const entry of readdirSync(dir)) {
    const full = join(dir, entry)
    const rel = relative(base, full)
    if (rel === join('.git', 'objects')) continue
    const st = statSync(full, { throwIfNoEntry: false })
    if (!st) continue
    if (st.isDirectory()) {
      out[`${rel}/`] = ''
      snapshot(full, base, out)
    } else if (rel === join('.git', 'config')) {
      // plan's documented blob-less fetch marks origin as a promisor remote; that is
      // fetch state, not a change the suites look for.
      out[rel] = readFileSync(full, 'utf8')
        .split('\n')
        .filter(
          l =>
            !/^\s*(promisor|partialclonefilter|partialclone|repositoryformatversion)\s*=/.test(l) &&
            l !== '[extensions]'
        )
        .join('\n')
    } else {
      out[rel] = createHash('sha256').update(readFileSync(full)).digest('hex')
    }
  }
  return out
}

/** A directory to put first in PATH: `sudo` there appends its argv to `log` and fails. */
export function fakeSudo(): { bin: string; log: string } {
  const bin = emptyDir('conveyor-rel-sudo-')
  const log = join(bin, 'sudo.log')
  writeFileSync(join(bin, 'sudo'), `#!/bin/sh\necho "sudo $*" >> '${log}'\nexit 1\n`)
  chmodSync(join(bin, 'sudo'), 0o755)
  return { bin, log }
}

/** The calls the fake sudo recorded. */
export function sudoCalls(log: string): string[] {
  return existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : []
}

/** Every encoding name the canary scan reports. */
export const ENCODINGS = [
  'plain',
  'base64',
  'double-base64',
  'url',
  'json-escaped',
  'hex',
  'user:secret-base64'
] as const

/** The channel family of a channel name (`main.process[3].argv` → `process.argv`). */
export function channelFamily(channel: string): string {
  if (channel.startsWith('file:')) return 'RUNNER_TEMP files'
  if (channel.startsWith('workspace:')) return 'workspace files'
  if (channel.startsWith('remote:')) return 'pushed commits'
  if (channel.startsWith('server:remote file')) return 'remote host files'
  if (channel.startsWith('server:ps argv')) return 'machine-wide ps argv'
  if (channel.startsWith('server:')) return 'server bodies'
  const m = /^(?:main|post)\.(process\[\d+\]\.)?(.+)$/.exec(channel)
  if (!m) return channel
  return m[1] ? `child ${m[2]}` : m[2]!
}

/** One scanned scenario: which action, which channel families were present, what leaked. */
export interface LeakRow {
  action: string
  scenario: string
  families: Set<string>
  leaks: Leak[]
}

/**
 * A Markdown table action × channel × encoding with hit counts; `runs` is how many
 * scanned runs of the action had that channel.
 */
export function leakTable(rows: LeakRow[]): string {
  const byAction = new Map<string, { runs: Map<string, number>; leaks: Leak[] }>()
  for (const row of rows) {
    const entry = byAction.get(row.action) ?? { runs: new Map<string, number>(), leaks: [] }
    for (const f of row.families) entry.runs.set(f, (entry.runs.get(f) ?? 0) + 1)
    entry.leaks.push(...row.leaks)
    byAction.set(row.action, entry)
  }
  const lines = [
    `| action | channel | runs | ${ENCODINGS.join(' | ')} |`,
    `|---|---|---|${ENCODINGS.map(() => '---').join('|')}|`
  ]
  for (const [action, entry] of [...byAction.entries()].sort()) {
    for (const [family, runs] of [...entry.runs.entries()].sort()) {
      const hits = ENCODINGS.map(
        enc =>
          entry.leaks.filter(l => channelFamily(l.channel) === family && l.encoding === enc).length
      )
      lines.push(`| ${action} | ${family} | ${runs} | ${hits.join(' | ')} |`)
    }
  }
  return lines.join('\n') + '\n'
}

/** Write `text` to `<root>/.tmp/<name>` and return the path. */
export function writeReport(root: string, name: string, text: string): string {
  const dir = join(root, '.tmp')
  mkdirSync(dir, { recursive: true })
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}

/**
 * A reverse proxy that buffers the Argo CD watch stream (`/api/v1/stream/...`) until
 * the upstream ends it, as some corporate proxies do, and passes everything else
 * through. fault-proxy.ts has the same `buffer` fault but leaves an unhandled
 * ECONNRESET when the client gives up on a stream that never ends; this one swallows
 * it (the client giving up is the expected end here).
 */
export async function startBufferingProxy(target: string): Promise<{
  url: string
  buffered(): number
  close(): Promise<void>
}> {
  const http = await import('node:http')
  const upstream = new URL(target)
  let buffered = 0
  const sockets = new Set<Socket>()
  const server = http.createServer((req, res) => {
    const up = http.request(
      {
        hostname: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: upstream.host }
      },
      upRes => {
        upRes.on('error', () => undefined)
        if (!req.url?.startsWith('/api/v1/stream')) {
          res.writeHead(upRes.statusCode ?? 502, upRes.headers)
          upRes.pipe(res)
          return
        }
        buffered++
        const chunks: Buffer[] = []
        upRes.on('data', (c: Buffer) => chunks.push(c))
        upRes.on('end', () => {
          const headers = { ...upRes.headers }
          delete headers['transfer-encoding']
          const body = Buffer.concat(chunks)
          res.writeHead(upRes.statusCode ?? 502, {
            ...headers,
            'content-length': String(body.length)
          })
          res.end(body)
        })
      }
    )
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502)
      res.end()
    })
    res.on('close', () => up.destroy())
    req.pipe(up)
  })
  server.on('connection', s => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  return {
    url: `http://127.0.0.1:${port}`,
    buffered: () => buffered,
    close: () =>
      new Promise<void>(resolve => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      })
  }
}

/**
 * Sample the argv of every process on the machine (what `ps` shows any user) every
 * `intervalMs` until `stop()`: catches secrets on the command lines of processes the
 * action did not start itself, such as a remote shell under sshd.
 */
export function sampleAllArgv(intervalMs = 15): { stop(): string[] } {
  const seen = new Set<string>()
  const tick = (): void => {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue
      try {
        const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim()
        if (argv) seen.add(argv)
      } catch {
        // the process ended meanwhile
      }
    }
  }
  tick()
  const timer = setInterval(tick, intervalMs)
  return {
    stop: () => {
      clearInterval(timer)
      tick()
      return [...seen]
    }
  }
}

/**
 * A TCP proxy to `port` on 127.0.0.1 that cuts each connection (both ways) once the
 * client has sent `cutAfterBytes` bytes: a network that dies in the middle of an SSH
 * upload. `cutAfterBytes: Infinity` forwards everything.
 */
export async function startCuttingTcpProxy(
  port: number,
  cutAfterBytes: number
): Promise<{ port: number; cuts(): number; close(): Promise<void> }> {
  const { connect } = await import('node:net')
  let cuts = 0
  const sockets = new Set<Socket>()
  const server = createServer(client => {
    const upstream = connect(port, '127.0.0.1')
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('close', () => sockets.delete(s))
      s.on('error', () => undefined)
    }
    let sent = 0
    client.on('data', (chunk: Buffer) => {
      sent += chunk.length
      if (sent > cutAfterBytes) {
        cuts++
        client.destroy()
        upstream.destroy()
        return
      }
      upstream.write(chunk)
    })
    upstream.pipe(client)
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    cuts: () => cuts,
    close: () =>
      new Promise<void>(resolve => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      })
  }
}

/** A TCP server that accepts connections and never answers (a black-holed service). */
export async function startSilentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>()
  const server = createServer(s => {
    sockets.add(s)
    s.on('error', () => undefined)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    close: () =>
      new Promise<void>(resolve => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      })
  }
}
