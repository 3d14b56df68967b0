/**
 * A small SSH client over `ssh2` (pure JavaScript, no binary): connect with host key
 * verification, exec with stdin and bounded output, SFTP uploads. Errors say what to
 * fix: an unreachable host (host:port and the cause), a refused key, a host key the
 * pins do not allow (with the key types the server offered), a timeout.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import './ssh-shim.js'
import ssh2 from 'ssh2'
import type { ClientChannel, ConnectConfig, ParsedKey, SFTPWrapper } from 'ssh2'
import { ConfigurationError } from './errors.js'
import type { Logger } from './logger.js'
import { secrets } from './secrets.js'
import {
  fingerprint,
  keyTypeOf,
  pinnedKeyTypes,
  verifyHostKey,
  type HostKeyPolicy
} from './ssh-hostkeys.js'

const { Client, utils } = ssh2

/** Why an SSH operation failed. */
export type SshErrorKind =
  'unreachable' | 'host-key' | 'auth' | 'timeout' | 'exec' | 'sftp' | 'protocol' | 'cancelled'

/** An SSH failure with a kind and a message fit for the user (never a secret). */
export class SshError extends Error {
  override name = 'SshError'
  constructor(
    readonly kind: SshErrorKind,
    message: string
  ) {
    super(message)
  }
}

/**
 * Parse and (with a passphrase) decrypt a private key, as validation before any
 * side effect. Throws a ConfigurationError that never echoes the key or passphrase.
 */
export function parsePrivateKey(key: string, passphrase: string | undefined): ParsedKey {
  const attempt = (pass: string | undefined): ParsedKey | Error => {
    const parsed = utils.parseKey(key, pass) as ParsedKey | ParsedKey[] | Error
    return Array.isArray(parsed) ? (parsed[0] ?? new Error('no key')) : parsed
  }
  const parsed = attempt(passphrase)
  if (!(parsed instanceof Error)) {
    if (!parsed.isPrivateKey()) {
      throw new ConfigurationError(
        'input "key": got a public key, expected a private key (OpenSSH or PEM format)'
      )
    }
    return parsed
  }
  const message = parsed.message
  if (/no passphrase given/i.test(message)) {
    throw new ConfigurationError(
      'input "key": the private key is encrypted; set input "passphrase" to its passphrase'
    )
  }
  if (passphrase !== undefined && /decrypt|passphrase|bad/i.test(message)) {
    throw new ConfigurationError(
      'input "passphrase": could not decrypt the private key with it (wrong passphrase?)'
    )
  }
  if (passphrase !== undefined && !(attempt(undefined) instanceof Error)) {
    // An unencrypted key with a passphrase set: ssh2 accepts it; so do we.
    return attempt(undefined) as ParsedKey
  }
  throw new ConfigurationError(
    `input "key": not a private key this client can read (expected an OpenSSH or PEM ed25519, ecdsa or rsa key; ${
      passphrase !== undefined ? 'wrong passphrase or ' : ''
    }unsupported format)`
  )
}

/** Server host key algorithms for a known_hosts key type. */
function algorithmsFor(keyType: string): string[] {
  if (keyType === 'ssh-rsa') return ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']
  const supported = [
    'ssh-ed25519',
    'ecdsa-sha2-nistp256',
    'ecdsa-sha2-nistp384',
    'ecdsa-sha2-nistp521'
  ]
  return supported.includes(keyType) ? [keyType] : []
}

/** Options of `SshSession.connect`. */
export interface ConnectOptions {
  host: string
  port: number
  username: string
  privateKey: string
  passphrase?: string
  policy: HostKeyPolicy
  /** Handshake and authentication timeout (ms). */
  readyTimeoutMs?: number
  log: Logger
  /** Aborting gives up connecting (fail-fast after another host failed). */
  signal?: AbortSignal
}

/** The result of one remote command. */
export interface ExecResult {
  code: number | null
  signal?: string
  stdout: string
  stderr: string
  /** The last lines of stdout and stderr interleaved, redacted. */
  tail: string[]
}

/** Options of `exec`. */
export interface ExecOptions {
  /** Sent on the command's stdin, then EOF. The way secrets travel. */
  stdin?: string | Buffer
  timeoutMs?: number
  /** Called with each complete output line (not redacted: the logger redacts). */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void
  /** Keep at most this many characters of stdout/stderr each (default 1 MiB). */
  maxOutput?: number
  tailLines?: number
}

/** A connected, authenticated SSH session. */
export class SshSession {
  private sftpPromise?: Promise<SFTPWrapper>

  private constructor(
    private readonly client: InstanceType<typeof Client>,
    readonly host: string,
    readonly port: number,
    /** Fingerprint of the verified host key. */
    readonly hostKeyFingerprint: string
  ) {}

  /** `host:port` for messages. */
  get address(): string {
    return this.host.includes(':') ? `[${this.host}]:${this.port}` : `${this.host}:${this.port}`
  }

