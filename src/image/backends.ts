/**
 * The image builders behind one interface: `docker buildx build`, plain `docker build`
 * (BuildKit when the buildx plugin is there, the classic builder otherwise) and
 * `buildah bud`. Each command line is built by a pure function in backend-argv.ts
 * (unit-tested); this file runs them, reads their logs and detects what is installed.
 * Credentials reach every builder through a 0600 auth file (see auth-dir.ts),
 * never argv.
 */
import { withPushRetry, type AttemptFailure, type PushRetryPolicy } from './push-retry.js'
import { exec, ExecError, lastLines } from '../core/exec.js'
import { ConfigurationError } from '../core/errors.js'
import type { Logger } from '../core/logger.js'
import {
  buildahBudArgv,
  buildahPushArgv,
  buildxArgv,
  dockerArgv,
  dockerPushArgv,
  type BackendName,
  type BuildSpec
} from './backend-argv.js'

export * from './backend-argv.js'

/**
 * The failing step of a build log and the lines after it (at most `max`), for an
 * `::error::` annotation. Understands buildah (`STEP 2/3: RUN`), classic docker
 * (`Step 2/3 : RUN`) and BuildKit plain progress (`#7 [2/3] RUN`). A failure to push
 * the build cache (buildah's `--> Pushing cache <ref>` after a step, BuildKit's
 * `exporting cache`) is named as that, not as the step that had already succeeded.
 */
