/**
 * Connecting over SSH with `ssh2`: the private key checked before any side effect, the
 * handshake with the host key verified against the pins (and the pinned key types
 * preferred), publickey authentication, and an SshError for every way it fails: an
 * unreachable host (host:port and the cause), a refused key, a host key the pins do not
 * allow (with the key types the server offered), a timeout.
 */
import './shim.js'
import ssh2 from 'ssh2'
import type { ConnectConfig, ParsedKey } from 'ssh2'
import { ConfigurationError } from '../../core/errors.js'
import type { Logger } from '../../core/logger.js'
import { secrets } from '../../core/secrets.js'
import {
  fingerprint,
  keyTypeOf,
  pinnedKeyTypes,
  verifyHostKey,
  type HostKeyPolicy
} from './host-keys.js'

const { Client, utils } = ssh2

/** A connected `ssh2` client. */
export type SshClient = InstanceType<typeof Client>

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

/**
 * Connect, verify the host key, authenticate with the private key: the connected client
 * and the fingerprint of the verified host key. Every failure is an SshError saying what
 * to fix.
 */
export function connectClient(
  options: ConnectOptions
): Promise<{ client: SshClient; hostKeyFingerprint: string }> {
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
  return new Promise((resolve, reject) => {
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
      resolve({ client, hostKeyFingerprint: presented ?? '' })
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
