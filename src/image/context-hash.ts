/**
 * The content hash of a service's build inputs, the key of build avoidance: the
 * context's files (git-tracked and untracked-but-not-ignored when the context is in a
 * git work tree, every file otherwise) minus what `.dockerignore` excludes, the
 * Dockerfile, build args, target, platforms, user labels and the digests of the base
 * images. Per-run labels (created, revision) are left out on purpose: they would
 * make every hash unique.
 */
import { createHash } from 'node:crypto'
import { lstatSync, readFileSync, readdirSync, readlinkSync, existsSync } from 'node:fs'
import { join, relative, sep } from 'node:path'
import picomatch from 'picomatch'
import { exec } from '../core/exec.js'

/** One `.dockerignore` rule. */
export interface IgnoreRule {
  pattern: string
  negate: boolean
  match: (path: string) => boolean
}

/** Parse `.dockerignore` text the way moby's patternmatcher reads it. */
export function parseDockerignore(text: string): IgnoreRule[] {
  const rules: IgnoreRule[] = []
  for (const raw of text.split(/\r?\n/)) {
    let line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    let negate = false
    if (line.startsWith('!')) {
      negate = true
      line = line.slice(1).trim()
    }
    // filepath.Clean, and a leading slash means the context root.
    line = line
      .replace(/\\/g, '/')
      .replace(/\/+/g, '/')
      .replace(/^(\.\/)+/, '')
      .replace(/^\/+/, '')
      .replace(/\/$/, '')
    if (line === '' || line === '.') continue
    const isMatch = picomatch(line, { dot: true, nobrace: true, noextglob: true })
    rules.push({ pattern: line, negate, match: isMatch })
  }
  return rules
}

/**
 * Whether a context-relative path is excluded: the last rule matching the path or
 * one of its parent directories decides (a `!` rule re-includes).
 */
export function isIgnored(path: string, rules: readonly IgnoreRule[]): boolean {
  const parts = path.split('/')
  const candidates: string[] = []
  for (let i = 1; i <= parts.length; i++) candidates.push(parts.slice(0, i).join('/'))
  let ignored = false
  for (const rule of rules) {
    if (candidates.some(c => rule.match(c))) ignored = !rule.negate
  }
  return ignored
}

function walk(root: string, dir: string, out: string[]): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === '.git' && dir === root) continue
    const full = join(dir, entry.name)
    if (entry.isDirectory()) walk(root, full, out)
    else out.push(relative(root, full).split(sep).join('/'))
  }
}

/** The context's candidate files: from git when it is a work tree, else a directory walk. */
export async function listContextFiles(
  context: string
): Promise<{ files: string[]; git: boolean }> {
  const res = await exec(
    'git',
    ['ls-files', '-z', '--cached', '--others', '--exclude-standard', '--', '.'],
    {
      cwd: context,
      allowFailure: true,
      env: { ...process.env, LC_ALL: 'C', GIT_TERMINAL_PROMPT: '0' }
    }
  ).catch(() => undefined)
  if (res && res.code === 0) {
    const files = [...new Set(res.stdout.split('\0').filter(f => f !== ''))]
    // Tracked files deleted in the work tree are not part of the context.
    return { files: files.filter(f => existsSync(join(context, f))), git: true }
  }
  const files: string[] = []
  walk(context, context, files)
  return { files, git: false }
}

/** The files of a context that the builder sees, sorted, honouring `.dockerignore`. */
export async function contextFiles(context: string): Promise<{ files: string[]; git: boolean }> {
  const listed = await listContextFiles(context)
  const ignoreFile = join(context, '.dockerignore')
  const rules = existsSync(ignoreFile) ? parseDockerignore(readFileSync(ignoreFile, 'utf8')) : []
  const files = listed.files
    .filter(f => !isIgnored(f, rules))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  return { files, git: listed.git }
}

/** Everything the hash covers besides the context files. */
export interface HashInputs {
  dockerfileContent: string | Buffer
  buildArgs: ReadonlyMap<string, string> | Record<string, string>
  target?: string
  platforms: readonly string[]
  /** User labels (not the per-run ones). */
  labels?: ReadonlyMap<string, string>
  /**
   * Base image reference → digest, in Dockerfile order; a promise lets the lookup run
   * while the context's files are read and hashed.
   */
  baseDigests:
    readonly { ref: string; digest: string }[] | Promise<readonly { ref: string; digest: string }[]>
  /** The context's files (`contextFiles`), when their listing was started earlier. */
  files?: Promise<{ files: string[]; git: boolean }>
}

/** The hash of a context directory's files plus the other inputs. Returns hex and the file count. */
export async function hashBuildInputs(
  context: string,
  inputs: HashInputs
): Promise<{ hash: string; files: number; bytes: number; git: boolean }> {
  const { files, git } = await (inputs.files ?? contextFiles(context))
  // The files first (the slow part), then every line in its fixed order.
  const fileLines: string[][] = []
  let bytes = 0
  for (const file of files) {
    const full = join(context, file)
    const st = lstatSync(full)
    if (st.isSymbolicLink()) {
      fileLines.push(['link', file, readlinkSync(full)])
    } else if (st.isFile()) {
      const content = readFileSync(full)
      bytes += content.length
      const mode = st.mode & 0o111 ? 'x' : '-'
      fileLines.push(['file', file, mode, createHash('sha256').update(content).digest('hex')])
    }
  }
  const baseDigests = await inputs.baseDigests
  const h = createHash('sha256')
  const line = (...parts: string[]): void => {
    h.update(parts.join('\0'))
    h.update('\n')
  }
  line('conveyor-build-inputs', 'v1')
  line('dockerfile', createHash('sha256').update(inputs.dockerfileContent).digest('hex'))
  line('target', inputs.target ?? '')
  line('platforms', [...inputs.platforms].sort().join(','))
  const args =
    inputs.buildArgs instanceof Map ? [...inputs.buildArgs] : Object.entries(inputs.buildArgs)
  for (const [k, v] of args.sort(([a], [b]) => (a < b ? -1 : 1))) line('arg', k, v)
  for (const [k, v] of [...(inputs.labels ?? new Map<string, string>())].sort(([a], [b]) =>
    a < b ? -1 : 1
  )) {
    line('label', k, v)
  }
  for (const b of baseDigests) line('base', b.ref, b.digest)
  for (const l of fileLines) line(...l)
  return { hash: h.digest('hex'), files: files.length, bytes, git }
}

/** The tag that stands for a content hash: `ctx-<64 hex>` (build avoidance looks it up). */
export function contextTag(hash: string): string {
  return `ctx-${hash.replace(/^sha256:/, '')}`
}
