/**
 * URLs a user gives an action, as they may be shown and as they may be used: an error
 * about a URL shows its scheme, host and path only (credentials hide outside userinfo
 * too, in `?access_token=`, in an scp-like `x:TOKEN@host:path`), and plain HTTP that
 * would carry credentials is refused unless the host is this machine or the user said
 * so (`insecure-http: true`, which warns). Pure.
 */
import { ConfigurationError } from './errors.js'

/**
 * `value` cut to what an error may show: `scheme://host[:port]/path` for a URL (no
 * userinfo, query or fragment, even when it does not parse), `host:path` for an
 * scp-like address (`user@host:path`), and anything else without `?`/`#` parts or a
 * `...@` prefix.
 */
export function shownUrl(value: string): string {
  const text = value.trim()
  const cutQuery = (s: string): string => {
    const at = s.search(/[?#]/)
    return at < 0 ? s : s.slice(0, at)
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text)
  if (scheme) {
    const rest = text.slice(scheme[0].length)
    const end = rest.search(/[/?#]/)
    let authority = end < 0 ? rest : rest.slice(0, end)
    const at = authority.lastIndexOf('@')
    if (at >= 0) authority = authority.slice(at + 1)
    return `${scheme[1]!.toLowerCase()}://${authority}${cutQuery(end < 0 ? '' : rest.slice(end))}`
  }
  // scp-like `[user@]host:path`, or a bare word: drop whatever precedes an `@` in the
  // part before the first `/` (the user, or `user:token`).
  const slash = text.indexOf('/')
  const head = slash < 0 ? text : text.slice(0, slash)
  const at = head.lastIndexOf('@')
  return cutQuery(at < 0 ? text : text.slice(at + 1))
}

/** Whether a URL host names this machine: `localhost`, 127.0.0.0/8 or ::1. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '')
    .toLowerCase()
  if (host === 'localhost' || host.endsWith('.localhost')) return true
  if (host === '::1' || host === '0:0:0:0:0:0:0:1') return true
  const v4 = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host)
  return v4 !== null && v4.slice(1).every(n => Number(n) <= 255)
}

/**
 * Refuse (ConfigurationError naming `input`) an `http://` URL whose host is not this
 * machine: the credentials sent with it, and what comes back, cross the network in the
 * clear. With `insecureHttp` it is accepted: the warning to log is returned. `what`
 * says what would travel in the clear (e.g. "the token"). Undefined: nothing to say.
 */
export function checkCleartext(
  input: string,
  url: URL,
  insecureHttp: boolean,
  what: string
): string | undefined {
  if (url.protocol !== 'http:' || isLoopbackHost(url.hostname)) return undefined
  const shown = shownUrl(url.href)
  if (!insecureHttp) {
    throw new ConfigurationError(
      `input "${input}": got ${JSON.stringify(shown)}, plain HTTP to another machine: ${what} would cross the network in clear text; use https://, or set input "insecure-http" to true for a network you trust (http:// to localhost or 127.0.0.1 is always allowed)`
    )
  }
  return `input "insecure-http" is true: ${input} ${shown} is plain HTTP, so ${what} and everything exchanged can be read and changed on the way; use https:// outside a trusted network`
}
