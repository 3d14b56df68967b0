/**
 * The standard proxy variables (HTTPS_PROXY, HTTP_PROXY, NO_PROXY, and their lower-case
 * forms), read the way the runner and common HTTP clients read them. Pure given the environment.
 */
/** Whether `url`'s host is excluded from proxying by a NO_PROXY value. */
export function bypassesProxy(url: URL, noProxy: string | undefined): boolean {
  if (!noProxy) return false
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase()
  const port = url.port || (url.protocol === 'https:' ? '443' : '80')
  for (const raw of noProxy.split(/[,\s]+/)) {
    const entry = raw.trim().toLowerCase()
    if (entry === '') continue
    if (entry === '*') return true
    // `[::1]:5000`, a bare IPv6 address (`::1`, no port possible), or `host[:port]`
    const [name, entryPort] = entry.startsWith('[')
      ? [entry.replace(/\]:?.*$/, '').slice(1), entry.match(/\]:(\d+)$/)?.[1]]
      : (entry.match(/:/g) ?? []).length > 1
        ? [entry, undefined]
        : entry.split(':')
    if (entryPort && entryPort !== port) continue
    const bare = (name ?? '').replace(/^\*?\./, '')
    if (host === bare || host.endsWith(`.${bare}`)) return true
  }
  return false
}

/** The proxy URL for a request URL, from the standard variables, or undefined. */
export function proxyFor(url: URL, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const noProxy = env.NO_PROXY ?? env.no_proxy
  if (bypassesProxy(url, noProxy)) return undefined
  const value =
    url.protocol === 'https:'
      ? (env.HTTPS_PROXY ?? env.https_proxy ?? env.HTTP_PROXY ?? env.http_proxy)
      : (env.HTTP_PROXY ?? env.http_proxy)
  return value && value.trim() !== '' ? value.trim() : undefined
}
