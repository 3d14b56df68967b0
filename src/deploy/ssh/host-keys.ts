/**
 * SSH host key pinning, as pure functions: `known_hosts` lines (plain, wildcard,
 * negated, `[host]:port` and hashed `|1|` patterns, `@revoked` markers) and
 * `SHA256:` fingerprints, and the verdict for the key a server presented.
 */
import { createHash, createHmac } from 'node:crypto'
import { ConfigurationError, quote } from '../../core/errors.js'

/** One parsed known_hosts line. */
export interface KnownHostEntry {
  /** 1-based line number in the input. */
  line: number
  marker?: 'revoked' | 'cert-authority'
  /** Host patterns as written (comma-separated in the file). */
  patterns: string[]
  /** Key type as written, e.g. `ssh-ed25519`. */
  keyType: string
  /** The raw public key blob. */
  key: Buffer
}

/** A `host[:port]` deploy target. */
export interface HostTarget {
  host: string
  port: number
}

const FINGERPRINT_RE = /^SHA256:[A-Za-z0-9+/]{43}=?$/

/** `SHA256:<base64 without padding>` of a public key blob, as `ssh-keygen -l` prints it. */
export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`
}

/** The key type named inside a public key blob (its first SSH string). */
export function keyTypeOf(key: Buffer): string {
  if (key.length < 4) return 'unknown'
  const len = key.readUInt32BE(0)
  if (len <= 0 || len > 64 || 4 + len > key.length) return 'unknown'
  return key.subarray(4, 4 + len).toString('latin1')
}

/** How OpenSSH names a host in known_hosts: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`
}

/**
 * Parse `host[:port]` lines (`[v6addr]:port` for IPv6). Throws a ConfigurationError
 * naming the input and the line.
 */
export function parseHostLines(
  lines: string[],
  defaultPort: number,
  input = 'hosts'
): HostTarget[] {
  const out: HostTarget[] = []
  const seen = new Set<string>()
  for (const raw of lines) {
    const line = raw.trim()
    let host: string
    let portText: string | undefined
    const v6 = /^\[([0-9A-Fa-f:.]+)\](?::(\d+))?$/.exec(line)
    if (v6) {
      host = v6[1]!
      portText = v6[2]
    } else {
      const m = /^([A-Za-z0-9._-]+)(?::(\d+))?$/.exec(line)
      if (!m || m[1]!.startsWith('-') || m[1]!.startsWith('.')) {
        throw new ConfigurationError(
          `input "${input}": got ${quote(line)}, expected one host[:port] per line (a host name or IP address, [v6]:port for IPv6)`
        )
      }
      host = m[1]!
      portText = m[2]
    }
    const port = portText === undefined ? defaultPort : Number(portText)
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new ConfigurationError(
        `input "${input}": port in ${quote(line)} must be between 1 and 65535`
      )
    }
    const key = `${host}:${port}`
    if (seen.has(key)) {
      throw new ConfigurationError(`input "${input}": ${quote(key)} is listed twice`)
    }
    seen.add(key)
    out.push({ host, port })
  }
  return out
}

/** Parse `SHA256:` fingerprint lines. */
export function parseFingerprints(lines: string[], input = 'fingerprints'): string[] {
  return lines.map((line, i) => {
    const value = line.trim()
    if (!FINGERPRINT_RE.test(value)) {
      throw new ConfigurationError(
        `input "${input}": item ${i + 1} ${quote(value)} is not a SHA256 fingerprint; expected "SHA256:" and 43 base64 characters, as "ssh-keygen -lf <key>" prints`
      )
    }
    return value.replace(/=$/, '')
  })
}

/**
 * Parse known_hosts text. Blank lines and `#` comments are skipped; a malformed
 * line throws a ConfigurationError with its line number.
 */
