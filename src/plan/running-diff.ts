/**
 * A plan's diff while git runs: `git diff` between base and head, parsed, listed as
 * JSON into the changed-files file and, once the services are known, selected while
 * git is still writing it. A push or a merge group names its likely base, so the diff
 * can start before that base is confirmed.
 */
import { git } from '../core/git.js'
import { openDataFile, type DataFile } from '../core/outputs.js'
import type { ServicesConfig } from '../model/services/config.js'
import type { BaseDecision } from './base.js'
import { ChangedFilesJson, NameStatusParser, diffArgs } from './diff.js'
import { FULL_SHA, type PlanRepo } from './repo.js'
import { ServiceSelector, type Selection } from './select.js'

/** The most diff output a plan reads. */
const MAX_DIFF_BYTES = 1 << 30

/** A diff under way: what it found, once `finish()`ed with the services. */
export interface RunningDiff {
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
export function startDiff(
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
export async function speculativeDiff(
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
