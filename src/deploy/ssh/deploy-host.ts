/**
 * One SSH release deploy to one host: a new release directory filled over SFTP,
 * checksums verified remotely, `current` switched atomically, the script run under
 * strict mode with secrets on stdin only, rollback on failure, old releases pruned.
 * Never throws: the outcome is a HostResult.
 */
import { lstatSync, readdirSync, statSync } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import { confinedPath } from '../../core/confine.js'
import { ConfigurationError, errorMessage } from '../../core/errors.js'
import type { Logger } from '../../core/logger.js'
import { secrets } from '../../core/secrets.js'
import { mapLimit } from '../../core/pool.js'
import { SshError, SshSession, sha256File, type ExecResult } from './session.js'
import type { HostKeyPolicy, HostTarget } from './host-keys.js'
import {
  checksumManifest,
  checksumProblems,
  killProgram,
  linkProgram,
  releaseFromLink,
  releasesToPrune,
  remoteLayout,
  scriptProgram,
  shellQuote,
  switchProgram,
  unlinkProgram,
  verifyCommand
} from './release.js'

/** One file to upload. */
export interface LocalFile {
  /** Path inside the release, `/`-separated. */
  path: string
  /** Absolute local path. */
  local: string
  mode: number
  size: number
  sha256: string
}

/** What to upload: directories (parents first) and files. */
export interface LocalTree {
  dirs: string[]
  files: LocalFile[]
  /** Entries not uploaded (symlinks, sockets...), for a warning. */
  skipped: string[]
  bytes: number
}

/**
 * Check that every source exists inside the workspace, symlinks resolved (no side
 * effect); throws a ConfigurationError naming the input and the path. Returns the
 * absolute paths.
 */
export function resolveSources(workspace: string, sources: string[], input = 'source'): string[] {
  const root = resolve(workspace)
  return sources.map(s => {
    confinedPath(root, s, { input: `input "${input}":` })
    const abs = resolve(root, s)
    const st = statSync(abs, { throwIfNoEntry: false })
    if (!st) {
      throw new ConfigurationError(
        `input "${input}": ${JSON.stringify(s)} does not exist in ${root}`
      )
    }
    if (!st.isFile() && !st.isDirectory()) {
      throw new ConfigurationError(
        `input "${input}": ${JSON.stringify(s)} is not a file or directory`
      )
    }
    return abs
  })
}

/**
 * Walk the sources: a directory's contents go to the release root, a file goes there
 * under its base name. Computes each file's sha256.
 */
export async function collectSources(sources: string[]): Promise<LocalTree> {
  const dirs = new Set<string>()
  const files = new Map<string, Omit<LocalFile, 'sha256'>>()
  const skipped: string[] = []
  const addFile = (path: string, local: string): void => {
    if (/[\n\\]/.test(path)) {
      throw new ConfigurationError(
        `input "source": file name ${JSON.stringify(path)} holds a newline or backslash, which cannot be checksummed safely`
      )
    }
    const st = statSync(local)
    files.set(path, { path, local, mode: st.mode & 0o777, size: st.size })
  }
  const walk = (dir: string, prefix: string): void => {
    for (const entry of readdirSync(dir).sort()) {
      const local = join(dir, entry)
      const path = prefix ? `${prefix}/${entry}` : entry
      const st = lstatSync(local)
      if (st.isDirectory()) {
        dirs.add(path)
        walk(local, path)
      } else if (st.isFile()) {
        addFile(path, local)
      } else {
        skipped.push(path)
      }
    }
  }
  for (const source of sources) {
    if (statSync(source).isDirectory()) walk(source, '')
    else addFile(basename(source), source)
  }
  const list = [...files.values()]
  const hashed = await mapLimit(list, 4, async f => ({ ...f, sha256: await sha256File(f.local) }))
  return {
    dirs: [...dirs].sort((a, b) => a.split('/').length - b.split('/').length || (a < b ? -1 : 1)),
    files: hashed,
    skipped,
    bytes: hashed.reduce((n, f) => n + f.size, 0)
  }
}

/** Outcome for one host. */
export interface HostResult {
  host: string
  port: number
  status: 'deployed' | 'rolled-back' | 'failed' | 'cancelled' | 'skipped'
  release: string
  previous?: string
  /** Type and SHA256 fingerprint of the host key that was verified. */
  hostKey?: string
  files: number
  bytes: number
  /** Exit code of the script, when it ran. */
  exitCode?: number | null
  pruned: string[]
  durationMs: number
  /** What went wrong (redacted). */
  error?: string
  /** Last lines of the script's output on failure (redacted). */
  tail?: string[]
}

