/**
 * Typed, validated reading of action inputs. Every reader throws a
 * ConfigurationError that names the input, what it got (never a secret) and what
 * was expected. Secret inputs are registered with the secrets registry the moment
 * they are read, before anything could print them.
 */
import { X509Certificate } from 'node:crypto'
import { readFileSync, statSync } from 'node:fs'
import { confinedPath } from './confine.js'
import { ConfigurationError, errorMessage, invalidInput, quote } from './errors.js'
import { parseDuration } from './duration.js'
import { secrets } from './secrets.js'
import { shownUrl } from './urls.js'

/** Where raw input strings come from. */
export interface InputSource {
  get(name: string): string | undefined
}

/** The runner's way: `INPUT_<NAME>` with spaces as underscores, upper-cased, hyphens kept. */
export function envInputs(env: NodeJS.ProcessEnv = process.env): InputSource {
  return { get: name => env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] }
}

/** Inputs from a plain object; for tests. */
export function mapInputs(values: Record<string, string>): InputSource {
  return { get: name => values[name] }
}

interface Common {
  required?: boolean
  secret?: boolean
}

/**
 * Parse every PEM block of `pem` as an X.509 certificate, so a CA input that holds no
 * (valid) certificate fails before the first connection, not at it. Throws a
 * ConfigurationError naming `input`; `got` says what was given (a quoted path, or
 * the length of an inline text), since the text itself is never echoed: a mistaken
 * paste could be a private key.
 */
export function parseCertificates(input: string, pem: string, got: string): X509Certificate[] {
  const wrong = (why = ''): ConfigurationError =>
    new ConfigurationError(
      `input "${input}": got ${got}${why}, expected PEM certificate(s) ("-----BEGIN CERTIFICATE-----" blocks)`
    )
  const blocks = [...pem.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g)]
  const begins = pem.match(/-----BEGIN [A-Z0-9 ]+-----/g)?.length ?? 0
  if (blocks.length === 0) throw wrong(begins > 0 ? ' (a PEM block without its END line)' : '')
  if (begins !== blocks.length) throw wrong(' (a PEM block without its END line)')
  const certificates: X509Certificate[] = []
  for (const [i, block] of blocks.entries()) {
    const type = block[1]!
    if (type !== 'CERTIFICATE') throw wrong(` (holding a "${type}" block)`)
    try {
      certificates.push(new X509Certificate(block[0]))
    } catch (error) {
      throw wrong(
        ` (certificate ${i + 1} of ${blocks.length} does not parse: ${errorMessage(error)})`
      )
    }
  }
  return certificates
}

/** The longest host name DNS allows (RFC 1035), and one label of it. */
const MAX_HOST = 253
const MAX_LABEL = 63

/** Reads and validates inputs from one source. */
export class InputReader {
  constructor(private readonly source: InputSource = envInputs()) {}

  /** The raw value, trimmed; '' when unset. Registers secrets. */
  raw(name: string, options: { secret?: boolean; trim?: boolean } = {}): string {
    const value = this.source.get(name) ?? ''
    if (options.secret) secrets.add(value, { label: `input "${name}"` })
    return options.trim === false ? value : value.trim()
  }

  /** A string; `default` when empty; an error when required and empty. */
  string(name: string, options: Common & { default?: string; trim?: boolean } = {}): string {
    const value = this.raw(name, options)
    if (value === '') {
      if (options.required)
        throw new ConfigurationError(`input "${name}" is required but was empty`)
      return options.default ?? ''
    }
    if (!options.secret && /[\0]/.test(value)) throw invalidInput(name, value, 'no NUL characters')
    return value
  }

  /** A string or undefined when empty. */
  optional(name: string, options: { secret?: boolean; trim?: boolean } = {}): string | undefined {
    const value = this.raw(name, options)
    return value === '' ? undefined : value
  }

