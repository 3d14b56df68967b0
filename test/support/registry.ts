/**
 * A real CNCF distribution registry (`docker-registry` Debian package) on 127.0.0.1
 * and a free port, in a temp dir: htpasswd (bcrypt) authentication and TLS from a
 * throwaway CA, or plain HTTP. Plain start/stop functions, no test framework imports,
 * so benchmarks and the demo reuse them.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'node:https'
import { request as httpRequest } from 'node:http'

/** A running registry. */
export interface TestRegistry {
  /** `127.0.0.1:<port>` */
  host: string
  port: number
  /** `https://127.0.0.1:<port>` or `http://...` */
  url: string
  tls: boolean
  username?: string
  password?: string
  /** PEM of the CA that signed the registry's certificate (TLS mode). */
  caPem?: string
  /** A directory holding `ca.crt` (for `--cert-dir` of buildah/skopeo). */
  certDir?: string
  /** The server's certificate and key (PEM files; for a front that serves as this host). */
  tlsFiles?: { cert: string; key: string }
  dir: string
  /** The registry's log so far. */
  log(): string
  stop(): Promise<void>
}

/** Options of `startRegistry`. */
export interface RegistryServerOptions {
  /** TLS from a fresh test CA (default true). */
  tls?: boolean
  /** htpasswd users (default none: no authentication). */
  users?: Record<string, string>
  /** Extra config lines appended under `http:` are not needed; delete is enabled. */
  logLevel?: string
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr ? addr.port : 0
      srv.close(() => resolve(port))
    })
  })
}

/** Make a throwaway CA and a server certificate for 127.0.0.1/localhost in `dir`. */
export function makeTestCa(dir: string): { caPem: string; cert: string; key: string } {
  mkdirSync(dir, { recursive: true })
  const run = (args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' })
  }
  run([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=Conveyor Test CA',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign'
  ])
  run([
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=127.0.0.1',
    '-keyout',
    'server.key',
    '-out',
    'server.csr'
  ])
  writeFileSync(
    join(dir, 'ext.cnf'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n'
  )
  run([
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    'ext.cnf',
    '-out',
    'server.crt'
  ])
  return {
    caPem: readFileSync(join(dir, 'ca.crt'), 'utf8'),
    cert: join(dir, 'server.crt'),
    key: join(dir, 'server.key')
  }
}

function get(url: string, ca?: string): Promise<number> {
  return new Promise(resolve => {
    const fn = url.startsWith('https:') ? request : httpRequest
    const req = fn(url, { method: 'GET', ca, timeout: 2000 }, res => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on('error', () => resolve(0))
    req.on('timeout', () => req.destroy())
    req.end()
  })
}

/** Start a registry; resolves when `/v2/` answers. */
export async function startRegistry(options: RegistryServerOptions = {}): Promise<TestRegistry> {
  const tls = options.tls ?? true
  const dir = mkdtempSync(join(tmpdir(), 'conveyor-registry-'))
  const port = await freePort()
  const host = `127.0.0.1:${port}`
  const lines = [
    'version: 0.1',
    'log:',
    `  level: ${options.logLevel ?? 'warn'}`,
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${join(dir, 'data')}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: ${host}`
  ]
  let caPem: string | undefined
  let certDir: string | undefined
  let tlsFiles: TestRegistry['tlsFiles']
  if (tls) {
    const ca = makeTestCa(join(dir, 'tls'))
    caPem = ca.caPem
    tlsFiles = { cert: ca.cert, key: ca.key }
    lines.push('  tls:', `    certificate: ${ca.cert}`, `    key: ${ca.key}`)
    certDir = join(dir, 'certs.d')
    mkdirSync(certDir)
    writeFileSync(join(certDir, 'ca.crt'), caPem)
  }
  const users = Object.entries(options.users ?? {})
  if (users.length > 0) {
    const entries = users.map(([user, password]) =>
      execFileSync('htpasswd', ['-Bbn', user, password], { encoding: 'utf8' }).trim()
    )
    writeFileSync(join(dir, 'htpasswd'), entries.join('\n') + '\n', { mode: 0o600 })
    lines.push(
      'auth:',
      '  htpasswd:',
      '    realm: conveyor-test',
      `    path: ${join(dir, 'htpasswd')}`
    )
  }
  writeFileSync(join(dir, 'config.yml'), lines.join('\n') + '\n')
  let log = ''
  const child: ChildProcess = spawn('docker-registry', ['serve', join(dir, 'config.yml')], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH, HOME: dir }
  })
  child.stdout!.on('data', (c: Buffer) => (log += c.toString()))
  child.stderr!.on('data', (c: Buffer) => (log += c.toString()))
  let exited = false
  child.on('exit', () => (exited = true))
  const url = `${tls ? 'https' : 'http'}://${host}`
  const deadline = Date.now() + 15_000
  for (;;) {
    const status = await get(`${url}/v2/`, caPem)
    if (status === 200 || status === 401) break
    if (exited || Date.now() > deadline) {
      child.kill('SIGKILL')
      rmSync(dir, { recursive: true, force: true })
      throw new Error(`docker-registry did not start on ${host}:\n${log}`)
    }
    await new Promise(r => setTimeout(r, 100))
  }
  const first = users[0]
  return {
    host,
    port,
    url,
    tls,
    username: first?.[0],
    password: first?.[1],
    caPem,
    certDir,
    tlsFiles,
    dir,
    log: () => log,
    stop: async () => {
      if (!exited) {
        const done = new Promise(r => child.once('exit', r))
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
        await done
        clearTimeout(timer)
      }
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