export function parseKnownHosts(text: string, input = 'known-hosts'): KnownHostEntry[] {
  const out: KnownHostEntry[] = []
  const lines = text.split(/\r?\n/)
  lines.forEach((raw, index) => {
    const lineNo = index + 1
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) return
    const fail = (why: string): never => {
      throw new ConfigurationError(
        `input "${input}", line ${lineNo}: ${why}; expected "[@revoked] host[,host...] key-type base64-key [comment]" as ssh-keyscan prints`
      )
    }
    const fields = line.split(/\s+/)
    let marker: KnownHostEntry['marker']
    if (fields[0]!.startsWith('@')) {
      const m = fields.shift()!
      if (m === '@revoked') marker = 'revoked'
      else if (m === '@cert-authority') marker = 'cert-authority'
      else fail(`unknown marker ${quote(m)}`)
    }
    if (fields.length < 3) fail('too few fields')
    const [hostField, keyType, keyText] = fields as [string, string, string]
    if (!/^[A-Za-z0-9@._-]+$/.test(keyType)) fail(`invalid key type ${quote(keyType)}`)
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(keyText)) fail('the key is not base64')
    const key = Buffer.from(keyText, 'base64')
    const embedded = keyTypeOf(key)
    if (embedded !== keyType) {
      fail(`the key data is of type ${quote(embedded)} but the line says ${quote(keyType)}`)
    }
    const patterns = hostField.split(',').filter(p => p !== '')
    if (patterns.length === 0) fail('no host pattern')
    for (const p of patterns) {
      if (p.startsWith('|') && !/^\|1\|[A-Za-z0-9+/=]+\|[A-Za-z0-9+/=]+$/.test(p)) {
        fail(`malformed hashed host ${quote(p)}`)
      }
    }
    out.push({ line: lineNo, marker, patterns, keyType, key })
  })
  return out
}

function globToRegExp(glob: string): RegExp {
  const body = glob
    .split('')
    .map(c => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('')
  return new RegExp(`^${body}$`, 'i')
}

function patternMatches(pattern: string, name: string): boolean {
  if (pattern.startsWith('|1|')) {
    const [, , salt, hash] = pattern.split('|')
    const mac = createHmac('sha1', Buffer.from(salt ?? '', 'base64'))
      .update(name)
      .digest('base64')
    return mac === hash
  }
  return globToRegExp(pattern).test(name)
}

/** Whether an entry's host patterns match `host:port` (OpenSSH rules, negation wins). */
export function entryMatchesHost(entry: KnownHostEntry, host: string, port: number): boolean {
  const name = knownHostsName(host, port)
  let matched = false
  for (const p of entry.patterns) {
    if (p.startsWith('!')) {
      if (patternMatches(p.slice(1), name)) return false
    } else if (patternMatches(p, name)) {
      matched = true
    }
  }
  return matched
}

/** What to trust for one host. */
export interface HostKeyPolicy {
  knownHosts: KnownHostEntry[]
  fingerprints: string[]
  insecure: boolean
}

/** The verdict on a presented host key. */
export interface HostKeyVerdict {
  ok: boolean
  /** Why (for logs and errors; never secret). */
  reason: string
}

/** Key types pinned for a host, in file order; used to ask the server for those first. */
export function pinnedKeyTypes(policy: HostKeyPolicy, host: string, port: number): string[] {
  const types = policy.knownHosts
    .filter(e => !e.marker && entryMatchesHost(e, host, port))
    .map(e => e.keyType)
  return [...new Set(types)]
}

/** Decide whether the key a server presented is trusted. */
export function verifyHostKey(
  policy: HostKeyPolicy,
  host: string,
  port: number,
  key: Buffer
): HostKeyVerdict {
  const fp = fingerprint(key)
  const type = keyTypeOf(key)
  const revoked = policy.knownHosts.find(
    e => e.marker === 'revoked' && e.key.equals(key) && e.patterns.length > 0
  )
  if (revoked)
    return { ok: false, reason: `the ${type} key ${fp} is @revoked (line ${revoked.line})` }
  if (policy.insecure) return { ok: true, reason: 'host key verification skipped (insecure)' }
  if (policy.fingerprints.includes(fp)) return { ok: true, reason: `fingerprint ${fp} pinned` }
  const forHost = policy.knownHosts.filter(e => !e.marker && entryMatchesHost(e, host, port))
  const hit = forHost.find(e => e.key.equals(key))
  if (hit) return { ok: true, reason: `known-hosts line ${hit.line}` }
  const name = knownHostsName(host, port)
  const parts = [`the server presented a ${type} key ${fp}`]
  if (forHost.length > 0) {
    parts.push(
      `known-hosts pins ${forHost.map(e => `${e.keyType} ${fingerprint(e.key)} (line ${e.line})`).join(', ')} for ${name}`
    )
  } else if (policy.knownHosts.length > 0) {
    const other =
      port !== 22 && policy.knownHosts.some(e => !e.marker && entryMatchesHost(e, host, 22))
    parts.push(
      `known-hosts has no line for ${name}${other ? ` (there are lines for ${host} on port 22; write "[${host}]:${port}" for port ${port})` : ''}`
    )
  }
  if (policy.fingerprints.length > 0) {
    parts.push(`it matches none of the ${policy.fingerprints.length} pinned fingerprint(s)`)
  }
  return { ok: false, reason: parts.join('; ') }
}
