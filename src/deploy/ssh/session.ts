/**
 * A small SSH client over `ssh2` (pure JavaScript, no binary): a session connected by
 * connect.ts (host key verification, publickey login), exec with stdin and bounded
 * output, SFTP uploads; every operation ends when the connection is lost or its time
 * runs out.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import type { ClientChannel, SFTPWrapper } from 'ssh2'
import { secrets } from '../../core/secrets.js'
import { connectClient, SshError, type ConnectOptions, type SshClient } from './connect.js'

export { parsePrivateKey, SshError } from './connect.js'
export type { ConnectOptions, SshErrorKind } from './connect.js'

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

/** Options of the SFTP operations. */
export interface SftpOptions {
  /** Give up (reject with kind `timeout`) after this long (ms). */
  timeoutMs?: number
}

/**
 * A connected, authenticated SSH session. Every operation ends: it rejects with kind
 * `unreachable` as soon as the connection closes, ends or fails (ssh2 leaves some
 * callbacks, e.g. of `fastPut`, uncalled then), and with kind `timeout` after its
 * `timeoutMs`.
 */
export class SshSession {
  private sftpPromise?: Promise<SFTPWrapper>
  /** Why the connection is gone, once it is. */
  private lost?: string
  /** Rejecters of the operations in flight. */
  private readonly pending = new Set<() => void>()

  private constructor(
    private readonly client: SshClient,
    readonly host: string,
    readonly port: number,
    /** Fingerprint of the verified host key. */
    readonly hostKeyFingerprint: string
  ) {
    client.on('error', (error: Error) =>
      this.lose(`the connection broke (${secrets.redact(error.message)})`)
    )
    client.on('end', () =>
      this.lose('the connection was lost (ended by the server or the network)')
    )
    client.on('close', () => this.lose('the connection was lost'))
  }

  /** Mark the connection gone and reject every operation in flight. */
  private lose(reason: string): void {
    this.lost ??= reason
    for (const reject of [...this.pending]) reject()
  }

