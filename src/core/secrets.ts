/**
 * The one registry of every secret the action knows: inputs declared secret, tokens
 * received at run time and values derived from them. Each secret is masked together
 * with the encodings the runner does not mask by itself (CVE-2025-30066 leaked double
 * base64), and `redact()` scrubs anything the action writes itself.
 */

/** Values shorter than this are not masked: masking "a" would garble every log line. */
export const MIN_SECRET_LENGTH = 4

/**
 * Secrets shorter than this get a warning: a value such as `sha256` or `latest` occurs
 * in ordinary text, and masking it rewrites logs, outputs and file names that hold it.
 */
export const SHORT_SECRET_LENGTH = 8

const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64')

/**
 * The base64 forms of `value` as it can appear inside a longer encoded string: at
 * each of the three byte alignments, the part of the encoding that depends only on
 * the secret's own bytes.
 */
export function base64Alignments(value: string): string[] {
  const bytes = Buffer.from(value, 'utf8')
  const out: string[] = []
  for (let offset = 0; offset < 3; offset++) {
    const padded = Buffer.concat([Buffer.alloc(offset), bytes])
    const encoded = b64(padded)
    // Characters fully determined by the secret: skip those touching the padding
    // prefix and the last (possibly partial) group.
    const start = offset === 0 ? 0 : Math.ceil((offset * 8) / 6)
    const end = Math.floor(((offset + bytes.length) * 8) / 6)
    const core = encoded.slice(start, end)
    if (core.length >= MIN_SECRET_LENGTH) out.push(core)
  }
  return out
}

/** Every encoding of one secret value that we mask and scan for. */
export function deriveEncodings(value: string, options: { user?: string } = {}): string[] {
  const forms = new Set<string>()
  const add = (s: string): void => {
    if (s.length >= MIN_SECRET_LENGTH) forms.add(s)
  }
  const parts = [value, ...value.split(/\r?\n/).map(line => line.trim())]
  for (const part of parts) {
    if (part.length < MIN_SECRET_LENGTH) continue
    add(part)
    add(b64(part))
    for (const aligned of base64Alignments(part)) add(aligned)
    add(b64(b64(part)))
    for (const aligned of base64Alignments(b64(part))) add(aligned)
    add(Buffer.from(part).toString('base64url'))
    add(encodeURIComponent(part))
    add(encodeURIComponent(part).replace(/%20/g, '+'))
    // application/x-www-form-urlencoded (URLSearchParams) also escapes !'()~
    add(new URLSearchParams({ s: part }).toString().slice(2))
    add(JSON.stringify(part).slice(1, -1))
    add(Buffer.from(part).toString('hex'))
    add(Buffer.from(part).toString('hex').toUpperCase())
    if (options.user !== undefined) {
      const pair = `${options.user}:${part}`
      add(b64(pair))
      for (const aligned of base64Alignments(pair)) add(aligned)
      // A base64 docker config (Kubernetes .dockerconfigjson) holds base64(base64(pair)).
      add(b64(b64(pair)))
      for (const aligned of base64Alignments(b64(pair))) add(aligned)
    }
  }
  return [...forms]
}

/**
 * The masking sink (`core.setSecret` in an action, a recorder in tests): every new form of
 * one secret at once, so that an action can write them out in one go.
 */
export type MaskFn = (values: readonly string[]) => void

/** What is known of a registered secret, never its value: for messages. */
export interface SecretInfo {
  /** Where it came from, e.g. `input "registry-password"`; undefined when unknown. */
  label?: string
  /** Its length in characters. */
  length: number
}

/** How a secret is named in a message: its source and length, never its value. */
export function describeSecret(info: SecretInfo): string {
  return `a secret of ${info.length} characters${info.label ? ` (${info.label})` : ''}`
}

/**
 * A value the runner's masking would rewrite: it holds a registered secret or one of
 * its encodings. Machine-readable values (outputs, result files) are refused rather
 * than silently turned into `***`.
 */
export class MaskedValueError extends Error {
  override name = 'MaskedValueError'
}

