/**
 * The `deploy` action's SSH mode: read and validate every input, then deploy one
 * release to each host (in parallel or in sequence, fail-fast configurable), set the
 * `hosts` and `release` outputs and write a per-host summary table.
 */
import { ConfigurationError, invalidInput } from '../../core/errors.js'
import { formatDuration } from '../../core/duration.js'
import type { InputReader } from '../../core/inputs.js'
import type { Logger } from '../../core/logger.js'
import { setOutput } from '../../core/outputs.js'
import { secrets } from '../../core/secrets.js'
import { Summary, code } from '../../core/summary.js'
import { mapLimit, parsePrivateKey } from '../../deploy/ssh/session.js'
import {
  collectSources,
  deployHost,
  resolveSources,
  type HostResult,
  type LocalTree
} from '../../deploy/ssh/deploy-host.js'
import {
  parseFingerprints,
  parseHostLines,
  parseKnownHosts,
  type HostKeyPolicy,
  type HostTarget
} from '../../deploy/ssh/host-keys.js'
import { releaseName } from '../../deploy/ssh/release.js'
import { getVerifyInputs, sshImages, verifyImages } from './verify.js'

/** The validated inputs of SSH mode. */
export interface SshInputs {
  hosts: HostTarget[]
  username: string
  key: string
  passphrase?: string
  policy: HostKeyPolicy
  /** Absolute local paths to upload. */
  sources: string[]
  target: string
  keep: number
  script?: string
  /** Name → value, read from the process environment; every value registered as a secret. */
  env: Record<string, string>
  parallel: boolean
  failFast: boolean
  timeoutMs: number
}

/** Hosts deployed at the same time in parallel mode. */
export const MAX_PARALLEL_HOSTS = 16

const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/
const RESERVED_ENV = /^(CONVEYOR_|BASH|SHELLOPTS$|PATH$|HOME$|IFS$|PS4$|SHELL$|USER$)/

/**
 * Read and validate every SSH-mode input; no side effect beyond registering secrets.
 * `environment` supplies the values of the `env` names.
 */
export function getSshInputs(
  reader: InputReader,
  environment: NodeJS.ProcessEnv = process.env,
  workspace = process.env.GITHUB_WORKSPACE || process.cwd()
): SshInputs {
  // Secrets first, before anything could print them.
  const key = reader.string('key', { secret: true, required: true })
  const passphrase = reader.optional('passphrase', { secret: true })
  const envNames = reader.list('env', { commas: true })
  const env: Record<string, string> = {}
  for (const name of envNames) {
    const eq = name.indexOf('=')
    if (eq >= 0) {
      // `NAME=VALUE`: the value may be the secret itself; show the name only.
      throw new ConfigurationError(
        `input "env": got ${JSON.stringify(name.slice(0, Math.min(eq, 64)))}=… (a name with a value), expected names only: each value comes from the step's environment (env: ${ENV_NAME_RE.test(name.slice(0, eq)) ? name.slice(0, eq) : 'NAME'}: \${{ secrets.NAME }}), never from this input`
      )
    }
    if (!ENV_NAME_RE.test(name)) {
      throw invalidInput('env', name, 'environment variable names ([A-Za-z_][A-Za-z0-9_]*)')
    }
    if (RESERVED_ENV.test(name)) {
      throw invalidInput('env', name, 'a name not reserved by bash or Conveyor (CONVEYOR_*)')
    }
    const value = environment[name]
    if (value === undefined) {
      throw new ConfigurationError(
        `input "env": ${name} is not set in the step's environment; pass it with "env: ${name}: \${{ secrets.${name} }}" on the step`
      )
    }
    secrets.add(value, { label: `the value of ${name} (input "env")` })
    env[name] = value
  }
  if (/[\0]/.test(Object.values(env).join(''))) {
    throw new ConfigurationError('input "env": a value holds a NUL character')
  }

  const port = reader.integer('port', { default: 22, min: 1, max: 65535 })
  const hostLines = reader.list('hosts')
  if (hostLines.length === 0) {
    throw new ConfigurationError('input "hosts" is required in ssh mode: one host[:port] per line')
  }
  const hosts = parseHostLines(hostLines, port)
  const username = reader.line('username', {
    required: true,
    pattern: /^[A-Za-z0-9._][A-Za-z0-9._-]*$/,
    expected: 'a user name (letters, digits, ".", "_", "-")'
  })
  parsePrivateKey(key, passphrase)

  const knownHosts = parseKnownHosts(reader.raw('known-hosts'))
  const fingerprints = parseFingerprints(reader.list('fingerprints'))
  const insecure = reader.boolean('insecure-skip-host-key', false)
  if (!insecure && knownHosts.filter(e => !e.marker).length === 0 && fingerprints.length === 0) {
    const ca = knownHosts.some(e => e.marker === 'cert-authority')
      ? ' (@cert-authority lines are not supported: pin the host keys themselves)'
      : ''
    throw new ConfigurationError(
      `ssh mode needs the hosts' keys pinned${ca}: set input "known-hosts" (lines as "ssh-keyscan -p <port> <host>" prints them, verified out of band) or "fingerprints" (SHA256:... lines); "insecure-skip-host-key: true" skips the check and is unsafe`
    )
  }

  const sourceLines = reader.list('source')
  const sources = resolveSources(workspace, sourceLines)
  const target = reader.line('target', { required: true })
  if (!target.startsWith('/') || target.split('/').includes('..') || /[\0]/.test(target)) {
    throw invalidInput('target', target, 'an absolute remote directory without ".." segments')
  }
  if (target.replace(/\/+$/, '') === '') {
    throw invalidInput('target', target, 'a directory other than "/"')
  }
  const keep = reader.integer('keep', { default: 5, min: 1, max: 100 })
  const script = reader.optional('script', { trim: false })
  const parallel = reader.boolean('parallel', true)
  const failFast = reader.boolean('fail-fast', true)
  const timeoutMs = reader.duration('timeout', '10m', { min: 5_000 })
  return {
    hosts,
    username,
    key,
    passphrase,
    policy: { knownHosts, fingerprints, insecure },
    sources,
    target,
    keep,
    script,
    env,
    parallel,
    failFast,
    timeoutMs
  }
}