  /**
   * Run one operation bounded by the connection's life and `timeoutMs`: `start` gets
   * settle functions that do nothing once the operation was rejected; `onTimeout` runs
   * before the timeout rejection (to stop what the operation started).
   */
  private bounded<T>(
    what: string,
    timeoutMs: number | undefined,
    start: (resolve: (value: T) => void, reject: (error: Error) => void) => void,
    onTimeout?: () => void,
    timeoutMessage = `${what} timed out after ${Math.round((timeoutMs ?? 0) / 1000)}s`
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let done = false
      let timer: ReturnType<typeof setTimeout> | undefined
      const settle = (): boolean => {
        if (done) return false
        done = true
        this.pending.delete(onLost)
        if (timer) clearTimeout(timer)
        return true
      }
      const onLost = (): void => {
        if (settle())
          reject(new SshError('unreachable', `${this.address}: ${what} failed: ${this.lost ?? ''}`))
      }
      if (this.lost !== undefined) {
        onLost()
        return
      }
      this.pending.add(onLost)
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          if (!settle()) return
          try {
            onTimeout?.()
          } catch {
            // best effort
          }
          reject(new SshError('timeout', `${this.address}: ${timeoutMessage}`))
        }, timeoutMs)
      }
      try {
        start(
          value => {
            if (settle()) resolve(value)
          },
          error => {
            if (settle()) reject(error)
          }
        )
      } catch (error) {
        if (settle())
          reject(
            new SshError(
              'protocol',
              `${this.address}: ${what}: ${secrets.redact((error as Error).message)}`
            )
          )
      }
    })
  }

  /** `host:port` for messages. */
  get address(): string {
    return this.host.includes(':') ? `[${this.host}]:${this.port}` : `${this.host}:${this.port}`
  }

  /** Connect, verify the host key, authenticate with the private key. */
  static async connect(options: ConnectOptions): Promise<SshSession> {
    const { client, hostKeyFingerprint } = await connectClient(options)
    return new SshSession(client, options.host, options.port, hostKeyFingerprint)
  }

  /**
   * Run one command. `command` goes into the SSH exec request (visible in the
   * remote `ps`), so it must never hold a secret: send those on `stdin`. Rejects when
   * the connection is lost or `timeoutMs` runs out (the command is then signalled and
   * its channel closed).
   */
  exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    if (secrets.leaks(command)) {
      return Promise.reject(new Error('refusing to send a secret in an SSH exec request'))
    }
    const maxOutput = options.maxOutput ?? 1024 * 1024
    const tailLines = options.tailLines ?? 20
    let channel: ClientChannel | undefined
    const stop = (): void => {
      // The remote process may hold its pipes open (sshd then never closes the
      // channel): give up on it now; the caller may kill it by other means.
      try {
        channel?.signal('KILL')
      } catch {
        // not supported by the server
      }
      channel?.close()
    }
    const seconds = Math.round((options.timeoutMs ?? 0) / 1000)
    return this.bounded<ExecResult>(
      'command',
      options.timeoutMs,
      (resolve, reject) => {
        this.client.exec(command, (error, opened: ClientChannel) => {
          if (error) {
            reject(
              new SshError('exec', `${this.address}: could not start a command: ${error.message}`)
            )
            return
          }
          channel = opened
          const out = { stdout: '', stderr: '' }
          const partial = { stdout: '', stderr: '' }
          const tail: string[] = []
          let code: number | null = null
          let signal: string | undefined
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
          opened.on('data', onData('stdout'))
          opened.stderr.on('data', onData('stderr'))
          opened.on('exit', (c: number | null, s?: string) => {
            code = c
            signal = s ?? undefined
          })
          opened.on('close', () => {
            for (const s of ['stdout', 'stderr'] as const)
              if (partial[s] !== '') line(partial[s], s)
            resolve({ code, signal, stdout: out.stdout, stderr: out.stderr, tail })
          })
          opened.on('error', () => undefined)
          if (options.stdin !== undefined) opened.end(options.stdin)
          else opened.end()
        })
      },
      stop,
      `command timed out after ${seconds}s`
    )
  }

  /** The session's SFTP channel (opened once). */
  sftp(options: SftpOptions = {}): Promise<SFTPWrapper> {
    this.sftpPromise ??= this.bounded<SFTPWrapper>(
      'opening SFTP',
      options.timeoutMs,
      (resolve, reject) => {
        this.client.sftp((error, sftp) => {
          if (error)
            reject(new SshError('sftp', `${this.address}: could not open SFTP: ${error.message}`))
          else resolve(sftp)
        })
      }
    )
    return this.sftpPromise
  }

  /** One SFTP request, bounded like every operation. */
  private async sftpCall<T>(
    what: string,
    options: SftpOptions,
    start: (sftp: SFTPWrapper, resolve: (value: T) => void, reject: (error: Error) => void) => void
  ): Promise<T> {
    const started = Date.now()
    const sftp = await this.sftp(options)
    const left =
      options.timeoutMs !== undefined
        ? Math.max(0, options.timeoutMs - (Date.now() - started))
        : undefined
    return this.bounded<T>(
      what,
      left,
      (resolve, reject) => start(sftp, resolve, reject),
      undefined,
      `${what} timed out after ${Math.round((options.timeoutMs ?? 0) / 1000)}s`
    )
  }

  /** Create a remote directory (its parent must exist). */
  mkdir(path: string, mode = 0o755, options: SftpOptions = {}): Promise<void> {
    return this.sftpCall<void>(`mkdir ${path}`, options, (sftp, resolve, reject) =>
      sftp.mkdir(path, { mode }, error =>
        error
          ? reject(new SshError('sftp', `${this.address}: mkdir ${path}: ${error.message}`))
          : resolve()
      )
    )
  }

  /** Upload one local file to `remote` with `mode`. */
  put(local: string, remote: string, mode: number, options: SftpOptions = {}): Promise<void> {
    return this.sftpCall<void>(`upload ${remote}`, options, (sftp, resolve, reject) =>
      sftp.fastPut(local, remote, { mode, concurrency: 8 }, error =>
        error
          ? reject(new SshError('sftp', `${this.address}: upload ${remote}: ${error.message}`))
          : resolve()
      )
    )
  }

  /** Write `content` to a new remote file created with `mode` (e.g. 0600). */
  writeFile(
    remote: string,
    content: string | Buffer,
    mode: number,
    options: SftpOptions = {}
  ): Promise<void> {
    return this.sftpCall<void>(`write ${remote}`, options, (sftp, resolve, reject) =>
      sftp.writeFile(remote, content, { mode, flag: 'wx' }, error =>
        error
          ? reject(new SshError('sftp', `${this.address}: write ${remote}: ${error.message}`))
          : resolve()
      )
    )
  }

  /** Names in a remote directory, or [] when it does not exist. */
  readdir(path: string, options: SftpOptions = {}): Promise<string[]> {
    return this.sftpCall<string[]>(`readdir ${path}`, options, (sftp, resolve) =>
      sftp.readdir(path, (error, list) => resolve(error ? [] : list.map(e => e.filename)))
    )
  }

  /** The target of a remote symlink, or undefined. */
  readlink(path: string, options: SftpOptions = {}): Promise<string | undefined> {
    return this.sftpCall<string | undefined>(`readlink ${path}`, options, (sftp, resolve) =>
      sftp.readlink(path, (error, target) => resolve(error ? undefined : target))
    )
  }

  /** Close the connection (gracefully). */
  close(): void {
    this.client.end()
  }

  /** Drop the connection now and reject every operation in flight. */
  destroy(reason = 'the connection was dropped'): void {
    this.lose(reason)
    this.client.destroy()
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
