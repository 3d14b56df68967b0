/**
 * The one registry of every secret the action knows: inputs declared secret, tokens
 * received at run time and values derived from them. Each secret is masked together
 * with the encodings the runner does not mask by itself (CVE-2025-30066 leaked double
 * base64), and `redact()` scrubs anything the action writes itself.
 */

/** Values shorter than this are not masked: masking "a" would garble every log line. */
export const MIN_SECRET_LENGTH = 4

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

/** The masking sink: `core.setSecret` in an action, a recorder in tests. */
export type MaskFn = (value: string) => void

/** A registry of secrets and their derived forms. */
export class SecretRegistry {
  private readonly forms = new Set<string>()
  private readonly originals = new Set<string>()
  private sorted: string[] = []

  constructor(private mask: MaskFn = () => undefined) {}

  /** Route future and already registered masks to `mask`. */
  setMask(mask: MaskFn): void {
    this.mask = mask
    for (const form of this.forms) mask(form)
  }

  /**
   * Register a secret. `user` adds the `user:secret` base64 pair (HTTP Basic,
   * docker auth files). Empty and very short values are ignored.
   */
  add(value: string | undefined, options: { user?: string } = {}): void {
    if (value === undefined || value.trim().length < MIN_SECRET_LENGTH) return
    this.originals.add(value)
    let added = false
    for (const form of deriveEncodings(value, options)) {
      if (this.forms.has(form)) continue
      this.forms.add(form)
      this.mask(form)
      added = true
    }
    if (added) this.sorted = [...this.forms].sort((a, b) => b.length - a.length)
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
}

/** The process-wide registry every module of an action uses. */
export const secrets = new SecretRegistry()
