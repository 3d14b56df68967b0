/**
 * A plan, start to end: the base chosen and found (fetched when it is not here), the
 * services loaded, the diff parsed and selected while git writes it, deleted services
 * told apart, and the matrix built. Returns the `Plan` value; writing the outputs and
 * the summary is the action's.
 */
import { existsSync } from 'node:fs'
import { join, posix, relative, sep } from 'node:path'
import { ConfigurationError, FileConfigurationError } from '../core/errors.js'
import { git } from '../core/git.js'
import type { Logger } from '../core/logger.js'
import { openDataFile, type DataFile } from '../core/outputs.js'
import type { ServicesConfig } from '../model/services/config.js'
import { loadServices } from '../model/services/load.js'
import { chooseBase, type BaseContext, type BaseDecision } from './base.js'
import { inTree, servicesAt } from './history.js'
import { lastSuccessfulSha, type LastSuccessOptions } from './last-success.js'
import { PlanRepo } from './repo.js'
import { resolveBase, type ResolvedBase } from './resolve-base.js'
import { speculativeDiff, startDiff, type RunningDiff } from './running-diff.js'
import { selectAll, type Selection } from './select.js'
import { buildMatrix, type MatrixEntry, type PlanReport } from './summary.js'

/** What to plan, and where. */
export interface PlanRequest {
  /** Absolute directory of the repository checkout (inside the workspace). */
  workingDirectory: string
  /** The workspace: an annotation's file is given relative to the repository root. */
  workspace: string
  /** The services file, relative to the working directory. */
  servicesFile: string
  /** Whether the services file must exist (a path other than the default was given). */
  requireServicesFile: boolean
  maxJobs: number
  /** The run the base is chosen for. */
  run: BaseContext
  /** Authenticates fetches from origin and the last-success lookup. */
  token?: string
  /** GITHUB_SERVER_URL. */
  serverUrl: string
  /** Where to ask for the last successful run (opt-in base). */
  lastSuccess: Pick<LastSuccessOptions, 'apiUrl' | 'repository' | 'workflowRef' | 'runId'>
  /** The changed-files list's file name under RUNNER_TEMP. */
  listName: string
}

/** What a plan found: the summary's content, the matrix and the outputs' values. */
export interface Plan extends PlanReport {
  matrix: { include: MatrixEntry[] }
  /** Deleted services, each once. */
  deleted: string[]
  /** Where the changed-files list was written. */
  changedFilesPath: string
  /** Every service was selected, or at least one file changed. */
  hasChanges: boolean
}

/** The head commit, found here or fetched, and the base it is compared against. */
async function findBase(
  repo: PlanRepo,
  decision: BaseDecision,
  req: PlanRequest,
  log: Logger
): Promise<{ head: string; resolved: ResolvedBase }> {
  log.info(`rule: ${decision.base.why}`)
  let head = decision.head && !/^0+$/.test(decision.head) ? decision.head : 'HEAD'
  const sha = await repo.ensureCommit(head)
  if (!sha) {
    if (head !== 'HEAD')
      throw new ConfigurationError(
        `the head commit ${head} is neither in the workspace nor on origin`
      )
    throw new ConfigurationError('the workspace has no commit (run actions/checkout first)')
  }
  head = sha
  const resolved: ResolvedBase = await resolveBase(repo, decision, head, () =>
    lastSuccessfulSha({
      ...req.lastSuccess,
      branch: decision.base.kind === 'last-success' ? decision.base.branch : undefined,
      token: req.token ?? '',
      log
    })
  )
  log.info(resolved.kind === 'commit' ? `base ${resolved.sha} (${resolved.why})` : resolved.why)
  return { head, resolved }
}

/** Load the services file (or discover the services); its errors point into the repository. */
function loadPlanServices(req: PlanRequest): Promise<ServicesConfig> {
  const wd = req.workingDirectory
  return loadServices({
    workspace: wd,
    config: req.servicesFile,
    requireFile: req.requireServicesFile,
    rootName: 'the working directory'
  }).catch((error: unknown) => {
    // An annotation points into the repository: the file relative to its root.
    if (error instanceof FileConfigurationError) {
      const prefix = relative(req.workspace, wd).split(sep).join('/')
      if (prefix !== '') error.location.file = posix.join(prefix, error.location.file)
    }
    throw error
  })
}

