/**
 * src/deploy/ssh/*.ts against a real OpenSSH server on loopback.
 */
import { execFileSync, spawn } from 'node:child_process'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync
} from 'node:fs'
import { randomBytes } from 'node:crypto'
import { connect as tcpConnect, createServer as createTcpServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigurationError } from '../../../../src/core/errors.js'
import { memoryLogger } from '../../../../src/core/logger.js'
import { secrets } from '../../../../src/core/secrets.js'
import { SshError, SshSession, parsePrivateKey } from '../../../../src/deploy/ssh/session.js'
import {
  collectSources,
  deployHost,
  type HostDeployOptions
} from '../../../../src/deploy/ssh/deploy-host.js'
import { parseKnownHosts, type HostKeyPolicy } from '../../../../src/deploy/ssh/host-keys.js'
import { canary } from '../../../support/canary.js'
import { startCuttingTcpProxy } from '../../../support/reliability-env.js'
import { freePort, generateKey, startSshd, type TestSshd } from '../../../support/sshd.js'

let sshd: TestSshd
let work: string
let policy: HostKeyPolicy

beforeAll(async () => {
  sshd = await startSshd({ rsaHostKey: true })
  work = mkdtempSync(join(tmpdir(), 'conveyor-ssh-int-'))
  policy = { knownHosts: parseKnownHosts(sshd.knownHostsLine), fingerprints: [], insecure: false }
})

afterAll(async () => {
  await sshd?.stop()
  if (work) rmSync(work, { recursive: true, force: true })
})

/**
 * A TCP proxy to `port` that forwards both ways until the client has sent
 * `stallAfterBytes`, then forwards nothing more and keeps the connection open: a
 * network path that goes silent.
 */
async function startStallingTcpProxy(
  port: number,
  stallAfterBytes: number
): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>()
  const server = createTcpServer(client => {
    const upstream = tcpConnect(port, '127.0.0.1')
    let sent = 0
    let stalled = false
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('close', () => sockets.delete(s))
      s.on('error', () => undefined)
    }
    client.on('data', (chunk: Buffer) => {
      sent += chunk.length
      if (sent > stallAfterBytes) stalled = true
      if (!stalled) upstream.write(chunk)
    })
    upstream.on('data', (chunk: Buffer) => {
      if (!stalled) client.write(chunk)
    })
  })
  await new Promise<void>(r => server.listen(0, '127.0.0.1', r))
  return {
    port: (server.address() as { port: number }).port,
    close: () =>
      new Promise<void>(r => {
        for (const s of sockets) s.destroy()
        server.close(() => r())
      })
  }
}

const connect = (
  over: Partial<Parameters<typeof SshSession.connect>[0]> = {}
): Promise<SshSession> =>
  SshSession.connect({
    host: sshd.host,
    port: sshd.port,
    username: sshd.username,
    privateKey: sshd.userKey.privateKey,
    policy,
    log: memoryLogger(),
    ...over
  })

async function sshError(promise: Promise<unknown>): Promise<SshError> {
  try {
    await promise
  } catch (error) {
    expect(error).toBeInstanceOf(SshError)
    return error as SshError
  }
  throw new Error('expected an SshError')
}

