/**
 * The `deploy` action's SSH-mode inputs, read and validated in one place before any
 * side effect (registering the secrets is the only one). The deploy itself is
 * src/deploy/ssh/run.ts.
 */
import { ConfigurationError, invalidInput } from '../../core/errors.js'
import type { InputReader } from '../../core/inputs.js'
import { secrets } from '../../core/secrets.js'
import { resolveSources } from '../../deploy/ssh/deploy-host.js'
import { parseFingerprints, parseHostLines, parseKnownHosts } from '../../deploy/ssh/host-keys.js'
import type { SshJob } from '../../deploy/ssh/run.js'
import { parsePrivateKey } from '../../deploy/ssh/session.js'

/** The validated inputs of SSH mode: they describe the job whole. */
export type SshInputs = SshJob

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
