/**
 * Running git: argv arrays only, never a prompt, a stable locale, and no user or
 * system configuration leaking in unless asked. Tokens reach git through the
 * environment (`--config-env`), never argv.
 */
import { exec, type ExecOptions, type ExecResult } from './exec.js'
import { secrets } from './secrets.js'

/** The environment variable that carries a token header to git (`--config-env=<key>=<this>`). */
export const GIT_HEADER_ENV = 'CONVEYOR_GIT_EXTRAHEADER'

/** How a token goes over HTTP. */
export type AuthScheme = 'basic' | 'bearer'

/** The `http.extraheader` value for a token; registers the derived forms as secrets. */
export function authHeader(token: string, scheme: AuthScheme = 'basic'): string {
  secrets.add(token, { user: 'x-access-token' })
  if (scheme === 'bearer') return `AUTHORIZATION: bearer ${token}`
  const encoded = Buffer.from(`x-access-token:${token}`).toString('base64')
  secrets.add(encoded)
  return `AUTHORIZATION: basic ${encoded}`
}

/** Options of one git invocation. */
export interface GitOptions extends Omit<ExecOptions, 'env'> {
  cwd: string
  /** Extra environment (merged over a clean git environment). */
  env?: NodeJS.ProcessEnv
  /** Ignore ~/.gitconfig and /etc/gitconfig (default false: the runner's git setup applies). */
  isolated?: boolean
}

/** The environment git runs with. */
export function gitEnv(extra: NodeJS.ProcessEnv = {}, isolated = false): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: '',
    SSH_ASKPASS: '',
    GCM_INTERACTIVE: 'never',
    LC_ALL: 'C',
    LANG: 'C'
  }
  if (isolated) {
    env.GIT_CONFIG_NOSYSTEM = '1'
    env.GIT_CONFIG_GLOBAL = '/dev/null'
  }
  return { ...env, ...extra }
}

/** Run `git <args>` in `cwd`. Throws ExecError (with stderr's tail) on failure. */
export function git(args: readonly string[], options: GitOptions): Promise<ExecResult> {
  const { env, isolated, ...rest } = options
  return exec('git', args, { ...rest, env: gitEnv(env, isolated) })
}

/** Trimmed stdout of `git <args>`. */
export async function gitText(args: readonly string[], options: GitOptions): Promise<string> {
  return (await git(args, options)).stdout.trim()
}