  /** A single-line string (no newline). */
  line(
    name: string,
    options: Common & { default?: string; pattern?: RegExp; expected?: string } = {}
  ): string {
    const value = this.string(name, options)
    if (/[\r\n]/.test(value)) {
      throw invalidInput(name, value, options.expected ?? 'a single line', options)
    }
    if (value !== '' && options.pattern && !options.pattern.test(value)) {
      throw invalidInput(
        name,
        value,
        options.expected ?? `a value matching ${options.pattern}`,
        options
      )
    }
    return value
  }

  /** `true` or `false` (YAML 1.2 core schema spellings). */
  boolean(name: string, defaultValue: boolean): boolean {
    const value = this.raw(name)
    if (value === '') return defaultValue
    if (['true', 'True', 'TRUE'].includes(value)) return true
    if (['false', 'False', 'FALSE'].includes(value)) return false
    throw invalidInput(name, value, '"true" or "false"')
  }

  /** An integer within bounds. */
  integer(name: string, options: { default: number; min?: number; max?: number }): number {
    const value = this.raw(name)
    if (value === '') return options.default
    const range = `an integer${options.min !== undefined ? ` >= ${options.min}` : ''}${
      options.max !== undefined
        ? `${options.min !== undefined ? ' and' : ''} <= ${options.max}`
        : ''
    }`
    if (!/^-?\d+$/.test(value)) throw invalidInput(name, value, range)
    const n = Number(value)
    if (
      !Number.isSafeInteger(n) ||
      (options.min !== undefined && n < options.min) ||
      (options.max !== undefined && n > options.max)
    ) {
      throw invalidInput(name, value, range)
    }
    return n
  }

  /** One of a fixed set of values. */
  choice<T extends string>(name: string, values: readonly T[], defaultValue: T): T {
    const value = this.raw(name)
    if (value === '') return defaultValue
    if ((values as readonly string[]).includes(value)) return value as T
    throw invalidInput(name, value, `one of ${values.map(v => `"${v}"`).join(', ')}`)
  }

  /** A duration in milliseconds: plain seconds or Go-style units. */
  duration(
    name: string,
    defaultValue: string,
    options: { min?: number; max?: number } = {}
  ): number {
    const value = this.raw(name) || defaultValue
    const ms = parseDuration(value)
    const expected = 'a duration such as "300", "90s", "5m" or "1h30m"'
    if (ms === undefined) throw invalidInput(name, value, expected)
    if (options.min !== undefined && ms < options.min) {
      throw invalidInput(name, value, `${expected}, at least ${options.min / 1000}s`)
    }
    if (options.max !== undefined && ms > options.max) {
      throw invalidInput(name, value, `${expected}, at most ${options.max / 1000}s`)
    }
    return ms
  }

  /**
   * A list: one item per line (and, with `commas`, comma-separated on a line).
   * Blank lines and lines starting with `#` are ignored.
   */
  list(name: string, options: { commas?: boolean; secret?: boolean } = {}): string[] {
    const value = this.raw(name, options)
    const items: string[] = []
    for (const line of value.split(/\r?\n/)) {
      const trimmed = line.trim()
      if (trimmed === '' || trimmed.startsWith('#')) continue
      const parts = options.commas ? trimmed.split(',') : [trimmed]
      for (const part of parts) if (part.trim() !== '') items.push(part.trim())
    }
    // Each item may be printed alone later (e.g. one token of several): register it.
    if (options.secret)
      for (const item of items) secrets.add(item, { label: `a line of input "${name}"` })
    return items
  }

  /** `key=value` lines (or `key: value` with `colon`). Keys must be unique. */
  keyValues(
    name: string,
    options: { secret?: boolean; colon?: boolean; keyPattern?: RegExp } = {}
  ): Map<string, string> {
    const out = new Map<string, string>()
    const sep = options.colon ? /[=:]/ : /=/
    for (const item of this.list(name, { secret: options.secret })) {
      const at = item.search(sep)
      const key = at > 0 ? item.slice(0, at).trim() : ''
      if (key === '') {
        throw invalidInput(
          name,
          item,
          options.colon ? 'lines of the form "Name: value"' : 'lines of the form key=value',
          { secret: options.secret }
        )
      }
      const hide = { secret: options.secret }
      if (options.keyPattern && !options.keyPattern.test(key)) {
        throw invalidInput(name, key, `keys matching ${options.keyPattern}`, hide)
      }
      if (out.has(key)) throw invalidInput(name, key, 'each key at most once', hide)
      const value = item.slice(at + 1).trim()
      if (options.secret) secrets.add(value, { label: `the value of ${key} in input "${name}"` })
      out.set(key, value)
    }
    return out
  }

