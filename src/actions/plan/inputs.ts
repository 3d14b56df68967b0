/**
 * Inputs of `plan`, read and validated in one place before any git command.
 */
import { existsSync, statSync } from 'node:fs'
import { isAbsolute, join, resolve } from 'node:path'
import { ConfigurationError, invalidInput } from '../../lib/errors.js'
import { InputReader } from '../../lib/inputs.js'
import { GITHUB_MATRIX_LIMIT } from '../../lib/plan-summary.js'
import { DEFAULT_CONFIG, normalizeRelPath } from '../../lib/services.js'

/** Longest accepted `config` path and `base` ref (git's own limits are far above any real one). */
const MAX_PATH = 1024
const MAX_REF = 256
/** What git refuses in a ref name (and `-`-led values, options to git, are refused apart). */
// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
const BAD_REF = /[\s\x00-\x1f\x7f~^:?*[\\]|\.\./

/** Validated inputs. */
export interface Inputs {
  /** Services file, relative to the working directory. */
  config: string
  /** Whether the file must exist (a path other than the default was given). */
  requireConfig: boolean
  base?: string
  /** Absolute directory of the repository checkout. */
  workingDirectory: string
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
  if (base !== undefined && (base.length > MAX_REF || base.startsWith('-') || BAD_REF.test(base))) {
    throw invalidInput('base', base, 'a commit sha, branch or tag name')
  }
  const wd = reader.line('working-directory', { default: '.' })
  const workingDirectory = isAbsolute(wd) ? wd : resolve(workspace, wd)
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
    tags,
    maxJobs,
    baseFromLastSuccess,
    token
  }
}