/** A registry of secrets and their derived forms. */
export class SecretRegistry {
  private readonly forms = new Set<string>()
  private readonly originals = new Set<string>()
  /** The secret each form was derived from (the first one, when two share a form). */
  private readonly origin = new Map<string, SecretInfo>()
  private readonly warned = new Set<string>()
  private pendingWarnings: string[] = []
  private warn?: (message: string) => void
  private sorted: string[] = []

  constructor(private mask: MaskFn = () => undefined) {}

  /** Route future and already registered masks to `mask`. */
  setMask(mask: MaskFn): void {
    this.mask = mask
    if (this.forms.size > 0) mask([...this.forms])
  }

  /** Route warnings about short secrets to `warn` (those given before are replayed). */
  setWarn(warn: (message: string) => void): void {
    this.warn = warn
    const pending = this.pendingWarnings
    this.pendingWarnings = []
    for (const message of pending) warn(message)
  }

  private warnShort(value: string, label: string | undefined): void {
    const length = value.trim().length
    if (length === 0 || length >= SHORT_SECRET_LENGTH || this.warned.has(value)) return
    this.warned.add(value)
    const what = describeSecret({ label, length })
    const message =
      length < MIN_SECRET_LENGTH
        ? `${what} is too short to be masked at all (under ${MIN_SECRET_LENGTH} characters): it can show in logs; use a longer, random secret`
        : `${what} is shorter than ${SHORT_SECRET_LENGTH} characters: text such as a digest or a tag that contains it is rewritten to "***" by masking, and an output or result file that would be rewritten fails the step; use a longer, random secret`
    if (this.warn) this.warn(message)
    else this.pendingWarnings.push(message)
  }

  /**
   * Register a secret. `user` adds the `user:secret` base64 pair (HTTP Basic,
   * docker auth files); `label` says where it came from in messages (never the value).
   * Empty values are ignored; values under MIN_SECRET_LENGTH characters are not masked,
   * and values under SHORT_SECRET_LENGTH get a warning.
   */
  add(value: string | undefined, options: { user?: string; label?: string } = {}): void {
    if (value === undefined) return
    this.warnShort(value, options.label)
    if (value.trim().length < MIN_SECRET_LENGTH) return
    this.originals.add(value)
    const info: SecretInfo = { label: options.label, length: value.length }
    const added: string[] = []
    for (const form of deriveEncodings(value, options)) {
      if (this.forms.has(form)) continue
      this.forms.add(form)
      this.origin.set(form, info)
      added.push(form)
    }
    if (added.length === 0) return
    this.sorted = [...this.forms].sort((a, b) => b.length - a.length)
    this.mask(added)
  }

  /** The secrets as registered (not the derived forms). */
  values(): string[] {
    return [...this.originals]
  }

  /** Every form that is masked and scanned for. */
  allForms(): string[] {
    return [...this.sorted]
  }

  /** Replace every registered form in `text` with `***`. */
  redact(text: string): string {
    let out = text
    for (const form of this.sorted) {
      if (out.includes(form)) out = out.split(form).join('***')
    }
    return out
  }

  /** The first registered form found in `text`, or undefined. Never log the result. */
  find(text: string): string | undefined {
    return this.sorted.find(form => text.includes(form))
  }

  /** Whether any registered form occurs in `text`. */
  leaks(text: string): boolean {
    return this.find(text) !== undefined
  }

  /** Which secret (label and length, never the value) a form found in `text` belongs to. */
  whose(text: string): SecretInfo | undefined {
    const form = this.find(text)
    return form === undefined ? undefined : this.origin.get(form)
  }

  /**
   * Throw a MaskedValueError naming `what` (e.g. `output "digest"`) when masking would
   * rewrite `value`. The message names the secret by its source and length only.
   */
  assertUnmasked(what: string, value: string): void {
    const info = this.whose(value)
    if (info === undefined) return
    const short =
      info.length < SHORT_SECRET_LENGTH
        ? `; a secret that short occurs in ordinary text: use a longer, random one`
        : ''
    throw new MaskedValueError(
      `${what} holds ${describeSecret(info)} or one of its encodings: masking would rewrite it to "***", so it is refused rather than written changed${short}`
    )
  }
}

/** The process-wide registry every module of an action uses. */
export const secrets = new SecretRegistry()