  /** Connect, verify the host key, authenticate with the private key. */
  static connect(options: ConnectOptions): Promise<SshSession> {
    const { host, port, log } = options
    const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
    const client = new Client()
    let offered: string | undefined
    let verdictReason: string | undefined
    let presented: string | undefined
    let verified = false
    const pinned = pinnedKeyTypes(options.policy, host, port).flatMap(algorithmsFor)
    const config: ConnectConfig = {
      host,
      port,
      username: options.username,
      privateKey: options.privateKey,
      passphrase: options.passphrase,
      readyTimeout: options.readyTimeoutMs ?? 30_000,
      keepaliveInterval: 15_000,
      keepaliveCountMax: 4,
      tryKeyboard: false,
      agent: undefined,
      authHandler: ['publickey'],
      algorithms:
        pinned.length > 0
          ? { serverHostKey: { remove: pinned, prepend: [...pinned].reverse() } as never }
          : undefined,
      debug: (message: string) => {
        const m = /^Handshake: \(remote\) Host key format: (.*)$/.exec(message)
        if (m) offered = m[1]
      },
      hostVerifier: (key: Buffer): boolean => {
        const verdict = verifyHostKey(options.policy, host, port, key)
        presented = `${keyTypeOf(key)} ${fingerprint(key)}`
        verdictReason = verdict.reason
        verified = verdict.ok
        return verdict.ok
      }
    }
    return new Promise<SshSession>((resolve, reject) => {
      let settled = false
      const onAbort = (): void =>
        fail(new SshError('cancelled', `${address}: connecting cancelled: another host failed`))
      const fail = (error: SshError): void => {
        if (settled) return
        settled = true
        options.signal?.removeEventListener('abort', onAbort)
        client.destroy()
        reject(error)
      }
      if (options.signal?.aborted) {
        onAbort()
        return
      }
      options.signal?.addEventListener('abort', onAbort, { once: true })
      client.once('ready', () => {
        if (settled) return
        settled = true
        options.signal?.removeEventListener('abort', onAbort)
        if (options.policy.insecure) {
          log.warning(
            `INSECURE: the host key of ${address} (${presented ?? 'unknown'}) was not verified (insecure-skip-host-key: true); anyone on the network path could impersonate this host and receive your files and secrets. Pin it with known-hosts or fingerprints.`
          )
        } else {
          log.debug(`${address}: host key ${presented ?? ''} verified: ${verdictReason ?? ''}`)
        }
        resolve(new SshSession(client, host, port, presented ?? ''))
      })
      client.on('error', (error: Error & { level?: string; code?: string }) => {
        const cause = secrets.redact(error.message)
        if (verdictReason !== undefined && !verified) {
          const types = offered ? offered.split(',').join(', ') : 'unknown'
          fail(
            new SshError(
              'host-key',
              `host key verification failed for ${address}: ${verdictReason}. The server offered host key types: ${types}. Check known-hosts / fingerprints (ssh-keyscan -p ${port} ${host} shows the server's keys; verify them out of band).`
            )
          )
        } else if (error.level === 'client-authentication') {
          fail(
            new SshError(
              'auth',
              `${address} refused the key for user "${options.username}" (publickey authentication failed): check input "username" and that the public key is in the user's authorized_keys`
            )
          )
        } else if (error.level === 'client-timeout') {
          fail(
            new SshError(
              'timeout',
              `${address}: timed out after ${Math.round((options.readyTimeoutMs ?? 30_000) / 1000)}s waiting for the SSH handshake`
            )
          )
        } else if (error.level === 'client-socket' || error.code !== undefined) {
          fail(new SshError('unreachable', `cannot reach ${address}: ${cause}`))
        } else if (/no matching host key format/i.test(cause)) {
          fail(
            new SshError(
              'host-key',
              `${address}: no host key type in common with the server; it offered ${offered ?? 'unknown'}`
            )
          )
        } else {
          fail(new SshError('protocol', `${address}: SSH handshake failed: ${cause}`))
        }
      })
      client.once('close', () => {
        fail(
          new SshError(
            'unreachable',
            `cannot reach ${address}: the connection closed before authentication completed`
          )
        )
      })
      try {
        client.connect(config)
      } catch (error) {
        fail(new SshError('protocol', `${address}: ${secrets.redact((error as Error).message)}`))
      }
    })
  }