describe('SshSession against sshd', () => {
  it('connects with a pinned known_hosts line and runs a command with stdin', async () => {
    const session = await connect()
    try {
      expect(session.hostKeyFingerprint).toBe(`ssh-ed25519 ${sshd.fingerprint}`)
      const r = await session.exec('tr a-z A-Z; echo err >&2; exit 3', { stdin: 'hello\n' })
      expect(r.code).toBe(3)
      expect(r.stdout).toBe('HELLO\n')
      expect(r.stderr).toBe('err\n')
      expect(r.tail).toEqual(['HELLO', 'err'])
    } finally {
      session.close()
    }
  })

  it('connects with a pinned fingerprint', async () => {
    const session = await connect({
      policy: { knownHosts: [], fingerprints: [sshd.fingerprint], insecure: false }
    })
    session.close()
  })

  it('refuses a wrong host key and names the key types the server offered', async () => {
    const other = generateKey(join(work, 'other-host'))
    const line = `[127.0.0.1]:${sshd.port} ${other.publicKey.split(' ').slice(0, 2).join(' ')}`
    const error = await sshError(
      connect({ policy: { knownHosts: parseKnownHosts(line), fingerprints: [], insecure: false } })
    )
    expect(error.kind).toBe('host-key')
    expect(error.message).toContain(`host key verification failed for 127.0.0.1:${sshd.port}`)
    expect(error.message).toContain(`the server presented a ssh-ed25519 key ${sshd.fingerprint}`)
    expect(error.message).toContain(`known-hosts pins ssh-ed25519 ${other.fingerprint} (line 1)`)
    expect(error.message).toMatch(/server offered host key types: .*ssh-ed25519.*rsa-sha2-512/)
  })

  it('asks for the pinned key type first (an RSA pin gets the RSA key)', async () => {
    const rsaPub = readFileSync(join(sshd.dir, 'host_rsa.pub'), 'utf8').split(' ').slice(0, 2)
    const line = `[127.0.0.1]:${sshd.port} ${rsaPub.join(' ')}`
    const session = await connect({
      policy: { knownHosts: parseKnownHosts(line), fingerprints: [], insecure: false }
    })
    expect(session.hostKeyFingerprint).toMatch(/^ssh-rsa SHA256:/)
    session.close()
  })

  it('insecure mode connects and warns loudly', async () => {
    const log = memoryLogger()
    const session = await connect({
      policy: { knownHosts: [], fingerprints: [], insecure: true },
      log
    })
    session.close()
    expect(log.lines.find(l => l.level === 'warning')?.message).toContain('INSECURE')
  })

  it('reports a refused key', async () => {
    const stranger = generateKey(join(work, 'stranger'))
    const error = await sshError(connect({ privateKey: stranger.privateKey }))
    expect(error.kind).toBe('auth')
    expect(error.message).toContain(`refused the key for user "${sshd.username}"`)
  })

  it('reports an unreachable host with host:port and the cause', async () => {
    const port = await freePort()
    const error = await sshError(connect({ port }))
    expect(error.kind).toBe('unreachable')
    expect(error.message).toBe(
      `cannot reach 127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`
    )
  })

  it('times out on a server that never speaks SSH', async () => {
    const { createServer } = await import('node:net')
    const silent = createServer(() => undefined)
    await new Promise<void>(r => silent.listen(0, '127.0.0.1', r))
    const port = (silent.address() as { port: number }).port
    try {
      const error = await sshError(connect({ port, readyTimeoutMs: 1000 }))
      expect(error.kind).toBe('timeout')
      expect(error.message).toContain('timed out after 1s waiting for the SSH handshake')
    } finally {
      silent.close()
    }
  })

  it('an abort signal cancels connecting', async () => {
    const { createServer } = await import('node:net')
    const silent = createServer(() => undefined)
    await new Promise<void>(r => silent.listen(0, '127.0.0.1', r))
    const port = (silent.address() as { port: number }).port
    try {
      const controller = new AbortController()
      setTimeout(() => controller.abort(), 200)
      const started = Date.now()
      const error = await sshError(connect({ port, signal: controller.signal }))
      expect(error.kind).toBe('cancelled')
      expect(Date.now() - started).toBeLessThan(5000)
    } finally {
      silent.close()
    }
  })

  /** A remote directory, 512 KiB to upload, and a session through the proxy on `port`. */
  const uploadSetup = async (
    port: number,
    name: string
  ): Promise<{ base: string; bulk: string; session: Awaited<ReturnType<typeof connect>> }> => {
    const base = join(sshd.remoteDir, `${name}-session`)
    mkdirSync(base, { recursive: true })
    const bulk = join(work, `${name}.bin`)
    writeFileSync(bulk, randomBytes(512 * 1024))
    const session = await connect({
      port,
      policy: { knownHosts: [], fingerprints: [sshd.fingerprint], insecure: false }
    })
    return { base, bulk, session }
  }

  it('a connection cut in the middle of an upload rejects it at once, and every later operation', async () => {
    const proxy = await startCuttingTcpProxy(sshd.port, 96 * 1024)
    const { base, bulk, session } = await uploadSetup(proxy.port, 'cut')
    try {
      const started = Date.now()
      const error = await sshError(session.put(bulk, join(base, 'cut.bin'), 0o644))
      expect(proxy.cuts()).toBeGreaterThan(0)
      expect(error.kind).toBe('unreachable')
      expect(error.message).toMatch(
        new RegExp(`^127\\.0\\.0\\.1:${proxy.port}: upload .*cut\\.bin failed: the connection`)
      )
      expect(Date.now() - started).toBeLessThan(5000)
      const later = await sshError(session.exec('true', { timeoutMs: 60_000 }))
      expect(later.kind).toBe('unreachable')
      expect((await sshError(session.readlink(join(base, 'current')))).kind).toBe('unreachable')
    } finally {
      session.close()
      await proxy.close()
    }
  })

  it('an upload over a connection that stops answering rejects after its timeout', async () => {
    const proxy = await startStallingTcpProxy(sshd.port, 96 * 1024)
    const { base, bulk, session } = await uploadSetup(proxy.port, 'stall')
    try {
      const started = Date.now()
      const error = await sshError(
        session.put(bulk, join(base, 'stall.bin'), 0o644, { timeoutMs: 1500 })
      )
      expect(error.kind).toBe('timeout')
      expect(error.message).toMatch(/: upload .*stall\.bin timed out after 2s$/)
      expect(Date.now() - started).toBeGreaterThanOrEqual(1400)
      expect(Date.now() - started).toBeLessThan(5000)
      const exec = await sshError(session.exec('true', { timeoutMs: 1000 }))
      expect(exec.kind).toBe('timeout')
      expect(exec.message).toMatch(/: command timed out after 1s$/)
    } finally {
      session.destroy()
      await proxy.close()
    }
  })

  it('refuses to put a secret into an exec request', async () => {
    const secret = canary('EXEC')
    secrets.add(secret)
    const session = await connect()
    try {
      await expect(session.exec(`echo ${secret}`)).rejects.toThrow('refusing to send a secret')
    } finally {
      session.close()
    }
  })
})

