/**
 * The changed files between two commits, from `git diff --name-status -z -M`: NUL
 * separated, so names with spaces, quotes, newlines, non-ASCII or a leading `-` come
 * through byte for byte.
 */
import { StringDecoder } from 'node:string_decoder'

/** One changed file. */
export interface Change {
  /** A, M, D, R, C, T, U or X. */
  status: string
  /** The path at the head (for a deletion: the deleted path). */
  path: string
  /** The path at the base, for renames and copies. */
  from?: string
  /** Rename/copy similarity in percent. */
  score?: number
}

/** Receives each change in git's order; `from` only for renames and copies. */
export type ChangeSink = (status: string, path: string, from?: string, score?: number) => void

/**
 * Receives a run of simple records (see `SIMPLE_RUN`) as git wrote them,
 * `<status>\0<path>\0` each, with `status` when all have that one, and returns how
 * many it holds (its consumers split it anyway: `ChangedFilesJson.addRun` counts them).
 */
export type RunSink = (run: string, status?: string) => number

/** The statuses of a simple run (`SIMPLE_RUN`). */
const RUN_STATUSES = ['A', 'D', 'M', 'T']

/**
 * Runs of records with one of `statuses` and one path of at least two characters
 * (none of which JSON escapes), as a sticky pattern.
 */
function runPattern(statuses: readonly string[]): RegExp {
  return new RegExp(
    String.raw`(?:[${statuses.join('')}]\0[^\0"\\\u0001-\u001f\u2028\u2029]{2,}\0)+`,
    'y'
  )
}

/**
 * A run of the records git writes most: status A, D, M or T and one path of at least
 * two characters, none of which JSON escapes. In such a run a field of one character
 * is a status, never a path, so the run can be handled by native string operations
 * (`split`, `join`, `includes`) instead of record by record.
 */
const SIMPLE_RUN = runPattern(RUN_STATUSES)

/** The same, of one status (git lists a directory's files together, mostly alike). */
const ONE_STATUS_RUN: Record<string, RegExp> = Object.fromEntries(
  RUN_STATUSES.map(s => [s, runPattern([s])])
)

/** A run of one status shorter than this is taken with the mixed ones that follow. */
const ONE_STATUS_MIN = 4096

/** Records parsed one by one, after a chunk position where no simple run starts. */
const SLOW_RECORDS = 32

/**
 * `git diff --name-status -z` output parsed as it arrives: `push()` each chunk of
 * stdout (a record may span chunks, a character too), then `end()`. Records go to
 * the sink as soon as they are complete, so the work overlaps git's own. Given a
 * `runs` sink, runs of simple records go there whole instead (a 40,000-file change
 * is then a few dozen calls, not 40,000).
 */
export class NameStatusParser {
  private readonly decoder = new StringDecoder('utf8')
  private rest = ''
  private head: string | undefined
  private from: string | undefined
  /** Fields still expected for the record in `head`. */
  private need = 0
  /** Records parsed so far. */
  count = 0

  constructor(
    private readonly sink: ChangeSink,
    private readonly runs?: RunSink
  ) {}

  push(chunk: Buffer | string): void {
    const text = this.rest + (typeof chunk === 'string' ? chunk : this.decoder.write(chunk))
    // Finish a record the previous chunk began.
    let i = this.fields(text, 0)
    /** Records to parse one by one before looking for a run again. */
    let slow = 0
    for (;;) {
      if (this.runs !== undefined && slow === 0 && this.head === undefined) {
        const status = text[i]!
        const one = ONE_STATUS_RUN[status]
        let run: string | undefined
        if (one) {
          one.lastIndex = i
          run = one.exec(text)?.[0]
        }
        if (run !== undefined && run.length >= ONE_STATUS_MIN) {
          this.count += this.runs(run, status)
        } else {
          SIMPLE_RUN.lastIndex = i
          run = SIMPLE_RUN.exec(text)?.[0]
          if (run !== undefined) this.count += this.runs(run)
        }
        if (run !== undefined) i += run.length
        // After a run: the one record that ended it. Nowhere near one: a few.
        slow = run !== undefined ? 1 : SLOW_RECORDS
      }
      const end = text.indexOf('\0', i)
      if (end < 0) break
      if (end === i) {
        i++
        continue
      }
      const c = text.charCodeAt(i)
      if (end === i + 1 && c !== 82 /* R */ && c !== 67 /* C */) {
        // The common record, a status letter and one path: only the path becomes a string.
        const pathEnd = text.indexOf('\0', end + 1)
        if (pathEnd < 0) break
        this.count++
        this.sink(text[i]!, text.slice(end + 1, pathEnd))
        i = pathEnd + 1
        if (slow > 0) slow--
        continue
      }
      // A rename or copy (three fields), or a status with a score.
      this.field(text.slice(i, end))
      i = this.fields(text, end + 1)
      if (this.head !== undefined) break
      if (slow > 0) slow--
    }
    // What follows the last whole record or field waits for the next chunk.
    this.rest = text.slice(i)
  }

  /** Feed fields from `i` while a record is open; returns where it stopped. */
  private fields(text: string, i: number): number {
    while (this.head !== undefined) {
      const end = text.indexOf('\0', i)
      if (end < 0) break
      this.field(text.slice(i, end))
      i = end + 1
    }
    return i
  }

