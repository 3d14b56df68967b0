/**
 * The deploy action's GitOps inputs, read and validated in one place before any side
 * effect (reading the result files and the services file is not one).
 */
import { existsSync, readdirSync, realpathSync, statSync } from 'node:fs'
import { isAbsolute, join, posix, relative, resolve } from 'node:path'
import picomatch from 'picomatch'
import { readBuildResult, type BuildResult } from '../../model/build-result.js'
import { confinedPath } from '../../core/confine.js'
import {
  checkImagesLine,
  parseTarget,
  shortenQuotes,
  safeRelPath,
  updatesFromImages,
  updatesFromResults,
  type ImageUpdate,
  type SourceInfo,
  type Target
} from '../../deploy/gitops/updates.js'
import {
  ConfigurationError,
  errorMessage,
  FileConfigurationError,
  invalidInput
} from '../../core/errors.js'
import { apiUrl, runUrl, serverUrl } from '../../core/context.js'
import type { GitOpsJob } from '../../deploy/gitops/run.js'
import { InputReader } from '../../core/inputs.js'
import type { Logger } from '../../core/logger.js'
import { secrets } from '../../core/secrets.js'
import { DEFAULT_CONFIG, type Service } from '../../model/services/config.js'
import { loadServices } from '../../model/services/load.js'
import { checkCleartext, shownUrl } from '../../core/urls.js'

/** Everything GitOps mode was asked to do: the inputs describe the job whole. */
export type Inputs = GitOpsJob

const SLUG = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/
const BRANCH = /^(?!-)(?!.*\.\.)(?!.*\/\/)(?!.*@\{)[A-Za-z0-9._/+-]+(?<![./])$/

/** The clone URL and owner/name of the `repository` input. */
export function parseRepository(
  value: string,
  serverUrl = 'https://github.com'
): { url: string; slug?: string } {
  if (SLUG.test(value) && !value.includes('..')) {
    return {
      url: `${serverUrl.replace(/\/+$/, '')}/${value.replace(/\.git$/, '')}.git`,
      slug: value.replace(/\.git$/, '')
    }
  }
  // Errors show the scheme, host and path only: a token hides in `?access_token=`, in
  // `x:TOKEN@host:path` and in `file://x:TOKEN@/path` as well as in userinfo.
  const shown = shownUrl(value)
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw invalidInput('repository', shown, 'owner/name or an https://, ssh:// or file:// URL')
  }
  if (!['https:', 'http:', 'ssh:', 'file:'].includes(url.protocol)) {
    throw invalidInput('repository', shown, 'owner/name or an https://, ssh:// or file:// URL')
  }
  if (url.password || (url.username && url.protocol !== 'ssh:')) {
    for (const part of [url.username, url.password]) secrets.add(decodeURIComponent(part))
    throw new ConfigurationError(
      'input "repository": credentials in the URL are not accepted; pass the token through the "token" input'
    )
  }
  if (url.search || url.hash)
    throw invalidInput('repository', shown, 'a URL without ?query or #fragment')
  const m = /^\/([^/]+)\/([^/]+?)(?:\.git)?\/?$/.exec(url.pathname)
  const slug = url.protocol.startsWith('http') && m ? `${m[1]}/${m[2]}` : undefined
  return { url: url.toString(), slug }
}

function resultFiles(spec: string, workspace: string): string[] {
  const full = isAbsolute(spec) ? spec : resolve(workspace, spec)
  if (existsSync(full) && statSync(full).isDirectory()) {
    return readdirSync(full)
      .filter(f => f.endsWith('.json'))
      .sort()
      .map(f => join(full, f))
  }
  if (existsSync(full)) return [full]
  const scan = picomatch.scan(full)
  if (!scan.isGlob || !existsSync(scan.base)) {
    throw invalidInput('results', spec, 'a directory of build result files or a glob matching them')
  }
  const match = picomatch(full, { dot: true })
  const out: string[] = []
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name)
      if (e.isDirectory()) walk(p)
      else if (match(p)) out.push(p)
    }
  }
  walk(scan.base)
  return out.sort()
}

/** A target as its line reads (`kustomize:overlays/prod`). */
function targetLabel(t: Target): string {
  if (t.kind === 'kustomize') return `kustomize:${t.dir}`
  if (t.kind === 'manifests') return `manifests:${t.glob}`
  return `helm:${t.file}:${t.key}${t.name ? `=${t.name}` : ''}`
}