/** Run a plan: which services changed between the base and the head, and why. */
export async function runPlan(req: PlanRequest, log: Logger): Promise<Plan> {
  const wd = req.workingDirectory
  const repo = new PlanRepo(wd, log, { token: req.token, serverUrl: req.serverUrl })
  const topRun = git(['rev-parse', '--show-prefix'], { cwd: wd, allowFailure: true })
  const decision: BaseDecision = chooseBase(req.run)
  /** The diff between two commits found here, listed into the changed-files file. */
  const diffFrom = async (base: string, head: string): Promise<RunningDiff> =>
    startDiff(wd, base, head, (await topRun).stdout.trim() !== '', req.servicesFile, req.listName)
  // A push names its likely base (`before`), a merge group its base_sha: when that
  // commit and the head are already here, git starts on the diff at once, while the
  // base is confirmed; a different base discards it. The services file is read
  // meanwhile too (its errors wait their turn).
  const early = speculativeDiff(repo, decision, topRun, diffFrom)
  early.catch(() => undefined)
  const services = loadPlanServices(req)
  services.catch(() => undefined)
  let diff: RunningDiff | undefined
  let guessed: RunningDiff | undefined
  let config: ServicesConfig
  let head: string
  let resolved: ResolvedBase
  try {
    const top = await topRun
    if (top.code !== 0) {
      throw new ConfigurationError(
        `input "working-directory": ${wd} is not a git repository (run actions/checkout first)`
      )
    }
    ;({ head, resolved } = await log.group('Choose the base', () =>
      findBase(repo, decision, req, log)
    ))
    guessed = await early
    if (
      guessed &&
      resolved.kind === 'commit' &&
      guessed.base === resolved.sha &&
      guessed.head === head
    )
      diff = guessed
    else {
      guessed?.abort()
      // Started before the services are loaded: git works out the change (for a large
      // one, tens of milliseconds before its first line) while they are.
      if (resolved.kind === 'commit') diff = await diffFrom(resolved.sha, head)
    }
    config = await log.group('Load the services', async () => {
      const c = await services
      log.info(
        `${c.services.length} service(s) ${c.file ? `from ${c.file}` : 'discovered from Dockerfiles'}: ${c.services.map(s => s.name).join(', ')}`
      )
      return c
    })
  } catch (error) {
    diff?.abort()
    ;(await early.catch(() => undefined))?.abort()
    throw error
  }
  let changeCount = 0
  let selection: Selection
  const deleted: string[] = []
  let list: DataFile
  if (diff && resolved.kind === 'commit') {
    const d = await log.group('Diff', async () => {
      const d = await diff.finish(config)
      log.info(
        `${d.count} changed file(s) between ${resolved.sha.slice(0, 12)} and ${head.slice(0, 12)} (git diff, parsed and selected in ${d.durationMs} ms${diff === guessed ? ', begun while the base was confirmed' : ''})`
      )
      return d
    })
    list = diff.list
    changeCount = d.count
    selection = d.selection
    // Deleted services: gone from the services at the head, or their Dockerfile is.
    if (d.configChanged || d.removals) {
      const before = await servicesAt(repo, resolved.sha, req.servicesFile, config, log)
      const now = new Set(config.services.map(s => s.name))
      for (const s of before ?? []) if (!now.has(s.name)) deleted.push(s.name)
    }
  } else if (resolved.kind === 'all') {
    list = openDataFile(req.listName)
    list.write('[]\n')
    selection = selectAll(config, resolved.why)
  } else {
    list = openDataFile(req.listName)
    list.write('[]\n')
    selection = { selected: [], reasons: new Map(), files: 0 }
  }
  for (const name of [...selection.selected]) {
    const s = config.services.find(x => x.name === name)!
    // Not in the workspace (maybe a sparse checkout): ask the head's tree.
    if (!existsSync(join(wd, s.dockerfile)) && !(await inTree(wd, head, s.dockerfile))) {
      log.warning(
        `service ${name}: ${s.dockerfile} does not exist at the head; reported in "deleted", not built`
      )
      deleted.push(name)
    }
  }
  if (deleted.length > 0) selection.selected = selection.selected.filter(n => !deleted.includes(n))
  const matrix = buildMatrix(config, selection, req.maxJobs)
  for (const e of matrix.include) log.info(`${e.service}: ${e.reasons.join('; ')}`)
  if (selection.selected.length === 0) log.info('no service selected')
  list.close()
  return {
    config,
    selection,
    matrix,
    deleted: [...new Set(deleted)],
    base: resolved.kind === 'commit' ? resolved.sha : undefined,
    head,
    why: resolved.why,
    changedFiles: changeCount,
    changedFilesPath: list.path,
    hasChanges: resolved.kind === 'all' || changeCount > 0
  }
}
