/**
 * `plan`: which services changed between a base and the head, as a build matrix,
 * with the reason for every selection. Pure git; a token only for the opt-in
 * base-from-last-success.
 */
import { existsSync } from 'node:fs'
import { join, posix, relative, sep } from 'node:path'
import { apiUrl, readEventPayload, serverUrl } from '../../core/context.js'
import { ConfigurationError, errorMessage, FileConfigurationError } from '../../core/errors.js'
import { git } from '../../core/git.js'
import type { Logger } from '../../core/logger.js'
import { openDataFile, setOutput, type DataFile } from '../../core/outputs.js'
import { chooseBase, type BaseDecision } from '../../plan/base.js'
import { ChangedFilesJson, NameStatusParser, diffArgs } from '../../plan/diff.js'
import { FULL_SHA, PlanRepo } from '../../plan/repo.js'
import { resolveBase, type ResolvedBase } from '../../plan/resolve-base.js'
import { lastSuccessfulSha } from '../../plan/last-success.js'
import { ServiceSelector, selectAll, type Selection } from '../../plan/select.js'
import { buildMatrix, planSummary } from '../../plan/summary.js'
import { runMain } from '../../core/run.js'
import { discoverServices } from '../../model/services/discover.js'
import { loadServices } from '../../model/services/load.js'
import { parseServices } from '../../model/services/parse.js'
import { type Service, type ServicesConfig } from '../../model/services/config.js'
import { getInputs, type Inputs } from './inputs.js'

/** The most diff output a plan reads. */
const MAX_DIFF_BYTES = 1 << 30

/** The services as they were at `sha` (to tell which were deleted); undefined when unreadable. */
async function servicesAt(
  repo: PlanRepo,
  sha: string,
  config: ServicesConfig,
  inputs: Inputs,
  log: Logger
): Promise<Service[] | undefined> {
  const listDockerfiles = async (): Promise<string[]> => {
    const r = await git(['ls-tree', '-r', '-z', '--name-only', sha], {
      cwd: repo.cwd,
      maxOutputBytes: 1 << 30
    })
    return r.stdout.split('\0').filter(f => posix.basename(f) === 'Dockerfile')
  }
  try {
    // What the tree holds at that path: only a regular file is read. A symlink
    // (mode 120000) is never followed, and its target text is not parsed either.
    const entry = await git(['ls-tree', '-z', sha, '--', `./${inputs.config}`], {
      cwd: repo.cwd,
      allowFailure: true
    })
    const tab = entry.stdout.indexOf('\t')
    const [mode, type, oid] = entry.stdout.slice(0, Math.max(0, tab)).split(' ')
    if (entry.code === 0 && tab > 0 && !(type === 'blob' && /^1006[0-7]{2}$/.test(mode ?? ''))) {
      log.info(
        `the services file at the base ${sha.slice(0, 12)} is not a regular file (mode ${mode}, ${type}); not read, deletions are judged by the head alone`
      )
      return undefined
    }
    const shown =
      entry.code === 0 && tab > 0
        ? await git(['cat-file', 'blob', oid!], { cwd: repo.cwd, allowFailure: true })
        : { code: 1, stdout: '' }
    if (shown.code === 0) {
      let needed = false
      const first = parseServices(shown.stdout, inputs.config, () => {
        needed = true
        return []
      })
      if (!needed) return first.services
      const files = await listDockerfiles()
      return parseServices(shown.stdout, inputs.config, d => discoverServices(files, d)).services
    }
    return discoverServices(await listDockerfiles(), config.defaults)
  } catch (error) {
    log.info(
      `the services at the base ${sha.slice(0, 12)} could not be read (${errorMessage(error)}); deletions are judged by the head alone`
    )
    return undefined
  }
}

/** Whether `path` (relative to `cwd`) is a file in commit `sha`'s tree (no blob is fetched). */
async function inTree(cwd: string, sha: string, path: string): Promise<boolean> {
  const r = await git(['ls-tree', '--name-only', sha, '--', `./${path}`], {
    cwd,
    allowFailure: true
  })
  return r.code === 0 && r.stdout.trim() !== ''
}