/** `host:port`, `[v6]:port` for IPv6 addresses. */
export function hostLabel(target: HostTarget): string {
  return target.host.includes(':')
    ? `[${target.host}]:${target.port}`
    : `${target.host}:${target.port}`
}

/** The summary table of per-host results. */
export function summaryOf(release: string, target: string, results: HostResult[]): Summary {
  const summary = new Summary().heading(`SSH deploy of release ${code(release)} to ${code(target)}`)
  summary.table(
    ['Host', 'Status', 'Previous', 'Files', 'Script exit', 'Pruned', 'Duration', 'Detail'],
    results.map(r => [
      hostLabel(r),
      r.status,
      r.previous ?? '',
      `${r.files} (${r.bytes} B)`,
      r.exitCode ?? '',
      r.pruned.length,
      formatDuration(r.durationMs),
      r.error ?? ''
    ])
  )
  return summary
}

/** Run SSH mode: validate, deploy to each host, outputs and summary. */
export async function runSshMode(reader: InputReader, log: Logger): Promise<void> {
  const inputs = getSshInputs(reader)
  const verify = getVerifyInputs(reader)
  const images = sshImages(reader)
  if (verify.mode !== 'none' && images.length === 0) {
    throw new ConfigurationError(
      'input "images" is required with verify: provenance in ssh mode: name=reference lines of the images the release runs'
    )
  }
  // Before any host is contacted: every image must verify, or nothing is deployed.
  await verifyImages(images, verify, log)
  const release = releaseName(new Date(), process.env.GITHUB_SHA)
  if (inputs.policy.insecure) {
    log.warning(
      'insecure-skip-host-key is true: host keys are NOT verified. A machine in the network path can impersonate the hosts and receive the uploaded files and every secret passed in "env". Pin keys with "known-hosts" or "fingerprints" instead.'
    )
  }
  const tree: LocalTree = await log.group('Collecting files', async () => {
    const t = await collectSources(inputs.sources)
    log.info(`${t.files.length} file(s), ${t.dirs.length} dir(s), ${t.bytes} bytes`)
    if (t.skipped.length > 0) {
      log.warning(`not uploaded (not regular files or directories): ${t.skipped.join(', ')}`)
    }
    return t
  })
  const controller = new AbortController()
  const deployOne = (target: HostTarget): Promise<HostResult> =>
    deployHost({
      target,
      username: inputs.username,
      privateKey: inputs.key,
      passphrase: inputs.passphrase,
      policy: inputs.policy,
      base: inputs.target,
      release,
      tree,
      script: inputs.script,
      env: inputs.env,
      keep: inputs.keep,
      timeoutMs: inputs.timeoutMs,
      log,
      signal: controller.signal
    }).then(r => {
      if (r.status !== 'deployed' && r.status !== 'cancelled') {
        log.error(`${hostLabel(r)}: ${r.status}: ${r.error ?? ''}`)
        if (inputs.failFast) controller.abort()
      }
      return r
    })
  const results = await log.group(
    `Deploying release ${release} to ${inputs.hosts.length} host(s)${inputs.parallel ? ' in parallel' : ''}`,
    async () => {
      if (inputs.parallel) return mapLimit(inputs.hosts, MAX_PARALLEL_HOSTS, deployOne)
      const out: HostResult[] = []
      for (const target of inputs.hosts) {
        if (controller.signal.aborted) {
          out.push({
            host: target.host,
            port: target.port,
            status: 'skipped',
            release,
            files: tree.files.length,
            bytes: tree.bytes,
            pruned: [],
            durationMs: 0,
            error: 'skipped: an earlier host failed (fail-fast)'
          })
          continue
        }
        out.push(await deployOne(target))
      }
      return out
    }
  )
  setOutput('release', release)
  setOutput(
    'hosts',
    results.map(r => ({
      host: r.host,
      port: r.port,
      status: r.status,
      release: r.release,
      previous: r.previous ?? null,
      hostKey: r.hostKey ?? null,
      files: r.files,
      bytes: r.bytes,
      exitCode: r.exitCode ?? null,
      pruned: r.pruned,
      durationMs: r.durationMs,
      // Free text (a host's or the script's words): redacted visibly, as in the log.
      error: r.error !== undefined ? secrets.redact(r.error) : null
    }))
  )
  summaryOf(release, inputs.target, results).write()
  const failed = results.filter(r => r.status !== 'deployed')
  if (failed.length > 0) {
    const first = failed.find(r => r.status !== 'cancelled' && r.status !== 'skipped') ?? failed[0]!
    throw new Error(
      `${failed.length} of ${results.length} host(s) not deployed; ${hostLabel(first)} ${first.status}: ${first.error ?? ''}`
    )
  }
  log.info(`release ${release} deployed to ${results.length} host(s)`)
}
