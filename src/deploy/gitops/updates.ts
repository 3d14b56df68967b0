/**
 * What `deploy` writes and where: the `targets` lines (`kustomize:<dir>`,
 * `manifests:<glob>`, `helm:<file>:<key>[=<name>]`), the `images` lines
 * (`name=reference`) and the build result files, turned into image updates. Pure.
 */
import { posix } from 'node:path'
import type { BuildResult } from '../../model/build-result.js'
import { ConfigurationError, invalidInput } from '../../core/errors.js'
import { formatImageRef, parseImageRef, type ImageRef } from '../../model/image-ref.js'
import type { Service } from '../../model/services/config.js'

/** One place to write image references. */
export type Target =
  | { kind: 'kustomize'; dir: string }
  | { kind: 'manifests'; glob: string }
  | { kind: 'helm'; file: string; key: string; name?: string }

/** Where an update's source commit came from, for trailers and the monotonic guard. */
export interface SourceInfo {
  repository: string
  sha: string
  /** ISO time of the source commit (or of the build when the commit time is unknown). */
  time?: string
  runUrl?: string
}

/** One image to deploy. */
export interface ImageUpdate {
  /** The service name, or the image name when no service is known. */
  service: string
  /**
   * Names that identify the image in targets, the name a new kustomize `images:` entry
   * takes first (the image name as the resources write it, as in `kustomize edit set
   * image <name>=<ref>`), then the service name and the new reference's name.
   */
  names: string[]
  /** The new reference, as written. */
  ref: string
  parsed: ImageRef
  source?: SourceInfo
  /** Targets from the services file; empty means the `targets` input applies. */
  targets: Target[]
}

/** A repo-relative path that stays inside the repository, or undefined. */
export function safeRelPath(value: string): string | undefined {
  const norm = posix.normalize(value.replace(/^\.\/+/, '').replace(/\/+$/, '') || '.')
  if (norm.startsWith('/') || norm === '..' || norm.startsWith('../') || norm.includes('\0')) {
    return undefined
  }
  return norm
}

/** A target as its `targets` line writes it. */
export function targetLabel(t: Target): string {
  if (t.kind === 'kustomize') return `kustomize:${t.dir}`
  if (t.kind === 'manifests') return `manifests:${t.glob}`
  return `helm:${t.file}:${t.key}${t.name ? `=${t.name}` : ''}`
}

/** Parse one `targets` line; `input` names the input in errors. */
export function parseTarget(line: string, input = 'targets'): Target {
  const colon = line.indexOf(':')
  const kind = colon > 0 ? line.slice(0, colon).trim() : ''
  const rest = colon > 0 ? line.slice(colon + 1).trim() : ''
  const path = (p: string): string => {
    const s = safeRelPath(p)
    if (!s || p === '') throw invalidInput(input, line, 'a relative path inside the repository')
    return s
  }
  if (kind === 'kustomize' && rest !== '') return { kind, dir: path(rest) }
  if (kind === 'manifests' && rest !== '') {
    if (safeRelPath(rest) === undefined) {
      throw invalidInput(input, line, 'a glob relative to the repository')
    }
    return { kind, glob: rest.replace(/^\.\/+/, '') }
  }
  if (kind === 'helm') {
    const m = /^([^:]+):([A-Za-z0-9_.\-[\]]+)(?:=(\S+))?$/.exec(rest)
    if (m) {
      const key = m[2]!
      if (key.split('.').some(k => k === '')) {
        throw invalidInput(input, line, 'a dotted key such as image.tag')
      }
      return { kind, file: path(m[1]!), key, ...(m[3] ? { name: m[3] } : {}) }
    }
  }
  throw invalidInput(
    input,
    line,
    'kustomize:<dir>, manifests:<glob> or helm:<values file>:<dotted key>[=<image name>]'
  )
}

/** Targets of a service from its `deploy:` key in the services file. */
export function serviceTargets(service: Service): Target[] {
  const d = service.deploy
  if (!d) return []
  const where = `services file, service "${service.name}", deploy`
  const out: Target[] = []
  if (d.kustomize) out.push(parseTarget(`kustomize:${d.kustomize}`, `${where}.kustomize`))
  if (d.manifests) out.push(parseTarget(`manifests:${d.manifests}`, `${where}.manifests`))
  if (d.helmValues) {
    out.push(parseTarget(`helm:${d.helmValues}:${d.key ?? 'image.tag'}`, `${where}.helmValues`))
  }
  return out
}

