/**
 * How plan talks to origin, decided purely: whether a fetch sends the `token` input
 * (and to which server), what a failed fetch's stderr means (a ref origin does not
 * have, or a failure to authenticate or to reach it), the error that says so, and
 * which names may go into a refspec.
 */
import { ConfigurationError, quote } from '../core/errors.js'
import { secrets } from '../core/secrets.js'
import { shownUrl } from '../core/urls.js'

/** Why a fetch (or ls-remote) from origin failed. */
export type FetchFailure = 'missing' | 'auth' | 'network' | 'other'

/**
 * What git's stderr says about a failed fetch: a ref or commit origin does not have
 * (`missing`, the one failure a plan may answer by choosing another base), or a failure
 * to authenticate, to reach origin, or anything else. Pure.
 */
export function fetchFailure(stderr: string, timedOut = false): FetchFailure {
  if (timedOut) return 'network'
  if (/not our ref|couldn't find remote ref|unadvertised object|no such remote ref/i.test(stderr))
    return 'missing'
  if (
    /could not read (?:Username|Password)|terminal prompts disabled|Authentication failed|Access denied|returned error: 40[13]|Permission denied|correct access rights|Repository not found|Invalid username or password/i.test(
      stderr
    )
  )
    return 'auth'
  if (
    /unable to access|Failed to connect|Could not resolve|Connection (?:refused|reset|timed out)|timed out|Operation too slow|early EOF|RPC failed|hung up|SSL|TLS|gnutls|Network is unreachable/i.test(
      stderr
    )
  )
    return 'network'
  return 'other'
}

/** The last line of git's stderr as it may be shown: URLs cut to scheme, host and path. */
export function gitSaid(stderr: string): string {
  const line =
    stderr
      .split(/\r?\n/)
      .map(l => l.trim())
      .filter(Boolean)
      .pop() ?? ''
  return quote(
    secrets.redact(line.replace(/[a-z][a-z0-9+.-]*:\/\/[^\s'"]+/gi, u => shownUrl(u))),
    300
  )
}

/**
 * The error for a fetch from origin that failed for another reason than a missing ref.
 * An authentication failure is the user's to fix (ConfigurationError); so is the rest,
 * as far as they can: the message says what to try.
 */
export function fetchError(
  what: string,
  failure: Exclude<FetchFailure, 'missing'>,
  stderr: string,
  origin: string
): Error {
  const why =
    failure === 'auth'
      ? 'origin refused the credentials, or asked for some and got none'
      : failure === 'network'
        ? 'origin could not be reached, or the transfer broke off'
        : 'git failed'
  const fix =
    failure === 'auth'
      ? 'give plan input "token" (its default is ${{ github.token }}: a checkout with persist-credentials: false leaves no credentials, and plan then sends the token as an HTTP header), or check out with fetch-depth: 0 so that nothing needs fetching'
      : failure === 'network'
        ? 'retry the job; if it persists, check the network path to origin'
        : "see git's message; check out with fetch-depth: 0 so that nothing needs fetching"
  const message = `${what} from origin ${shownUrl(origin)} failed: ${why} (git said ${gitSaid(stderr)}). plan needs that history to tell what changed, and does not answer "every service" for a fetch that failed: ${fix}`
  return failure === 'auth' ? new ConfigurationError(message) : new Error(message)
}

/**
 * Whether plan's fetches send the token, with the config key that scopes the header
 * to the GitHub server, and why (for the log). The token goes only to an http(s) origin
 * on the server the workflow runs on, and not when the checkout already configured its
 * own credentials (two Authorization headers would be refused). Pure.
 */
export function fetchAuth(
  origin: string | undefined,
  serverUrl: string,
  hasToken: boolean,
  configured: boolean
): { key?: string; why: string } {
  if (!hasToken) return { why: 'fetches from origin send no credentials (no input "token")' }
  if (configured)
    return {
      why: 'fetches from origin use the credentials the checkout configured (persist-credentials)'
    }
  let originUrl: URL
  let server: URL
  try {
    originUrl = new URL(origin ?? '')
    server = new URL(serverUrl)
  } catch {
    return {
      why: `input "token" is not sent: origin ${shownUrl(origin ?? '')} is not an http(s) URL`
    }
  }
  if (!/^https?:$/.test(originUrl.protocol))
    return {
      why: `input "token" is not sent: origin ${shownUrl(origin ?? '')} is not an http(s) URL`
    }
  if (originUrl.origin !== server.origin)
    return {
      why: `input "token" is not sent: origin ${originUrl.host} is not the GitHub server ${server.host}`
    }
  return {
    key: `http.${server.origin}/.extraheader`,
    why: `fetches from origin ${server.host} authenticate with input "token" (an HTTP header passed to git through its environment)`
  }
}

/**
 * Whether `name` can be a branch or tag name (what may go into a refspec): git's
 * check-ref-format rules, roughly; an expression such as `HEAD~3` cannot.
 */
export function isRefName(name: string): boolean {
  return (
    name !== '' &&
    name !== '@' &&
    // eslint-disable-next-line no-control-regex -- control characters are what is refused
    !/[\s\x00-\x1f\x7f~^:?*[\\]|\.\.|@\{|\/\/|^[/.-]|[/.]$|\.lock(?:\/|$)/.test(name)
  )
}