/** A diff under way: what it found, once `finish()`ed with the services. */
interface RunningDiff {
  readonly base: string
  readonly head: string
  /** The changed-files list it writes. */
  readonly list: DataFile
  finish(config: ServicesConfig): Promise<{
    count: number
    selection: Selection
    configChanged: boolean
    removals: boolean
    durationMs: number
  }>
  /** Stop git and close the list (the plan failed, or chose another base). */
  abort(): void
}

/**
 * Start `git diff` between base and head. Its output is parsed, listed as JSON and,
 * once the services are known, selected while git is still writing it.
 */
function startDiff(
  cwd: string,
  base: string,
  head: string,
  relative: boolean,
  configPath: string,
  listName: string
): RunningDiff {
  const list = openDataFile(listName)
  const args = diffArgs(base, head)
  if (relative) args.splice(args.indexOf('-M'), 0, '--relative')
  const json = new ChangedFilesJson(text => list.write(text))
  let selector: ServiceSelector | undefined
  /** What git listed before the services were loaded, for the selector once it is. */
  const early: ((s: ServiceSelector) => void)[] = []
  let configChanged = false
  let removals = false
  const parser = new NameStatusParser(
    (status, path, from) => {
      const renamed = from !== undefined && from !== path
      if (selector) {
        if (renamed) selector.add(from)
        selector.add(path)
      } else
        early.push(s => {
          if (renamed) s.add(from)
          s.add(path)
        })
      json.add(status, path, from)
      if (status === 'D' || status === 'R') removals = true
      if (path === configPath || from === configPath) configChanged = true
    },
    (run, status) => {
      const records = json.addRun(run, status)
      if (selector) selector.addRun(run, records)
      else early.push(s => s.addRun(run, records))
      // In a run a one-character field is a status and a longer one a path, so a
      // whole field between NULs is found exactly.
      if (status !== undefined ? status === 'D' : run.startsWith('D\0') || run.includes('\0D\0'))
        removals = true
      if (configPath.length > 1 && run.includes(`\0${configPath}\0`)) configChanged = true
      return records
    }
  )
  let bytes = 0
  const abort = new AbortController()
  const running = git(args, {
    cwd,
    maxOutputBytes: 64 * 1024,
    timeoutMs: 10 * 60_000,
    signal: abort.signal,
    onStdout: chunk => {
      // What a stopped git still had in the pipe goes nowhere.
      if (abort.signal.aborted) return
      bytes += chunk.length
      if (bytes <= MAX_DIFF_BYTES) parser.push(chunk)
    }
  })
  // Failures surface in finish(); an aborted diff is nobody's concern.
  running.catch(() => undefined)
  return {
    base,
    head,
    list,
    abort: () => {
      abort.abort()
      list.close()
    },
    async finish(config) {
      selector = new ServiceSelector(config)
      for (const replay of early) replay(selector)
      early.length = 0
      let r
      try {
        r = await running
      } catch (error) {
        list.close()
        throw error
      }
      if (bytes > MAX_DIFF_BYTES) throw new Error('git diff output exceeded 1 GiB')
      parser.end()
      json.end()
      return {
        count: parser.count,
        selection: selector.finish(),
        configChanged,
        removals,
        durationMs: r.durationMs
      }
    }
  }
}

/**
 * The diff from the base a push or merge group names, started as soon as that base
 * and the head are found here (no fetch is made for it); undefined for other events,
 * or when either commit is missing.
 */
async function speculativeDiff(
  repo: PlanRepo,
  decision: BaseDecision,
  top: Promise<{ code: number }>,
  diffFrom: (base: string, head: string) => Promise<RunningDiff>
): Promise<RunningDiff | undefined> {
  const b = decision.base
  const guess = b.kind === 'before' ? b.before : b.kind === 'commit' ? b.sha : undefined
  if (!guess || !FULL_SHA.test(guess) || !FULL_SHA.test(decision.head)) return undefined
  const [prefix, base, head] = await Promise.all([
    top,
    repo.commit(guess),
    repo.commit(decision.head)
  ])
  if (prefix.code !== 0 || !base || !head) return undefined
  return diffFrom(base, head)
}

