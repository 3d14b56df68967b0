/**
 * Inputs of `plan`, read and validated in one place before any git command.
 */
import { existsSync, statSync } from 'node:fs'
import { isAbsolute, resolve } from 'node:path'
import { ConfigurationError, invalidInput } from '../../lib/errors.js'
import { InputReader } from '../../lib/inputs.js'
import { GITHUB_MATRIX_LIMIT } from '../../lib/plan-summary.js'
import { DEFAULT_CONFIG, normalizeRelPath } from '../../lib/services.js'

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
  if (config === undefined || config === '.') {
    throw invalidInput(
      'config',
      configRaw,
      'a path of the services file relative to the working directory, inside it'
    )
  }
  const base = reader.line('base') || undefined
  if (base !== undefined && (base.startsWith('-') || /\s|\.\.|[~^:?*[\\]/.test(base))) {
    throw invalidInput('base', base, 'a commit sha, branch or tag name')
  }
  const wd = reader.line('working-directory', { default: '.' })
  const workingDirectory = isAbsolute(wd) ? wd : resolve(workspace, wd)
  if (!existsSync(workingDirectory) || !statSync(workingDirectory).isDirectory()) {
    throw invalidInput('working-directory', wd, 'an existing directory (the repository checkout)')
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