describe('parsePrivateKey', () => {
  it('decrypts with the right passphrase; wrong or missing passphrase is a clear error without echo', () => {
    const pass = 'correct horse battery'
    const key = generateKey(join(work, 'encrypted'), { passphrase: pass })
    expect(parsePrivateKey(key.privateKey, pass).type).toBe('ssh-ed25519')
    const wrong = 'WRONG-passphrase-123'
    let message = ''
    try {
      parsePrivateKey(key.privateKey, wrong)
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigurationError)
      message = (error as Error).message
    }
    expect(message).toBe(
      'input "passphrase": could not decrypt the private key with it (wrong passphrase?)'
    )
    expect(() => parsePrivateKey(key.privateKey, undefined)).toThrow(
      'input "key": the private key is encrypted; set input "passphrase"'
    )
    expect(() => parsePrivateKey('not a key', undefined)).toThrow('input "key": not a private key')
    expect(() => parsePrivateKey(key.publicKey, undefined)).toThrow('input "key"')
  })

  it.each([
    ['rsa', []],
    ['ecdsa', []],
    ['rsa', ['-m', 'PEM']]
  ] as const)('logs in with a %s user key %j', async (type, extra) => {
    const path = join(work, `user-${type}-${extra.length}`)
    execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-f', path, ...extra], {
      stdio: 'pipe'
    })
    sshd.authorize(readFileSync(`${path}.pub`, 'utf8'))
    const session = await connect({ privateKey: readFileSync(path, 'utf8') })
    const r = await session.exec('echo ok')
    session.close()
    expect(r.stdout).toBe('ok\n')
  })

  it('an encrypted key logs in with its passphrase', async () => {
    const pass = 'another passphrase'
    const key = generateKey(join(work, 'encrypted2'), { passphrase: pass })
    sshd.authorize(key.publicKey)
    const session = await connect({ privateKey: key.privateKey, passphrase: pass })
    const r = await session.exec('echo ok')
    session.close()
    expect(r.stdout).toBe('ok\n')
  })
})

