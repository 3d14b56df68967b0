/**
 * The external images a Dockerfile builds on (`FROM`, `COPY --from=<image>`), with
 * `ARG` defaults and build args substituted, stage names and `scratch` left out; and
 * the resolution of each to a digest, so that a new base image changes the content
 * hash of the build inputs.
 */
import { parseImageRef } from '../model/image-ref.js'
import type { Logger } from '../core/logger.js'
import type { RegistryLogin } from './distribution.js'
import { RegistryAuthError, RegistryClient } from './registry.js'

/** Join continuation lines and drop comments. */
function instructions(text: string): string[] {
  const out: string[] = []
  let cur = ''
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/\s+$/, '')
    if (cur === '' && /^\s*#/.test(line)) continue
    if (line.endsWith('\\')) {
      cur += line.slice(0, -1) + ' '
      continue
    }
    cur += line
    if (cur.trim() !== '') out.push(cur.trim())
    cur = ''
  }
  if (cur.trim() !== '') out.push(cur.trim())
  return out
}

function substitute(text: string, vars: ReadonlyMap<string, string>): string {
  return text.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?([-+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (_m, braced: string | undefined, op: string | undefined, word: string | undefined, bare) => {
      const name = (braced ?? bare) as string
      const value = vars.get(name)
      if (op === '-') return value !== undefined && value !== '' ? value : (word ?? '')
      if (op === '+') return value !== undefined && value !== '' ? (word ?? '') : ''
      return value ?? ''
    }
  )
}

/**
 * The external image references of a Dockerfile, in order, without duplicates.
 * `buildArgs` override `ARG` defaults declared before the first `FROM`.
 */
export function baseImages(
  dockerfile: string,
  buildArgs: ReadonlyMap<string, string> | Record<string, string> = new Map()
): string[] {
  const args = buildArgs instanceof Map ? buildArgs : new Map(Object.entries(buildArgs))
  const globals = new Map<string, string>()
  const stages = new Set<string>()
  const out: string[] = []
  const add = (ref: string): void => {
    const r = ref.trim()
    if (r === '' || r.toLowerCase() === 'scratch' || stages.has(r.toLowerCase())) return
    if (!out.includes(r)) out.push(r)
  }
  let seenFrom = false
  for (const ins of instructions(dockerfile)) {
    const m = /^([A-Za-z]+)\s+(.*)$/s.exec(ins)
    if (!m) continue
    const keyword = m[1]!.toUpperCase()
    const rest = m[2]!
    if (keyword === 'ARG' && !seenFrom) {
      for (const decl of rest.split(/\s+/)) {
        const at = decl.indexOf('=')
        const name = at >= 0 ? decl.slice(0, at) : decl
        const def = at >= 0 ? decl.slice(at + 1).replace(/^"(.*)"$/, '$1') : undefined
        const value = args.get(name) ?? def
        if (value !== undefined) globals.set(name, value)
      }
    } else if (keyword === 'FROM') {
      seenFrom = true
      const words = rest.split(/\s+/).filter(w => !w.startsWith('--'))
      const image = substitute(words[0] ?? '', globals)
      add(image)
      if (words[1]?.toUpperCase() === 'AS' && words[2]) stages.add(words[2].toLowerCase())
    } else if (keyword === 'COPY' || keyword === 'ADD') {
      const from = /--from=(\S+)/.exec(rest)?.[1]
      if (from && !/^\d+$/.test(from)) add(substitute(from, globals))
    }
  }
  return out
}

/** Where a base image could not be resolved, and why. */
export interface BaseResolution {
  resolved: { ref: string; digest: string }[]
  unresolved: { ref: string; reason: string }[]
}

/**
 * Resolve each base image to a digest: the digest written in the reference, else the
 * registry's answer (our own registry with its credentials, others anonymously),
 * else `local(ref)` (the backend's local image store).
 */
export async function resolveBaseDigests(
  refs: readonly string[],
  own: RegistryLogin,
  options: {
    logger?: Logger
    local?: (ref: string) => Promise<string | undefined>
    timeoutMs?: number
    /** Clients to use (and not close) for some registries. */
    clients?: ReadonlyMap<string, RegistryClient>
  } = {}
): Promise<BaseResolution> {
  const result: BaseResolution = { resolved: [], unresolved: [] }
  const clients = new Map<string, RegistryClient>()
  try {
    for (const ref of refs) {
      let parsed
      try {
        parsed = parseImageRef(ref)
      } catch (error) {
        result.unresolved.push({ ref, reason: (error as Error).message })
        continue
      }
      if (parsed.digest) {
        result.resolved.push({ ref, digest: parsed.digest })
        continue
      }
      const registry = parsed.registry ?? 'docker.io'
      const repository =
        !parsed.registry && !parsed.repository.includes('/')
          ? `library/${parsed.repository}`
          : parsed.repository
      let reason = ''
      if (registry !== 'localhost') {
        let client = options.clients?.get(registry) ?? clients.get(registry)
        if (!client) {
          client = new RegistryClient({
            ...(registry === own.registry ? own : { registry }),
            retries: 1,
            timeoutMs: options.timeoutMs ?? 10_000,
            logger: options.logger
          })
          clients.set(registry, client)
        }
        try {
          // undici closes the connection after a HEAD: on our own registry, whose
          // connection the calls that follow reuse, a GET (a manifest is a few KB) is
          // cheaper. Elsewhere a HEAD, which Docker Hub does not count as a pull.
          const reference = parsed.tag ?? 'latest'
          const info =
            registry === own.registry
              ? await client.getManifest(repository, reference)
              : await client.headManifest(repository, reference)
          if (info) {
            result.resolved.push({ ref, digest: info.digest })
            continue
          }
          reason = 'not found in the registry'
        } catch (error) {
          // Our own registry refusing the login is fatal, not a base image to skip.
          if (error instanceof RegistryAuthError && registry === own.registry) throw error
          reason = (error as Error).message
        }
      } else {
        reason = 'a local image'
      }
      const local = await options.local?.(ref).catch(() => undefined)
      if (local) result.resolved.push({ ref, digest: local })
      else result.unresolved.push({ ref, reason })
    }
  } finally {
    await Promise.all([...clients.values()].map(c => c.close()))
  }
  return result
}