  /** The output ended: a field without its NUL still counts; a cut record throws. */
  end(): void {
    const tail = this.rest + this.decoder.end()
    this.rest = ''
    // Whole fields may wait here too; a last field without its NUL still counts.
    const fields = tail === '' ? [] : tail.split('\0')
    if (fields[fields.length - 1] === '') fields.pop()
    for (const f of fields) this.field(f)
    if (this.head !== undefined)
      throw new Error(`truncated git diff output at ${JSON.stringify(this.head)}`)
  }

  private field(f: string): void {
    if (this.head === undefined) {
      if (f === '') return
      this.head = f
      this.need = f[0] === 'R' || f[0] === 'C' ? 2 : 1
      return
    }
    if (this.need === 2) {
      this.from = f
      this.need = 1
      return
    }
    const head = this.head
    const from = this.from
    this.head = this.from = undefined
    this.count++
    if (from === undefined) this.sink(head[0]!, f)
    else {
      const score = Number(head.slice(1))
      this.sink(head[0]!, f, from, Number.isFinite(score) && head.length > 1 ? score : undefined)
    }
  }
}

/** Parse `git diff --name-status -z` output. Pure. */
export function parseNameStatus(out: string): Change[] {
  const changes: Change[] = []
  const parser = new NameStatusParser((status, path, from, score) =>
    changes.push(
      from === undefined
        ? { status, path }
        : { status, path, from, ...(score !== undefined ? { score } : {}) }
    )
  )
  parser.push(out)
  parser.end()
  return changes
}

/** Every path a change touches: both sides of a rename. */
export function touchedPaths(change: Change): string[] {
  return change.from !== undefined && change.from !== change.path
    ? [change.from, change.path]
    : [change.path]
}

/** The git arguments of the diff a plan needs. */
export function diffArgs(base: string, head: string): string[] {
  return [
    '-c',
    'core.quotePath=false',
    'diff',
    '--name-status',
    '-z',
    '-M',
    '--no-ext-diff',
    '--no-textconv',
    '--ignore-submodules=none',
    base,
    head,
    '--'
  ]
}

/** Characters JSON must escape in a string (the rest, non-ASCII included, go as they are). */
// eslint-disable-next-line no-control-regex -- exactly the characters JSON escapes
const NEEDS_ESCAPE = /["\\\u0000-\u001f\u2028\u2029]/
/** The same, but NUL (our separator while batching). */
// eslint-disable-next-line no-control-regex -- exactly the characters JSON escapes
const NEEDS_ESCAPE_BUT_NUL = /["\\\u0001-\u001f\u2028\u2029]/

/** A path as a JSON string. */
function quote(p: string): string {
  return NEEDS_ESCAPE.test(p) ? JSON.stringify(p) : `"${p}"`
}

/**
 * The changed-files list (a JSON array, one object per line: `status`, `path`, and
 * `from` for renames and copies), built as text while git lists the changes and
 * handed to `out` piece by piece (whole records each). Runs of records with one
 * status (git lists a directory's files together, usually alike) are joined
 * natively: no object, and almost no string, per record.
 */
export class ChangedFilesJson {
  private runStatus = ''
  private run: string[] = []
  private count = 0

  constructor(private readonly out: (text: string) => void) {}

  add(status: string, path: string, from?: string): void {
    if (from !== undefined) {
      this.flush()
      this.out(
        `${this.count++ === 0 ? '[\n' : ',\n'}{"status":"${status}","path":${quote(path)},"from":${quote(from)}}`
      )
      return
    }
    if (status !== this.runStatus || this.run.length === 4096) {
      this.flush()
      this.runStatus = status
    }
    this.run.push(path)
  }

  /**
   * A run of simple records as git wrote them (see `RunSink`), all of status `one`
   * when given; returns how many it held. Each status is the only one-character field,
   * so replacing `\0<status>\0` turns the run into JSON with a native split and join
   * per status present.
   */
  addRun(run: string, one?: string): number {
    this.flush()
    // Every status but the first follows a NUL; the first record and the last NUL stay.
    let text = run
    let records = 1
    for (const status of one !== undefined ? [one] : RUN_STATUSES) {
      const paths = text.split(`\0${status}\0`)
      if (paths.length === 1) continue
      records += paths.length - 1
      text = paths.join(`"},\n{"status":"${status}","path":"`)
    }
    this.out(
      `${this.count === 0 ? '[\n' : ',\n'}{"status":"${run[0]}","path":"${text.slice(2, -1)}"}`
    )
    this.count += records
    return records
  }

  /** Close the array. */
  end(): void {
    this.flush()
    this.out(this.count === 0 ? '[]\n' : '\n]\n')
  }

  private flush(): void {
    const run = this.run
    if (run.length === 0) return
    const open = `{"status":"${this.runStatus}","path":`
    const first = this.count === 0 ? '[\n' : ',\n'
    this.count += run.length
    this.run = []
    const raw = run.join('\0')
    if (!NEEDS_ESCAPE_BUT_NUL.test(raw)) {
      this.out(`${first}${open}"${raw.replaceAll('\0', `"},\n${open}"`)}"}`)
      return
    }
    this.out(`${first}${run.map(p => `${open}${quote(p)}}`).join(',\n')}`)
  }
}