/** Run the plan action. */
export async function run(): Promise<void> {
  await runMain('plan', async log => {
    const inputs = getInputs()
    const wd = inputs.workingDirectory
    const repo = new PlanRepo(wd, log, {
      token: inputs.token,
      serverUrl: serverUrl()
    })
    const topRun = git(['rev-parse', '--show-prefix'], { cwd: wd, allowFailure: true })
    const decision: BaseDecision = chooseBase({
      eventName: process.env.GITHUB_EVENT_NAME ?? '',
      event: readEventPayload(),
      ref: process.env.GITHUB_REF ?? '',
      sha: process.env.GITHUB_SHA ?? '',
      inputBase: inputs.base,
      tags: inputs.tags,
      baseFromLastSuccess: inputs.baseFromLastSuccess
    })
    const suffix = (process.env.GITHUB_ACTION ?? 'plan').replace(/[^A-Za-z0-9_-]/g, '_')
    const listName = `plan-changed-files-${suffix}.json`
    /** The diff between two commits found here, listed into the changed-files file. */
    const diffFrom = async (base: string, head: string): Promise<RunningDiff> =>
      startDiff(wd, base, head, (await topRun).stdout.trim() !== '', inputs.config, listName)
    // A push names its likely base (`before`), a merge group its base_sha: when that
    // commit and the head are already here, git starts on the diff at once, while the
    // base is confirmed; a different base discards it. The services file is read
    // meanwhile too (its errors wait their turn).
    const early = speculativeDiff(repo, decision, topRun, diffFrom)
    early.catch(() => undefined)
    const services = loadServices({
      workspace: wd,
      config: inputs.config,
      requireFile: inputs.requireConfig,
      rootName: 'the working directory'
    }).catch((error: unknown) => {
      // An annotation points into the repository: the file relative to its root.
      if (error instanceof FileConfigurationError) {
        const prefix = relative(inputs.workspace, wd).split(sep).join('/')
        if (prefix !== '') error.location.file = posix.join(prefix, error.location.file)
      }
      throw error
    })
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
      ;({ head, resolved } = await log.group('Choose the base', async () => {
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
            apiUrl: apiUrl(),
            repository: process.env.GITHUB_REPOSITORY ?? '',
            workflowRef: process.env.GITHUB_WORKFLOW_REF,
            runId: process.env.GITHUB_RUN_ID,
            branch: decision.base.kind === 'last-success' ? decision.base.branch : undefined,
            token: inputs.token ?? '',
            log
          })
        )
        log.info(
          resolved.kind === 'commit' ? `base ${resolved.sha} (${resolved.why})` : resolved.why
        )
        return { head, resolved }
      }))
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
        const before = await servicesAt(repo, resolved.sha, config, inputs, log)
        const now = new Set(config.services.map(s => s.name))
        for (const s of before ?? []) if (!now.has(s.name)) deleted.push(s.name)
      }
    } else if (resolved.kind === 'all') {
      list = openDataFile(listName)
      list.write('[]\n')
      selection = selectAll(config, resolved.why)
    } else {
      list = openDataFile(listName)
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
    if (deleted.length > 0)
      selection.selected = selection.selected.filter(n => !deleted.includes(n))
    const matrix = buildMatrix(config, selection, inputs.maxJobs)
    for (const e of matrix.include) log.info(`${e.service}: ${e.reasons.join('; ')}`)
    if (selection.selected.length === 0) log.info('no service selected')
    list.close()
    const changedFilesPath = list.path
    setOutput('matrix', matrix)
    setOutput('services', selection.selected)
    setOutput('count', selection.selected.length)
    setOutput('has-changes', resolved.kind === 'all' || changeCount > 0)
    setOutput('base', resolved.kind === 'commit' ? resolved.sha : '')
    setOutput('head', head)
    setOutput('changed-files-path', changedFilesPath)
    setOutput('deleted', [...new Set(deleted)])
    planSummary({
      config,
      selection,
      deleted: [...new Set(deleted)],
      base: resolved.kind === 'commit' ? resolved.sha : undefined,
      head,
      why: resolved.why,
      changedFiles: changeCount,
      changedFilesPath
    }).write()
  })
}
