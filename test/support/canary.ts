/**
 * Canary secrets and the encodings we search for them in. Written independently of
 * src/core/secrets.ts so that a bug there cannot hide a leak here.
 */
import { randomBytes } from 'node:crypto'

/** A fresh canary value: recognisable, random, long enough to be masked. */
export function canary(label = 'CANARY'): string {
  return `${label}-${randomBytes(12).toString('hex')}`
}

/** Encoding name → encoded form(s) of `secret`. */
export function encodingsOf(secret: string, user?: string): Record<string, string[]> {
  const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64')
  // For each alignment, encode with a prefix of 0..2 bytes and keep the characters
  // that only the secret's bytes determine.
  const aligned = (s: string): string[] => {
    const forms: string[] = []
    for (const prefix of ['', 'x', 'xy']) {
      const full = b64(prefix + s)
      const skip = Math.ceil((prefix.length * 4) / 3)
      const keep = Math.floor(((prefix.length + Buffer.byteLength(s)) * 4) / 3)
      forms.push(full.slice(skip, keep))
    }
    return forms
  }
  const out: Record<string, string[]> = {
    plain: [secret],
    base64: aligned(secret),
    'double-base64': [b64(b64(secret)), ...aligned(b64(secret))],
    url: [encodeURIComponent(secret)],
    'json-escaped': [JSON.stringify(secret).slice(1, -1)],
    hex: [Buffer.from(secret).toString('hex'), Buffer.from(secret).toString('hex').toUpperCase()]
  }
  if (user !== undefined) out['user:secret-base64'] = aligned(`${user}:${secret}`)
  for (const key of Object.keys(out)) out[key] = out[key]!.filter(f => f.length >= 4)
  return out
}

/** One place a canary was found. */
export interface Leak {
  channel: string
  encoding: string
}

/** Search every channel for every encoding of every canary. */
export function findLeaks(
  channels: Record<string, string>,
  canaries: { value: string; user?: string }[]
): Leak[] {
  const leaks: Leak[] = []
  for (const c of canaries) {
    const forms = encodingsOf(c.value, c.user)
    for (const [channel, text] of Object.entries(channels)) {
      for (const [encoding, list] of Object.entries(forms)) {
        if (list.some(f => text.includes(f))) leaks.push({ channel, encoding })
      }
    }
  }
  return leaks
}