/** Everything one host deploy needs. */
export interface HostDeployOptions {
  target: HostTarget
  username: string
  privateKey: string
  passphrase?: string
  policy: HostKeyPolicy
  /** Remote base directory. */
  base: string
  release: string
  tree: LocalTree
  script?: string
  /** Environment for the script (secret values: sent over stdin only). */
  env: Record<string, string>
  keep: number
  timeoutMs: number
  log: Logger
  /** Aborted when another host failed and fail-fast is on. */
  signal?: AbortSignal
}

class Cancelled extends Error {}

/** Time allowed for a rollback or cleanup command after the deploy timeout ran out. */
const CLEANUP_TIMEOUT_MS = 30_000

/** Deploy one release to one host. */
export async function deployHost(o: HostDeployOptions): Promise<HostResult> {
  const started = Date.now()
  const deadline = started + o.timeoutMs
  const name = o.target.host.includes(':')
    ? `[${o.target.host}]:${o.target.port}`
    : `${o.target.host}:${o.target.port}`
  const layout = remoteLayout(o.base, o.release)
  const result: HostResult = {
    host: o.target.host,
    port: o.target.port,
    status: 'failed',
    release: o.release,
    files: o.tree.files.length,
    bytes: o.tree.bytes,
    pruned: [],
    durationMs: 0
  }
  let phase = 'connect'
  /** Time left for the next operation; throws once the host's timeout ran out. */
  const remaining = (): number => {
    const left = deadline - Date.now()
    if (left <= 0) {
      throw new SshError(
        'timeout',
        `${name}: timed out after ${Math.round(o.timeoutMs / 1000)}s during ${phase}`
      )
    }
    return left
  }
  let session: SshSession | undefined
  let created = false
  let switched = false
  let pidFile: string | undefined
  let previousLink: string | undefined
  let hardTimedOut = false
  // The backstop: every operation below is bounded, this ends whatever was not.
  const hardTimer = setTimeout(
    () => {
      hardTimedOut = true
      session?.destroy(`timed out after ${Math.round(o.timeoutMs / 1000)}s`)
    },
    o.timeoutMs + 2 * CLEANUP_TIMEOUT_MS
  )
  const checkCancel = (): void => {
    if (o.signal?.aborted) throw new Cancelled('cancelled: another host failed (fail-fast)')
  }
  const run = async (
    command: string,
    what: string,
    stdin?: string,
    timeoutMs = remaining()
  ): Promise<string> => {
    const r = await session!.exec(command, { stdin, timeoutMs })
    if (r.code !== 0) {
      const detail = `${r.stdout}\n${r.stderr}`.trim().split('\n').slice(-5).join(' / ')
      throw new Error(`${what} failed (exit ${r.code ?? r.signal}): ${secrets.redact(detail)}`)
    }
    return r.stdout
  }
  try {
    checkCancel()
    session = await SshSession.connect({
      host: o.target.host,
      port: o.target.port,
      username: o.username,
      privateKey: o.privateKey,
      passphrase: o.passphrase,
      policy: o.policy,
      readyTimeoutMs: Math.min(remaining(), 30_000),
      log: o.log,
      signal: o.signal
    })
    result.hostKey = session.hostKeyFingerprint
    o.log.info(`${name}: connected as ${o.username} (host key ${session.hostKeyFingerprint})`)
    checkCancel()

    phase = 'prepare'
    previousLink = await session.readlink(layout.current, { timeoutMs: remaining() })
    result.previous = previousLink !== undefined ? releaseFromLink(previousLink) : undefined
    await run(
      `mkdir -p -- ${shellQuote(layout.releasesDir)} && mkdir -- ${shellQuote(layout.releaseDir)}`,
      `creating ${layout.releaseDir}`
    )
    created = true

    phase = 'upload'
    for (const dir of o.tree.dirs) {
      await session.mkdir(`${layout.releaseDir}/${dir}`, 0o755, { timeoutMs: remaining() })
    }
    await mapLimit(o.tree.files, 16, async f => {
      await session!.put(f.local, `${layout.releaseDir}/${f.path}`, f.mode, {
        timeoutMs: remaining()
      })
    })
    o.log.info(`${name}: uploaded ${o.tree.files.length} file(s), ${o.tree.bytes} bytes`)

    phase = 'verify'
    if (o.tree.files.length > 0) {
      const r = await session.exec(verifyCommand(layout), {
        stdin: checksumManifest(o.tree.files),
        timeoutMs: remaining(),
        tailLines: 0
      })
      if (r.code !== 0) {
        const problems = checksumProblems(`${r.stdout}\n${r.stderr}`)
        throw new Error(
          `checksum verification failed (exit ${r.code ?? r.signal}): ${secrets.redact(
            problems.slice(0, 5).join(' / ')
          )}${problems.length > 5 ? ` (and ${problems.length - 5} more)` : ''}`
        )
      }
      o.log.info(`${name}: sha256 of ${o.tree.files.length} file(s) verified on the host`)
    }
    checkCancel()

    phase = 'switch'
    await run(switchProgram(layout, o.release), `switching ${layout.current}`)
    switched = true
    o.log.info(`${name}: ${layout.current} -> releases/${o.release}`)

    if (o.script !== undefined && o.script.trim() !== '') {
      phase = 'script'
      pidFile = `${layout.target}/.conveyor-${o.release}.pid`
      const program = scriptProgram(layout, o.script, o.env, result.previous, pidFile)
      const timeoutMs = remaining()
      let r: ExecResult
      try {
        r = await session.exec('bash -s', {
          stdin: program,
          timeoutMs,
          onLine: (line, stream) =>
            o.log.info(secrets.redact(`[${name}${stream === 'stderr' ? ' err' : ''}] ${line}`))
        })
      } catch (error) {
        if (error instanceof SshError && error.kind === 'timeout') {
          await session
            .exec(killProgram(pidFile), { timeoutMs: CLEANUP_TIMEOUT_MS })
            .catch(() => undefined)
          pidFile = undefined
          o.log.warning(`${name}: the script timed out and was killed`)
          throw new Error(
            `the script was killed: the deploy timeout of ${Math.round(o.timeoutMs / 1000)}s for this host ran out`
          )
        }
        throw error
      }
      result.exitCode = r.code
      if (r.code !== 0) {
        result.tail = r.tail
        throw new Error(
          `the script ${
            r.code !== null
              ? `exited with code ${r.code}`
              : r.signal
                ? `was killed by signal ${r.signal}`
                : 'ended without an exit status (connection lost?)'
          }; last lines:\n${r.tail.join('\n')}`
        )
      }
    }

    phase = 'prune'
    try {
      const names = await session.readdir(layout.releasesDir, { timeoutMs: remaining() })
      const prune = releasesToPrune(names, o.keep, o.release, [o.release])
      const remove = [
        ...(pidFile ? [pidFile] : []),
        ...prune.map(p => `${layout.releasesDir}/${p}`)
      ]
      pidFile = undefined
      if (remove.length > 0) {
        await run(`rm -rf -- ${remove.map(shellQuote).join(' ')}`, 'pruning old releases')
      }
      if (prune.length > 0) {
        result.pruned = prune
        o.log.info(`${name}: pruned ${prune.length} old release(s): ${prune.join(', ')}`)
      }
    } catch (error) {
      o.log.warning(`${name}: could not prune old releases: ${errorMessage(error)}`)
    }
    result.status = 'deployed'
  } catch (error) {
    const message = hardTimedOut
      ? `timed out after ${Math.round(o.timeoutMs / 1000)}s during ${phase}`
      : errorMessage(error)
    result.error = secrets.redact(message)
    const cancelled =
      error instanceof Cancelled || (error instanceof SshError && error.kind === 'cancelled')
    result.status = cancelled ? 'cancelled' : 'failed'
    if (switched && session && !hardTimedOut) {
      try {
        const cleanup = pidFile ? `rm -f -- ${shellQuote(pidFile)}\n` : ''
        if (previousLink !== undefined) {
          const program = linkProgram(layout, previousLink) + cleanup
          await run(program, 'rollback', undefined, CLEANUP_TIMEOUT_MS)
          o.log.warning(`${name}: rolled back ${layout.current} to ${previousLink}`)
        } else {
          await run(unlinkProgram(layout) + cleanup, 'rollback', undefined, CLEANUP_TIMEOUT_MS)
          o.log.warning(`${name}: removed ${layout.current} (there was no previous release)`)
        }
        result.status = 'rolled-back'
      } catch (rollbackError) {
        result.error += `; ROLLBACK FAILED: ${secrets.redact(errorMessage(rollbackError))}`
      }
    }
    if (created && session && !hardTimedOut && (result.status !== 'failed' || !switched)) {
      try {
        const program = `rm -rf -- ${shellQuote(layout.releaseDir)}`
        await run(program, 'removing the failed release', undefined, CLEANUP_TIMEOUT_MS)
      } catch {
        // best effort; the next prune removes it
      }
    }
  } finally {
    clearTimeout(hardTimer)
    session?.close()
    result.durationMs = Date.now() - started
  }
  return result
}
