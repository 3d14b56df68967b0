/**
 * Durations as every duration input of the toolkit accepts them: plain seconds
 * (`300`, `1.5`) or Go-style units (`90s`, `5m`, `1h30m`, `250ms`).
 */

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/** Parse a duration to milliseconds, or undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  const s = text.trim()
  if (s === '') return undefined
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000)
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/gy
  let total = 0
  let matched = 0
  for (let m = re.exec(s); m !== null; m = re.exec(s)) {
    total += Number(m[1]) * (UNITS[m[2] ?? 's'] ?? 0)
    matched = re.lastIndex
  }
  if (matched !== s.length || matched === 0) return undefined
  return Math.round(total)
}

/** Format milliseconds for people: `850ms`, `12.3s`, `4m05s`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`
  const minutes = Math.floor(ms / 60_000)
  const seconds = Math.round((ms % 60_000) / 1000)
  if (minutes < 60) return `${minutes}m${String(seconds).padStart(2, '0')}s`
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`
}