describe('deployHost against sshd', () => {
  let source: string
  let n = 0
  const release = (): string => `20260101-000000-${String(++n).padStart(3, '0')}-abc1234`

  beforeAll(() => {
    source = join(work, 'site')
    mkdirSync(join(source, 'assets', 'img'), { recursive: true })
    writeFileSync(join(source, 'index.html'), '<h1>hello</h1>\n')
    writeFileSync(join(source, 'assets', 'app.js'), 'console.log(1)\n')
    writeFileSync(join(source, 'assets', 'img', 'blob.bin'), Buffer.alloc(300_000, 7))
    writeFileSync(join(source, 'run.sh'), '#!/bin/sh\necho run\n', { mode: 0o755 })
  })

  const options = async (
    base: string,
    over: Partial<HostDeployOptions> = {}
  ): Promise<HostDeployOptions> => ({
    target: { host: sshd.host, port: sshd.port },
    username: sshd.username,
    privateKey: sshd.userKey.privateKey,
    policy,
    base,
    release: release(),
    tree: await collectSources([source]),
    env: {},
    keep: 2,
    timeoutMs: 60_000,
    log: memoryLogger(),
    ...over
  })

  it('uploads, verifies, switches atomically, keeps N, rolls back a failing script', async () => {
    const base = join(sshd.remoteDir, 'app')
    const first = await deployHost(
      await options(base, { script: 'test -x run.sh; ./run.sh > ran.txt' })
    )
    expect(first).toMatchObject({ status: 'deployed', files: 4, exitCode: 0, pruned: [] })
    expect(first.previous).toBeUndefined()
    const current = join(base, 'current')
    expect(readlinkSync(current)).toBe(`releases/${first.release}`)
    expect(readFileSync(join(current, 'index.html'), 'utf8')).toBe('<h1>hello</h1>\n')
    expect(
      readFileSync(join(current, 'assets', 'img', 'blob.bin')).equals(Buffer.alloc(300_000, 7))
    ).toBe(true)
    expect(statSync(join(current, 'run.sh')).mode & 0o777).toBe(0o755)
    expect(readFileSync(join(current, 'ran.txt'), 'utf8')).toBe('run\n')

    const second = await deployHost(await options(base))
    const third = await deployHost(await options(base))
    expect(second).toMatchObject({ status: 'deployed', previous: first.release })
    expect(third).toMatchObject({
      status: 'deployed',
      previous: second.release,
      pruned: [first.release]
    })
    expect(readdirSync(join(base, 'releases')).sort()).toEqual([second.release, third.release])
    expect(readlinkSync(current)).toBe(`releases/${third.release}`)

    const log = memoryLogger()
    const failing = await deployHost(
      await options(base, {
        script:
          'echo "in $CONVEYOR_RELEASE, previous $CONVEYOR_PREVIOUS_RELEASE"\necho boom >&2\nexit 7',
        log
      })
    )
    expect(failing.status).toBe('rolled-back')
    expect(failing.exitCode).toBe(7)
    expect(failing.error).toContain('the script exited with code 7; last lines:')
    expect(failing.error).toContain('boom')
    expect(failing.tail).toEqual([`in ${failing.release}, previous ${third.release}`, 'boom'])
    expect(readlinkSync(current)).toBe(`releases/${third.release}`)
    expect(existsSync(join(base, 'releases', failing.release))).toBe(false)
    expect(log.text()).toContain(`rolled back ${current} to releases/${third.release}`)
    // no temp links left behind
    expect(readdirSync(base).sort()).toEqual(['current', 'releases'])
  })

  it('the switch is atomic: a reader never sees current missing or half-switched', async () => {
    const base = join(sshd.remoteDir, 'atomic')
    const first = await deployHost(await options(base))
    expect(first.status).toBe('deployed')
    const seen = join(work, 'atomic-reads.txt')
    const reader = spawn(
      'bash',
      [
        '-c',
        'while :; do cat "$1/current/index.html" 2>/dev/null || echo MISSING; done > "$2"',
        'x',
        base,
        seen
      ],
      { stdio: 'ignore' }
    )
    try {
      for (let i = 0; i < 3; i++)
        expect((await deployHost(await options(base))).status).toBe('deployed')
    } finally {
      reader.kill('SIGKILL')
    }
    const reads = readFileSync(seen, 'utf8').trim().split('\n')
    expect(reads.length).toBeGreaterThan(50)
    expect(reads.filter(l => l !== '<h1>hello</h1>')).toEqual([])
  })

  it('a script killed by a signal fails and says so', async () => {
    const base = join(sshd.remoteDir, 'signal')
    const r = await deployHost(await options(base, { script: 'echo before\nkill -KILL $$' }))
    expect(r.status).toBe('rolled-back')
    expect(r.exitCode).toBeNull()
    expect(r.error).toBe('the script was killed by signal SIGKILL; last lines:\nbefore')
  })

  it('a failing first deploy removes current', async () => {
    const base = join(sshd.remoteDir, 'first-fails')
    const r = await deployHost(await options(base, { script: 'false' }))
    expect(r.status).toBe('rolled-back')
    expect(r.exitCode).toBe(1)
    expect(existsSync(join(base, 'current'))).toBe(false)
    expect(readdirSync(join(base, 'releases'))).toEqual([])
  })

  it('rollback restores a current link that pointed outside releases/ exactly', async () => {
    const base = join(sshd.remoteDir, 'foreign')
    mkdirSync(join(base, 'manual'), { recursive: true })
    symlinkSync(join(base, 'manual'), join(base, 'current'))
    const r = await deployHost(await options(base, { script: 'exit 2' }))
    expect(r.status).toBe('rolled-back')
    expect(r.previous).toBeUndefined()
    expect(readlinkSync(join(base, 'current'))).toBe(join(base, 'manual'))
    const ok = await deployHost(await options(base, { keep: 1 }))
    expect(ok.status).toBe('deployed')
    // foreign directories are never pruned
    expect(readdirSync(base).sort()).toEqual(['current', 'manual', 'releases'])
  })

  it('a checksum mismatch fails before the switch and removes the release', async () => {
    const base = join(sshd.remoteDir, 'checksum')
    const ok = await deployHost(await options(base))
    expect(ok.status).toBe('deployed')
    const opts = await options(base)
    opts.tree = {
      ...opts.tree,
      files: opts.tree.files.map((f, i) => (i === 0 ? { ...f, sha256: '0'.repeat(64) } : f))
    }
    const r = await deployHost(opts)
    expect(r.status).toBe('failed')
    expect(r.error).toMatch(/checksum verification failed \(exit 1\): .*FAILED/)
    expect(readlinkSync(join(base, 'current'))).toBe(`releases/${ok.release}`)
    expect(readdirSync(join(base, 'releases'))).toEqual([ok.release])
  })

  it('script timeout fails and rolls back', async () => {
    const base = join(sshd.remoteDir, 'timeout')
    // The budget covers connecting and uploading too: it leaves those room on a loaded
    // 2-core runner (the whole suite running beside it), so that it runs out in the script.
    const r = await deployHost(await options(base, { script: 'sleep 60', timeoutMs: 10_000 }))
    expect(r.status).toBe('rolled-back')
    expect(r.error).toBe('the script was killed: the deploy timeout of 10s for this host ran out')
    expect(r.durationMs).toBeLessThan(18_000)
    expect(existsSync(join(base, 'current'))).toBe(false)
    // the script's process group was killed
    const ps = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })
    expect(ps.split('\n').filter(l => l.trim() === 'sleep 60')).toEqual([])
    expect(readdirSync(base).filter(f => f.endsWith('.pid'))).toEqual([])
  }, 45_000)

  it('secrets reach the script through stdin only: not in remote ps, not in the exec requests', async () => {
    const secret = canary('SSHSECRET')
    secrets.add(secret)
    const base = join(sshd.remoteDir, 'secrets')
    const log = memoryLogger()
    const script = [
      'ps -eo args > "$CONVEYOR_TARGET/ps.txt"',
      'printf %s "$DEPLOY_TOKEN" > "$CONVEYOR_TARGET/token.txt"',
      'echo "token is $DEPLOY_TOKEN"'
    ].join('\n')
    const r = await deployHost(await options(base, { script, env: { DEPLOY_TOKEN: secret }, log }))
    expect(r.status).toBe('deployed')
    expect(readFileSync(join(base, 'token.txt'), 'utf8')).toBe(secret)
    const ps = readFileSync(join(base, 'ps.txt'), 'utf8')
    expect(ps).toContain('bash -s')
    expect(ps).not.toContain(secret)
    expect(log.text()).toContain('token is ***')
    expect(log.text()).not.toContain(secret)
  })

  it('fail-fast cancellation before connecting', async () => {
    const controller = new AbortController()
    controller.abort()
    const base = join(sshd.remoteDir, 'cancel')
    const r = await deployHost(await options(base, { signal: controller.signal }))
    expect(r.status).toBe('cancelled')
    expect(existsSync(base)).toBe(false)
  })

  it('sha256sum agrees with the local hashes', async () => {
    const tree = await collectSources([source])
    const blob = tree.files.find(f => f.path === 'assets/img/blob.bin')!
    const expected = execFileSync('sha256sum', [blob.local], { encoding: 'utf8' }).split(' ')[0]
    expect(blob.sha256).toBe(expected)
    expect(tree.dirs).toEqual(['assets', 'assets/img'])
  })
})