/** The `expected-services` input: a JSON array (plan's `services` output) or a list. */
export function expectedServices(raw: string): string[] {
  const text = raw.trim()
  if (text === '') return []
  if (text.startsWith('[')) {
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      throw invalidInput(
        'expected-services',
        text,
        'a JSON array of service names or one name per line'
      )
    }
    if (!Array.isArray(parsed) || parsed.some(x => typeof x !== 'string')) {
      throw invalidInput('expected-services', text, 'a JSON array of service names')
    }
    return parsed as string[]
  }
  return text
    .split(/[\n,]/)
    .map(x => x.trim())
    .filter(x => x !== '' && !x.startsWith('#'))
}

/** Read and validate every GitOps input. */
export async function getInputs(
  reader = new InputReader(),
  log?: Logger,
  env: NodeJS.ProcessEnv = process.env
): Promise<Inputs> {
  const token = reader.optional('token', { secret: true })
  if (token) secrets.add(token, { user: 'x-access-token' })
  const workspace = env.GITHUB_WORKSPACE || process.cwd()
  const repository = reader.line('repository', { required: true })
  const { url, slug } = parseRepository(repository, serverUrl(env))
  const insecureHttp = reader.boolean('insecure-http', false)
  const cleartext = checkCleartext(
    'repository',
    new URL(url),
    insecureHttp,
    'the token, and the config repository that decides what runs,'
  )
  if (cleartext) log?.warning(cleartext)
  let ref = reader.line('ref') || undefined
  if (ref) {
    ref = ref.replace(/^refs\/heads\//, '')
    if (!BRANCH.test(ref)) throw invalidInput('ref', ref, 'a branch name of the config repository')
  }
  const pathInput = reader.line('path', { default: '.' })
  const path = safeRelPath(pathInput)
  if (!path) throw invalidInput('path', pathInput, 'a directory inside the config repository')
  const tokenAuth = reader.choice('token-auth', ['basic', 'bearer'] as const, 'basic')
  const targets = reader.list('targets').map(l => parseTarget(l))
  const imagePaths = reader.list('manifest-image-paths')
  for (const p of imagePaths) {
    if (!/^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/.test(p)) {
      throw invalidInput('manifest-image-paths', p, 'dotted keys such as spec.image')
    }
  }
  const commitMessage = reader.optional('commit-message', { trim: false })
  const pullRequest = reader.boolean('pull-request', false)
  const environment = reader.line('environment') || undefined
  if (environment && !/^[A-Za-z0-9._-]+$/.test(environment)) {
    throw invalidInput('environment', environment, 'letters, digits, ".", "_" and "-"')
  }
  const prBranch = reader.line('pull-request-branch') || undefined
  if (prBranch && !BRANCH.test(prBranch)) {
    throw invalidInput('pull-request-branch', prBranch, 'a valid branch name')
  }
  const labels = reader.list('labels', { commas: true })
  const dryRun = reader.boolean('dry-run', false)
  const maxAttempts = reader.integer('max-attempts', { default: 20, min: 1, max: 100 })
  const timeoutMs = reader.duration('timeout', '10m', { min: 5_000 })
  const allowPartial = reader.boolean('allow-partial', false)
  const verifyRender = reader.choice('verify-render', ['auto', 'required', 'off'] as const, 'auto')
  const allowRollback = reader.boolean('allow-rollback', false)
  const author = {
    name: reader.line('author-name', { default: 'conveyor[bot]' }),
    email: reader.line('author-email', { default: 'conveyor[bot]@users.noreply.github.com' })
  }
  if (!/^[^<>\s@]+@[^<>\s@]+$/.test(author.email)) {
    throw invalidInput('author-email', author.email, 'an e-mail address')
  }
  if (pullRequest && !slug) {
    throw new ConfigurationError(
      'input "pull-request": needs "repository" as owner/name or an https:// URL of a GitHub repository'
    )
  }
  if (pullRequest && !token) {
    throw new ConfigurationError('input "pull-request": needs "token" (pull-requests: write)')
  }
  const imagesLines = reader.list('images')
  for (const line of imagesLines) checkImagesLine(line)
  const resultsSpec = reader.line('results') || undefined
  if (imagesLines.length > 0 && resultsSpec) {
    throw new ConfigurationError('inputs "images" and "results": set one of them, not both')
  }
  if (imagesLines.length === 0 && !resultsSpec) {
    throw new ConfigurationError(
      'input "images" or "results" is required: name=reference lines, or the directory of build result files'
    )
  }
  const configInput = reader.line('config', { default: DEFAULT_CONFIG })
  // Confined before it is read: a path (or a checked-in symlink) out of the workspace
  // would make a parse error print whatever file it names.
  const configPath = confinedPath(workspace, configInput, { input: 'input "config":' })
  let services: Service[] = []
  if (existsSync(configPath)) {
    if (!statSync(configPath).isFile()) {
      throw invalidInput('config', configInput, 'a services file (a regular file)')
    }
    try {
      const rel = relative(realpathSync(workspace), configPath)
      services = (await loadServices({ workspace, config: rel })).services
    } catch (error) {
      // Never more than a short prefix of what the file holds.
      if (error instanceof FileConfigurationError)
        throw new FileConfigurationError(shortenQuotes(error.message), error.location)
      if (error instanceof ConfigurationError)
        throw new ConfigurationError(shortenQuotes(error.message))
      throw error
    }
  }
  const run = runUrl(env)
  let updates: ImageUpdate[]
  if (resultsSpec) {
    const files = resultFiles(resultsSpec, workspace)
    if (files.length === 0) {
      throw invalidInput('results', resultsSpec, 'at least one build result file (*.json)')
    }
    const results: BuildResult[] = []
    const bad: string[] = []
    for (const f of files) {
      try {
        results.push(readBuildResult(f))
      } catch (error) {
        bad.push(`${posix.basename(f)}: ${errorMessage(error)}`)
      }
    }
    if (bad.length > 0 && !allowPartial) {
      throw new ConfigurationError(
        `input "results": ${bad.length} of ${files.length} result file(s) are unusable, so nothing is deployed (allow-partial: true deploys the rest): ${bad.join('; ')}`
      )
    }
    const expected = expectedServices(reader.raw('expected-services'))
    const have = new Set(results.map(r => r.service))
    const missing = expected.filter(s => !have.has(s))
    if (missing.length > 0 && !allowPartial) {
      throw new ConfigurationError(
        `input "results": no build result for ${missing.join(', ')} (expected-services lists ${expected.length}); nothing is deployed from a partial set unless allow-partial: true`
      )
    }
    for (const m of missing) log?.warning(`no build result for ${m} (allow-partial): not deployed`)
    for (const b of bad) log?.warning(`skipping a build result (allow-partial): ${b}`)
    if (results.length === 0)
      throw new ConfigurationError('input "results": no usable build result')
    updates = updatesFromResults(results, services)
  } else {
    const source: SourceInfo | undefined = env.GITHUB_SHA
      ? {
          repository: env.GITHUB_REPOSITORY ?? 'unknown',
          sha: env.GITHUB_SHA,
          runUrl: run
        }
      : undefined
    updates = updatesFromImages(imagesLines, services, source)
  }
  // Precedence: input "targets" wins over the services file's deploy: keys (an input is
  // the more specific choice, made for this run); the log says which applies and why.
  for (const u of updates) {
    if (targets.length > 0 && u.targets.length > 0) {
      log?.info(
        `${u.service}: targets from input "targets" (over deploy: of the services file: ${u.targets.map(targetLabel).join(', ')})`
      )
      u.targets = []
    } else if (u.targets.length > 0) {
      log?.info(
        `${u.service}: targets from deploy: of the services file: ${u.targets.map(targetLabel).join(', ')}`
      )
    } else if (targets.length > 0) {
      log?.info(`${u.service}: targets from input "targets"`)
    }
  }
  if (targets.length === 0 && updates.some(u => u.targets.length === 0)) {
    const missing = updates.filter(u => u.targets.length === 0).map(u => u.service)
    throw new ConfigurationError(
      `input "targets" is required for ${missing.join(', ')}: kustomize:<dir>, manifests:<glob> or helm:<file>:<key> lines (or deploy: in the services file)`
    )
  }
  return {
    url,
    slug,
    ref,
    path,
    token,
    tokenAuth,
    updates,
    targets,
    imagePaths,
    allowRollback,
    commitMessage,
    pullRequest,
    pullRequestBranch: prBranch,
    labels,
    dryRun,
    maxAttempts,
    author,
    environment,
    timeoutMs,
    verifyRender,
    apiUrl: apiUrl(env),
    runUrl: run
  }
}