  /**
   * Run one command. `command` goes into the SSH exec request (visible in the
   * remote `ps`), so it must never hold a secret: send those on `stdin`.
   */
  exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    if (secrets.leaks(command)) {
      return Promise.reject(new Error('refusing to send a secret in an SSH exec request'))
    }
    const maxOutput = options.maxOutput ?? 1024 * 1024
    const tailLines = options.tailLines ?? 20
    return new Promise<ExecResult>((resolve, reject) => {
      this.client.exec(command, (error, channel: ClientChannel) => {
        if (error) {
          reject(
            new SshError('exec', `${this.address}: could not start a command: ${error.message}`)
          )
          return
        }
        const out = { stdout: '', stderr: '' }
        const partial = { stdout: '', stderr: '' }
        const tail: string[] = []
        let code: number | null = null
        let signal: string | undefined
        let timedOut = false
        const line = (text: string, stream: 'stdout' | 'stderr'): void => {
          tail.push(secrets.redact(text))
          if (tail.length > tailLines) tail.shift()
          options.onLine?.(text, stream)
        }
        const onData = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
          const text = chunk.toString('utf8')
          if (out[stream].length < maxOutput)
            out[stream] += text.slice(0, maxOutput - out[stream].length)
          const lines = (partial[stream] + text).split('\n')
          partial[stream] = lines.pop() ?? ''
          for (const l of lines) line(l.replace(/\r$/, ''), stream)
        }
        channel.on('data', onData('stdout'))
        channel.stderr.on('data', onData('stderr'))
        channel.on('exit', (c: number | null, s?: string) => {
          code = c
          signal = s ?? undefined
        })
        const timer =
          options.timeoutMs !== undefined
            ? setTimeout(() => {
                // The remote process may hold its pipes open (sshd then never closes the
                // channel): give up on it now; the caller may kill it by other means.
                timedOut = true
                try {
                  channel.signal('KILL')
                } catch {
                  // not supported by the server
                }
                channel.close()
                reject(
                  new SshError(
                    'timeout',
                    `${this.address}: command timed out after ${Math.round((options.timeoutMs ?? 0) / 1000)}s`
                  )
                )
              }, options.timeoutMs)
            : undefined
        channel.on('close', () => {
          if (timer) clearTimeout(timer)
          if (timedOut) return
          for (const s of ['stdout', 'stderr'] as const) if (partial[s] !== '') line(partial[s], s)
          resolve({ code, signal, stdout: out.stdout, stderr: out.stderr, tail })
        })
        channel.on('error', () => undefined)
        if (options.stdin !== undefined) channel.end(options.stdin)
        else channel.end()
      })
    })
  }

  /** The session's SFTP channel (opened once). */
  sftp(): Promise<SFTPWrapper> {
    this.sftpPromise ??= new Promise<SFTPWrapper>((resolve, reject) => {
      this.client.sftp((error, sftp) => {
        if (error)
          reject(new SshError('sftp', `${this.address}: could not open SFTP: ${error.message}`))
        else resolve(sftp)
      })
    })
    return this.sftpPromise
  }

  /** Create a remote directory (its parent must exist). */
  async mkdir(path: string, mode = 0o755): Promise<void> {
    const sftp = await this.sftp()
    await new Promise<void>((resolve, reject) =>
      sftp.mkdir(path, { mode }, error =>
        error
          ? reject(new SshError('sftp', `${this.address}: mkdir ${path}: ${error.message}`))
          : resolve()
      )
    )
  }

  /** Upload one local file to `remote` with `mode`. */
  async put(local: string, remote: string, mode: number): Promise<void> {
    const sftp = await this.sftp()
    await new Promise<void>((resolve, reject) =>
      sftp.fastPut(local, remote, { mode, concurrency: 8 }, error =>
        error
          ? reject(new SshError('sftp', `${this.address}: upload ${remote}: ${error.message}`))
          : resolve()
      )
    )
  }

  /** Write `content` to a new remote file created with `mode` (e.g. 0600). */
  async writeFile(remote: string, content: string | Buffer, mode: number): Promise<void> {
    const sftp = await this.sftp()
    await new Promise<void>((resolve, reject) =>
      sftp.writeFile(remote, content, { mode, flag: 'wx' }, error =>
        error
          ? reject(new SshError('sftp', `${this.address}: write ${remote}: ${error.message}`))
          : resolve()
      )
    )
  }

  /** Names in a remote directory, or [] when it does not exist. */
  async readdir(path: string): Promise<string[]> {
    const sftp = await this.sftp()
    return new Promise<string[]>(resolve =>
      sftp.readdir(path, (error, list) => resolve(error ? [] : list.map(e => e.filename)))
    )
  }

  /** The target of a remote symlink, or undefined. */
  async readlink(path: string): Promise<string | undefined> {
    const sftp = await this.sftp()
    return new Promise<string | undefined>(resolve =>
      sftp.readlink(path, (error, target) => resolve(error ? undefined : target))
    )
  }

  /** Close the connection. */
  close(): void {
    this.client.end()
  }
}

/** sha256 (hex) of a local file, streamed. */
export function sha256File(path: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const hash = createHash('sha256')
    createReadStream(path)
      .on('data', chunk => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')))
  })
}

/** Run `fn` over `items` with at most `limit` at a time; the first error rejects. */
export async function mapLimit<T, R>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<R>
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++
      results[i] = await fn(items[i]!)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, () => worker()))
  return results
}