/**
 * The longest `images` line: a name, `=`, and a reference (at most 255 characters of
 * name, 128 of tag and a sha512 digest), with room to spare.
 */
export const MAX_IMAGES_LINE = 1024

/**
 * `message` with every double-quoted string longer than `max` characters cut to a
 * prefix: for messages that quote what a user or a file supplied, in full.
 */
export function shortenQuotes(message: string, max = 60): string {
  return message.replace(/"(?:[^"\\]|\\.)*"/gs, q =>
    q.length > max + 2 ? `${q.slice(0, max + 1)}… (${q.length - 2} characters)"` : q
  )
}

/**
 * A parser message fit to append to an error that already quotes the value: without
 * the leading `image reference "<value>": `, every quoted string shortened, and the
 * whole bounded (the parser quotes the value and its parts in full).
 */
function reasonOf(message: string): string {
  return shortenQuotes(message.replace(/^image reference "(?:[^"\\]|\\.)*":? ?/s, '')).slice(0, 300)
}

function parseRef(input: string, line: string, ref: string): ImageRef {
  try {
    const parsed = parseImageRef(ref)
    if (!parsed.tag && !parsed.digest) throw new Error('it has neither a tag nor a digest')
    return parsed
  } catch (error) {
    const reason = reasonOf((error as Error).message)
    throw invalidInput(
      input,
      line,
      `name=reference with a reference such as app:1.2, app@sha256:... or both${reason ? ` (${reason})` : ''}`
    )
  }
}

/** Refuse an `images` line longer than MAX_IMAGES_LINE (the error shows a prefix). */
export function checkImagesLine(line: string): void {
  if (line.length > MAX_IMAGES_LINE) {
    throw invalidInput(
      'images',
      line,
      `name=reference lines of at most ${MAX_IMAGES_LINE} characters (image names have at most 255, tags 128)`
    )
  }
}

/** Parse the `images` lines into updates; services give names and targets. */
export function updatesFromImages(
  lines: readonly string[],
  services: readonly Service[],
  source: SourceInfo | undefined
): ImageUpdate[] {
  const out: ImageUpdate[] = []
  for (const line of lines) checkImagesLine(line)
  for (const line of lines) {
    const eq = line.indexOf('=')
    const name = eq > 0 ? line.slice(0, eq).trim() : ''
    const ref = eq > 0 ? line.slice(eq + 1).trim() : ''
    if (name === '' || ref === '') {
      throw invalidInput(
        'images',
        line,
        'lines of the form name=reference (cart=ghcr.io/acme/cart:1.2)'
      )
    }
    const parsed = parseRef('images', line, ref)
    if (out.some(u => u.service === name)) throw invalidInput('images', name, 'each name once')
    const service = services.find(s => s.name === name)
    out.push({
      service: name,
      // The name as the targets write it first: the line's name, or the service's image.
      names: [...new Set([...(service ? [service.image] : []), name, parsed.name])],
      ref,
      parsed,
      source,
      targets: service ? serviceTargets(service) : []
    })
  }
  return out
}

/** Updates from validated build results (one per leg). */
export function updatesFromResults(
  results: readonly BuildResult[],
  services: readonly Service[]
): ImageUpdate[] {
  const out: ImageUpdate[] = []
  for (const r of results) {
    if (out.some(u => u.service === r.service)) {
      throw new ConfigurationError(`build results: service "${r.service}" appears more than once`)
    }
    const tagRef = r.tags.map(t => safeParse(t)).find(t => t?.tag && t.name === r.image)
    const ref = formatImageRef({ name: r.image, tag: tagRef?.tag, digest: r.digest })
    const parsed = parseRef(`results (${r.service})`, ref, ref)
    const service = services.find(s => s.name === r.service)
    out.push({
      service: r.service,
      names: [...new Set([r.image, ...(service ? [service.image] : []), r.service])],
      ref,
      parsed,
      source: {
        repository: r.source.repository,
        sha: r.source.sha,
        time: r.createdAt,
        runUrl: r.source.runUrl
      },
      targets: service ? serviceTargets(service) : []
    })
  }
  return out
}

function safeParse(ref: string): ImageRef | undefined {
  try {
    return parseImageRef(ref)
  } catch {
    return undefined
  }
}