export function failingStep(log: string, max = 15): { step?: string; tail: string } {
  const lines = log.split(/\r?\n/).filter(l => l.trim() !== '')
  let at = -1
  for (let i = lines.length - 1; i >= 0; i--) {
    if (/^(STEP \d+\/\d+: |Step \d+\/\d+ : |#\d+ \[[^\]]*\d+\/\d+\] )/.test(lines[i]!)) {
      at = i
      break
    }
  }
  const after = lines.slice(at + 1)
  const cache = cachePushFailure(after)
  if (cache !== undefined) {
    const last = at >= 0 ? `, after ${lines[at]} had succeeded` : ''
    return {
      step: `the push of the build cache${cache}${last}`,
      tail: after.slice(-max).join('\n')
    }
  }
  if (at < 0) return { tail: lastLines(log, max) }
  return { step: lines[at], tail: after.slice(-max).join('\n') }
}

/**
 * Whether the lines after the last build step tell of a failed cache push: `' to <ref>'`
 * (or '' when the reference is not printed), else undefined.
 */
function cachePushFailure(lines: readonly string[]): string | undefined {
  // BuildKit: a `#N ERROR:` of a vertex whose name is about the cache export.
  const names = new Map<string, string>()
  let failed = false
  let ref: string | undefined
  for (const l of lines) {
    if (/^Error: failed pushing cache\b/.test(l)) failed = true
    const pushing = /^--> Pushing cache (\S+?)(?::[0-9a-f]{64})?$/.exec(l)
    if (pushing) ref = pushing[1]
    const vertex = /^#(\d+) (.*)$/.exec(l)
    if (!vertex) continue
    const [, id, text] = vertex
    if (!names.has(id!)) names.set(id!, text!)
    const name = names.get(id!)!
    if (text!.startsWith('ERROR:') && /^(?:exporting|preparing build) cache\b/.test(name))
      failed = true
  }
  if (!failed) return undefined
  return ref ? ` to ${ref}` : ''
}

/** Runs commands for a backend (the I/O edge). */
export interface BackendRunner {
  logger: Logger
  env: NodeJS.ProcessEnv
  /** Limit of the build command, and of the push with all its retries. */
  timeoutMs?: number
  /** Retries of a push that failed for a transient registry reason (default PUSH_RETRY). */
  pushRetry?: PushRetryPolicy
  sleep?: (ms: number) => Promise<void>
}

/** A build's outcome. */
export interface BuildOutcome {
  /** Digest of the pushed manifest or index, when the backend reports it. */
  digest?: string
  /** Local image ID when not pushed. */
  imageId?: string
  log: string
}

/** A build that failed: names the failing step and carries its last lines. */
export class BuildFailedError extends Error {
  override name = 'BuildFailedError'
  constructor(
    message: string,
    readonly step: string | undefined,
    readonly tail: string,
    /** The tool's whole output and whether our time limit ended it (for the push retry). */
    readonly attempt: AttemptFailure = { output: tail, timedOut: false }
  ) {
    super(message)
  }
}

async function run(
  runner: BackendRunner,
  command: string,
  argv: string[],
  what: string,
  timeoutMs = runner.timeoutMs
): Promise<string> {
  let log = ''
  const collect = (c: Buffer): void => {
    const text = c.toString('utf8')
    log += text
    for (const line of text.split(/\r?\n/)) if (line.trim() !== '') runner.logger.info(line)
  }
  try {
    await exec(command, argv, {
      env: runner.env,
      logger: runner.logger,
      timeoutMs,
      onStdout: collect,
      onStderr: collect
    })
  } catch (error) {
    if (error instanceof ExecError) {
      const { step, tail } = failingStep(log || error.result.stderr)
      throw new BuildFailedError(
        `${what} failed${step ? ` at ${step}` : ''} (${command} exited with code ${error.result.code})`,
        step,
        tail,
        { output: log || error.result.stderr, timedOut: error.result.timedOut }
      )
    }
    throw error
  }
  return log
}

/**
 * The part of a `docker buildx build` log that tells why its push failed, or '' when
 * the build failed elsewhere. BuildKit pushes inside the build (`exporting to image`,
 * `exporting cache`), so only an error of those steps may retry the command; an error
 * of any build step never does. Pure.
 */
export function buildxPushError(log: string): string {
  const names = new Map<string, string>()
  const failed: { name: string; line: string }[] = []
  let solve = ''
  for (const line of log.split(/\r?\n/)) {
    const m = /^#(\d+) (.*)$/.exec(line)
    if (m) {
      if (!names.has(m[1]!)) names.set(m[1]!, m[2]!)
      if (m[2]!.startsWith('ERROR:')) failed.push({ name: names.get(m[1]!)!, line: m[2]! })
    } else if (line.startsWith('ERROR: failed to solve:')) solve = line
  }
  const exporting = (name: string): boolean => /^(?:exporting|pushing|writing|naming)\b/.test(name)
  if (failed.length > 0) {
    if (!failed.every(f => exporting(f.name))) return ''
    return [...failed.map(f => f.line), solve].filter(Boolean).join('\n')
  }
  return /failed to push|exporting (?:to image|cache)/.test(solve) ? solve : ''
}

/**
 * Run a command that pushes, again on a transient registry failure (push-retry.ts).
 * `pushOutput` picks the part of a failed attempt's output that is about the push.
 */
function pushing(
  r: BackendRunner,
  command: string,
  argv: string[],
  what: string,
  pushOutput: (log: string) => string = log => log
): Promise<string> {
  return withPushRetry(what, remaining => run(r, command, argv, what, remaining), {
    logger: r.logger,
    policy: r.pushRetry,
    timeoutMs: r.timeoutMs,
    sleep: r.sleep,
    failure: error =>
      error instanceof BuildFailedError
        ? { output: pushOutput(error.attempt.output), timedOut: error.attempt.timedOut }
        : undefined,
    exhausted: (error, attempts, reason) => {
      const e = error as BuildFailedError
      return new BuildFailedError(
        `${e.message}; gave up after ${attempts} attempt${attempts === 1 ? '' : 's'} (${reason})`,
        e.step,
        e.tail,
        e.attempt
      )
    }
  })
}

/**
 * Build (and push when asked) with a backend. A push that fails for a transient
 * registry reason (429, 5xx, a dropped or timed-out connection) is run again, within
 * `pushRetry` and `timeoutMs`: `buildah push` and `docker push` alone, never the build.
 * `docker buildx build --push` pushes inside the build, so there the whole command runs
 * again, but only when the failing step is the export (BuildKit's cache makes the
 * second run a cache hit up to the push).
 */
export async function runBuild(
  backend: BackendName,
  spec: BuildSpec,
  runner: BackendRunner,
  files: { digestFile: string; readFile: (path: string) => string | undefined },
  buildkit = false
): Promise<BuildOutcome> {
  const env: NodeJS.ProcessEnv = {
    ...runner.env,
    ...(spec.authDir
      ? { DOCKER_CONFIG: spec.authDir, REGISTRY_AUTH_FILE: `${spec.authDir}/config.json` }
      : {})
  }
  const r = { ...runner, env }
  if (backend === 'buildx') {
    const argv = buildxArgv(spec)
    const what = 'docker buildx build'
    const log = spec.push
      ? await pushing(r, 'docker', argv, what, buildxPushError)
      : await run(r, 'docker', argv, what)
    const meta = files.readFile(spec.idFile)
    let digest: string | undefined
    try {
      digest = meta
        ? (JSON.parse(meta) as Record<string, string>)['containerimage.digest']
        : undefined
    } catch {
      digest = undefined
    }
    return { digest: spec.push ? digest : undefined, imageId: digest, log }
  }
  if (backend === 'docker') {
    env.DOCKER_BUILDKIT = buildkit ? '1' : '0'
    let log = await run(r, 'docker', dockerArgv(spec, buildkit), 'docker build')
    const imageId = files.readFile(spec.idFile)?.trim()
    if (spec.push) log += await pushing(r, 'docker', dockerPushArgv(spec.ref), 'docker push')
    const digest = /digest: (sha256:[a-f0-9]{64})/.exec(log)?.[1]
    return { digest: spec.push ? digest : undefined, imageId, log }
  }
  let log = await run(r, 'buildah', buildahBudArgv(spec), 'buildah bud')
  const imageId = files.readFile(spec.idFile)?.trim()
  let digest: string | undefined
  if (spec.push) {
    log += await pushing(r, 'buildah', buildahPushArgv(spec, files.digestFile), 'buildah push')
    digest = files.readFile(files.digestFile)?.trim()
  }
  return { digest, imageId, log }
}

/** What `auto` found on the runner. */
export interface Detection {
  backend: BackendName
  why: string
  /** For `docker`: whether BuildKit (the buildx plugin) is available. */
  buildkit: boolean
}

async function works(command: string, argv: string[], env: NodeJS.ProcessEnv): Promise<boolean> {
  try {
    const res = await exec(command, argv, { env, allowFailure: true, timeoutMs: 20_000 })
    return res.code === 0
  } catch {
    return false
  }
}

/** Pure: the backend `auto` picks from what is present: buildx > docker > buildah. */
export function pickBackend(present: { buildx: boolean; docker: boolean; buildah: boolean }): {
  backend?: BackendName
  why: string
} {
  if (present.buildx) return { backend: 'buildx', why: 'docker buildx is available' }
  if (present.docker)
    return { backend: 'docker', why: 'a docker daemon answers but the buildx plugin is missing' }
  if (present.buildah) return { backend: 'buildah', why: 'no docker daemon; buildah is installed' }
  return { why: 'none of docker buildx, docker (with a daemon) or buildah was found' }
}

/** Detect the backends present (the I/O side of `pickBackend`). */
export async function detectBackend(
  wanted: BackendName | 'auto',
  env: NodeJS.ProcessEnv
): Promise<Detection> {
  // buildah needs no docker at all; every other choice depends on the buildx plugin.
  const buildx = wanted !== 'buildah' && (await works('docker', ['buildx', 'version'], env))
  if (wanted === 'buildx' && !buildx) {
    throw new ConfigurationError(
      'input "backend": got "buildx", but `docker buildx version` fails here; install the buildx plugin (docker/setup-buildx-action) or use backend auto'
    )
  }
  if (wanted !== 'auto' && wanted !== 'buildx') {
    const command = wanted === 'docker' ? ['docker', 'version'] : ['buildah', 'version']
    if (!(await works(command[0]!, command.slice(1), env))) {
      throw new ConfigurationError(
        `input "backend": got "${wanted}", but \`${command.join(' ')}\` fails here${wanted === 'docker' ? ' (is the daemon running? DOCKER_HOST?)' : ''}`
      )
    }
    return { backend: wanted, why: 'chosen by the backend input', buildkit: buildx }
  }
  if (wanted === 'buildx')
    return { backend: 'buildx', why: 'chosen by the backend input', buildkit: true }
  const docker = !buildx && (await works('docker', ['version'], env))
  const buildah = !buildx && !docker && (await works('buildah', ['version'], env))
  const pick = pickBackend({ buildx, docker, buildah })
  if (!pick.backend) throw new ConfigurationError(`backend auto: ${pick.why}`)
  return { backend: pick.backend, why: pick.why, buildkit: buildx }
}

/** The digest (or ID) of a local image, for base images that live only in the builder. */
export async function localImageDigest(
  backend: BackendName,
  ref: string,
  env: NodeJS.ProcessEnv
): Promise<string | undefined> {
  const [cmd, argv] =
    backend === 'buildah'
      ? ['buildah', ['inspect', '--type', 'image', '--format', '{{.FromImageID}}', ref]]
      : ['docker', ['image', 'inspect', '--format', '{{.Id}}', ref]]
  const res = await exec(cmd, argv as string[], { env, allowFailure: true, timeoutMs: 20_000 })
  const id = res.stdout.trim()
  if (res.code !== 0 || id === '') return undefined
  return id.startsWith('sha256:') ? id : `sha256:${id}`
}
