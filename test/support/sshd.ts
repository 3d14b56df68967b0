/**
 * A real OpenSSH server (`/usr/sbin/sshd` from `openssh-server`) on 127.0.0.1 and a
 * free port, in a temp dir, with a generated ed25519 host key and user key. Works as
 * root (the login user is the current user). Plain start/stop functions, no test
 * framework imports, so benchmarks and the demo reuse them.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'

/** A generated SSH key pair. */
export interface KeyPair {
  /** Path of the private key file. */
  path: string
  /** The private key (OpenSSH format). */
  privateKey: string
  /** The `.pub` line: `ssh-ed25519 AAAA... comment`. */
  publicKey: string
  /** `SHA256:...` fingerprint of the public key. */
  fingerprint: string
}

/** A running sshd. */
export interface TestSshd {
  host: string
  port: number
  /** The login user (the user running the tests). */
  username: string
  /** The user key authorised to log in. */
  userKey: KeyPair
  /** The server's ed25519 host key. */
  hostKey: KeyPair
  /** `[127.0.0.1]:<port> ssh-ed25519 AAAA...` as `ssh-keyscan -p <port>` prints it. */
  knownHostsLine: string
  /** `SHA256:...` of the host key. */
  fingerprint: string
  /** The temp dir holding keys, config and logs. */
  dir: string
  /** A scratch dir on the "remote" (same machine) for deploy targets. */
  remoteDir: string
  /** The server's log so far. */
  log(): string
  /** Authorise another public key line. */
  authorize(publicKeyLine: string): void
  stop(): Promise<void>
}

/** Options of `startSshd`. */
export interface SshdOptions {
  /** Also generate and serve an RSA host key (several host key types offered). */
  rsaHostKey?: boolean
  /** Passphrase for the generated user key (default none). */
  userKeyPassphrase?: string
  /** Extra sshd_config lines. */
  extraConfig?: string[]
  /**
   * Run sshd in its own mount namespace where its `remoteDir` is bind-mounted over this
   * path: two servers on one machine then have distinct files at the same remote path,
   * like two real hosts. `remoteDir` stays the host's view of this server's files.
   */
  bindOver?: string
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

/** `SHA256:<base64 without padding>` of a public key line's blob. */
export function fingerprintOf(publicKeyLine: string): string {
  const blob = Buffer.from(publicKeyLine.trim().split(/\s+/)[1] ?? '', 'base64')
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`
}

/** Generate a key pair with ssh-keygen. */
export function generateKey(
  path: string,
  options: { type?: 'ed25519' | 'rsa' | 'ecdsa'; passphrase?: string; comment?: string } = {}
): KeyPair {
  const type = options.type ?? 'ed25519'
  const args = ['-q', '-t', type, '-N', options.passphrase ?? '', '-f', path]
  if (type === 'rsa') args.push('-b', '2048')
  args.push('-C', options.comment ?? `conveyor-test-${type}`)
  execFileSync('ssh-keygen', args, { stdio: 'pipe' })
  const publicKey = readFileSync(`${path}.pub`, 'utf8').trim()
  return {
    path,
    privateKey: readFileSync(path, 'utf8'),
    publicKey,
    fingerprint: fingerprintOf(publicKey)
  }
}

function waitForPort(port: number, child: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + 15_000
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      if (child.exitCode !== null || child.pid === undefined) {
        const log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''
        reject(new Error(`sshd exited with code ${child.exitCode}: ${log}`))
        return
      }
      const socket = connect(port, '127.0.0.1')
      socket.once('data', () => {
        socket.destroy()
        resolve()
      })
      socket.once('error', () => {
        socket.destroy()
        if (Date.now() > deadline) reject(new Error(`sshd did not listen on port ${port}`))
        else setTimeout(attempt, 50)
      })
    }
    attempt()
  })
}

/** Start sshd on 127.0.0.1 and a free port with fresh keys. */
export async function startSshd(options: SshdOptions = {}): Promise<TestSshd> {
  const dir = mkdtempSync(join(tmpdir(), 'conveyor-sshd-'))
  const remoteDir = join(dir, 'remote')
  mkdirSync(remoteDir)
  mkdirSync('/run/sshd', { recursive: true })
  if (!existsSync('/usr/sbin/sshd')) {
    rmSync(dir, { recursive: true, force: true })
    throw new Error('/usr/sbin/sshd is missing: apt-get install openssh-server')
  }
  const hostKey = generateKey(join(dir, 'host_ed25519'), { comment: 'host' })
  const hostKeys = [hostKey.path]
  if (options.rsaHostKey) hostKeys.push(generateKey(join(dir, 'host_rsa'), { type: 'rsa' }).path)
  const userKey = generateKey(join(dir, 'user_ed25519'), {
    passphrase: options.userKeyPassphrase,
    comment: 'user'
  })
  const authorizedKeys = join(dir, 'authorized_keys')
  writeFileSync(authorizedKeys, `${userKey.publicKey}\n`, { mode: 0o600 })
  const port = await freePort()
  const logFile = join(dir, 'sshd.log')
  const config = join(dir, 'sshd_config')
  writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      ...hostKeys.map(k => `HostKey ${k}`),
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${authorizedKeys}`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      'MaxStartups 100:30:200',
      'MaxSessions 50',
      'Subsystem sftp internal-sftp',
      ...(options.extraConfig ?? []),
      ''
    ].join('\n')
  )
  const sshdArgs = ['-D', '-f', config, '-E', logFile]
  const child = options.bindOver
    ? spawn(
        'unshare',
        [
          '--mount',
          '--propagation',
          'private',
          'sh',
          '-c',
          'mount --bind "$1" "$2" && shift 2 && exec /usr/sbin/sshd "$@"',
          'sh',
          remoteDir,
          options.bindOver,
          ...sshdArgs
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] }
      )
    : spawn('/usr/sbin/sshd', sshdArgs, { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()))
  child.on('error', error => {
    stderr += `${error.message}: is openssh-server installed? (apt-get install openssh-server)\n`
  })
  try {
    await waitForPort(port, child, logFile)
  } catch (error) {
    child.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
    throw new Error(`${(error as Error).message}\n${stderr}`)
  }
  const blob = hostKey.publicKey.split(/\s+/).slice(0, 2).join(' ')
  return {
    host: '127.0.0.1',
    port,
    username: userInfo().username,
    userKey,
    hostKey,
    knownHostsLine: `[127.0.0.1]:${port} ${blob}`,
    fingerprint: hostKey.fingerprint,
    dir,
    remoteDir,
    log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
    authorize: line => writeFileSync(authorizedKeys, `${line.trim()}\n`, { flag: 'a' }),
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise<void>(resolve => child.once('exit', () => resolve()))
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000)
        await exited
        clearTimeout(timer)
      }
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
