/**
 * Inputs of `plan`, read and validated in one place before any git command.
 */
import { existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { confinedPath, realPath } from '../../core/confine.js'
import { ConfigurationError, invalidInput } from '../../core/errors.js'
import { InputReader } from '../../core/inputs.js'
import { secrets } from '../../core/secrets.js'
import { GITHUB_MATRIX_LIMIT } from '../../plan/summary.js'
import { DEFAULT_CONFIG, normalizeRelPath } from '../../model/services/config.js'

/** Longest accepted `config` path and `base` ref (git's own limits are far above any real one). */
const MAX_PATH = 1024
const MAX_REF = 256
/**
 * What no revision holds: control characters. A `-`-led value (an option to git) is
 * refused apart; whether git resolves the rest (`HEAD~3`, `main^2`, a tag) is asked of
 * git itself (`rev-parse --verify --end-of-options <rev>^{commit}`) when the plan runs.
 */
// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
const BAD_REV = /[\x00-\x1f\x7f]/

/** Validated inputs. */
export interface Inputs {
  /** Services file, relative to the working directory. */
  config: string
  /** Whether the file must exist (a path other than the default was given). */
  requireConfig: boolean
  base?: string
  /** Absolute directory of the repository checkout (inside the workspace). */
  workingDirectory: string
  /** The workspace (GITHUB_WORKSPACE). */
  workspace: string
  tags: 'all' | 'changed'
  maxJobs: number
  baseFromLastSuccess: boolean
  token?: string
}

/** Read and validate every input. `workspace` is GITHUB_WORKSPACE. */
export function getInputs(
  reader = new InputReader(),
  workspace = process.env.GITHUB_WORKSPACE ?? process.cwd()
): Inputs {
  const token = reader.optional('token', { secret: true })
  if (token) secrets.add(token, { user: 'x-access-token', label: 'input "token"' })
  const configRaw = reader.line('config', { default: DEFAULT_CONFIG })
  const config = normalizeRelPath(configRaw)
  if (config === undefined || config === '.' || configRaw.length > MAX_PATH) {
    throw invalidInput(
      'config',
      configRaw,
      'a path of the services file relative to the working directory, inside it'
    )
  }
  const base = reader.line('base') || undefined
  if (base !== undefined && (base.length > MAX_REF || base.startsWith('-') || BAD_REV.test(base))) {
    throw invalidInput(
      'base',
      base,
      `a revision git can resolve (a commit sha, a branch or tag, or an expression such as HEAD~3), of at most ${MAX_REF} characters and not starting with "-"`
    )
  }
  const wd = reader.line('working-directory', { default: '.' })
  // Confined like every other path input: plan reads the services file there and
  // runs git in it, so `../../etc` must never get that far.
  const workingDirectory = confinedPath(workspace, wd, {
    input: 'input "working-directory":',
    hint: 'it is the repository checkout, a directory of the workspace'
  })
  if (!existsSync(workingDirectory) || !statSync(workingDirectory).isDirectory()) {
    throw invalidInput('working-directory', wd, 'an existing directory (the repository checkout)')
  }
  if (config !== DEFAULT_CONFIG && !existsSync(join(workingDirectory, config))) {
    throw invalidInput(
      'config',
      configRaw,
      `the path of an existing services file, relative to the working directory ${workingDirectory}`
    )
  }
  const tags = reader.choice('tags', ['all', 'changed'] as const, 'all')
  const maxJobs = reader.integer('max-jobs', {
    default: GITHUB_MATRIX_LIMIT,
    min: 1,
    max: GITHUB_MATRIX_LIMIT
  })
  const baseFromLastSuccess = reader.boolean('base-from-last-success', false)
  if (baseFromLastSuccess && !token) {
    throw new ConfigurationError(
      'input "base-from-last-success" needs input "token" (e.g. ${{ github.token }} with actions: read)'
    )
  }
  return {
    config,
    requireConfig: config !== DEFAULT_CONFIG,
    base,
    workingDirectory,
    workspace: realPath(workspace, workspace),
    tags,
    maxJobs,
    baseFromLastSuccess,
    token
  }
}