  /**
   * An http(s) URL with a host name DNS can hold, without credentials. A value the
   * URL parser would silently change (inner whitespace or control characters, which
   * it drops) is refused. Errors show the scheme, host and path only, shortened.
   */
  url(name: string, options: Common & { default?: string } = {}): URL | undefined {
    const value = this.string(name, options)
    if (value === '') return undefined
    // Never echo credentials of a URL that gets refused: an error shows the scheme, host
    // and path only (no `user:pass@`, no `?access_token=`, no `#fragment`).
    const userinfo = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)@/i.exec(value)?.[1]
    if (userinfo !== undefined) for (const part of userinfo.split(':')) secrets.add(part)
    const shown = shownUrl(value)
    let url: URL
    try {
      url = new URL(value)
    } catch {
      throw invalidInput(name, shown, 'an absolute http:// or https:// URL', options)
    }
    if (/[\s\p{Cc}]/u.test(value)) {
      throw invalidInput(name, shown, 'one URL without spaces or control characters', options)
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw invalidInput(name, shown, 'an http:// or https:// URL', options)
    }
    const host = url.hostname.replace(/\.$/, '')
    if (!host.startsWith('[')) {
      const long = host.split('.').find(label => label.length > MAX_LABEL)
      if (host.length > MAX_HOST || long !== undefined) {
        throw invalidInput(
          name,
          shown,
          `a URL whose host name has at most ${MAX_HOST} characters, and at most ${MAX_LABEL} between dots (got a host of ${host.length} characters)`,
          options
        )
      }
    }
    if (url.username || url.password) {
      // Either part may be the credential (`https://<token>@host` puts it in the user).
      for (const part of [url.username, url.password]) {
        secrets.add(part)
        try {
          secrets.add(decodeURIComponent(part))
        } catch {
          // a malformed %-sequence: the raw form is registered
        }
      }
      throw new ConfigurationError(
        `input "${name}": credentials in the URL are not accepted; pass them through the token or password input`
      )
    }
    return url
  }
}

/**
 * A CA certificate input: PEM text, or the path of a PEM file inside the workspace
 * (symlinks resolved, like every other path input: `/proc/self/environ` or `../..` is
 * refused before it is read). Returns the PEM text, checked to hold certificates, or
 * undefined when the input is empty. Errors never echo the text or the file's content.
 */
export function caCertificate(
  reader: InputReader,
  name: string,
  workspace = process.env.GITHUB_WORKSPACE || process.cwd()
): string | undefined {
  const raw = reader.optional(name, { trim: false })
  if (raw === undefined || raw.trim() === '') return undefined
  if (raw.includes('-----BEGIN ')) {
    parseCertificates(name, raw, `a PEM text of ${raw.length} characters`)
    return raw
  }
  const path = raw.trim()
  if (/[\r\n\0]/.test(path)) {
    throw new ConfigurationError(
      `input "${name}": got ${raw.length} characters that are neither PEM text nor one path, expected PEM certificate(s) or the path of a PEM file in the workspace`
    )
  }
  const full = confinedPath(workspace, path, {
    input: `input "${name}":`,
    hint: 'give the PEM text, or the path of a PEM file of the checkout'
  })
  const st = statSync(full, { throwIfNoEntry: false })
  if (!st?.isFile()) {
    throw invalidInput(name, path, 'PEM text or the path of a PEM file in the workspace')
  }
  const pem = readFileSync(full, 'utf8')
  parseCertificates(name, pem, `the file ${quote(path)}`)
  return pem
}
