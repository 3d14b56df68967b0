/**
 * Child processes over argv arrays only (no shell), with stdin, a timeout, and
 * captured output bounded in size. The command line is logged with every registered
 * secret redacted; arguments marked secret are never logged at all.
 */
import { spawn } from 'node:child_process'
import type { Logger } from './logger.js'
import { secrets } from './secrets.js'

/** Options of one child process. */
export interface ExecOptions {
  cwd?: string
  /**
   * Environment; defaults to process.env. Values here are not logged. `INPUT_*`
   * variables (the action's inputs, secrets among them) are never passed on.
   */
  env?: NodeJS.ProcessEnv
  /** Written to stdin, then stdin is closed. */
  input?: string | Buffer
  /** Kill the process (SIGTERM, then SIGKILL after 5 s) after this many ms. */
  timeoutMs?: number
  /** Keep at most this many bytes of each of stdout and stderr (the tail). Default 4 MiB. */
  maxOutputBytes?: number
  /** Indexes of args never shown in logs. */
  secretArgs?: number[]
  /** Log the command line (info) and stream nothing; default false. */
  logger?: Logger
  /** Resolve instead of throwing on a non-zero exit. */
  allowFailure?: boolean
  /** Called with every chunk of stdout (for progress). */
  onStdout?: (chunk: Buffer) => void
  onStderr?: (chunk: Buffer) => void
  /** Kill the process (SIGTERM) when this aborts; the promise then rejects. */
  signal?: AbortSignal
}

/** What a finished process left. */
export interface ExecResult {
  code: number
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  /** Whether either stream was cut to maxOutputBytes. */
  truncated: boolean
  timedOut: boolean
  durationMs: number
}

/** A process that failed: its message carries the last lines of stderr, redacted. */
export class ExecError extends Error {
  override name = 'ExecError'
  constructor(
    message: string,
    readonly result: ExecResult
  ) {
    super(message)
  }
}

/** The command line as it may be shown: secret args hidden, secrets redacted. */
export function displayCommand(
  command: string,
  args: readonly string[],
  secretArgs: number[] = []
): string {
  const shown = args.map((a, i) =>
    secretArgs.includes(i) ? '***' : /[\s"'$`\\]/.test(a) || a === '' ? JSON.stringify(a) : a
  )
  return secrets.redact([command, ...shown].join(' '))
}

class Tail {
  private chunks: Buffer[] = []
  private size = 0
  truncated = false
  constructor(private readonly max: number) {}
  push(chunk: Buffer): void {
    this.chunks.push(chunk)
    this.size += chunk.length
    while (this.size > this.max && this.chunks.length > 1) {
      this.size -= this.chunks.shift()!.length
      this.truncated = true
    }
    if (this.size > this.max) {
      const only = this.chunks[0]!
      this.chunks = [only.subarray(only.length - this.max)]
      this.size = this.max
      this.truncated = true
    }
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8')
  }
}

/** The last `n` non-empty lines of a text. */
export function lastLines(text: string, n: number): string {
  return text
    .split(/\r?\n/)
    .filter(l => l.trim() !== '')
    .slice(-n)
    .join('\n')
}

/**
 * The runner's request tokens: no child process needs them (the action's own code
 * makes every call they are for), and a child that logs its environment would show them.
 */
const RUNNER_TOKENS = new Set([
  'ACTIONS_RUNTIME_TOKEN',
  'ACTIONS_ID_TOKEN_REQUEST_TOKEN',
  'GITHUB_TOKEN'
])

/**
 * The environment a child gets: `env` without the action's `INPUT_*` variables, which
 * hold the raw inputs (secrets among them), and without the runner's request tokens.
 * Every process `exec` starts gets this; pass it on where a child is started otherwise.
 */
export function childEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(env)) {
    if (!/^INPUT_/i.test(k) && !RUNNER_TOKENS.has(k)) out[k] = v
  }
  return out
}

/** Run a command with an argv array. Throws ExecError on a non-zero exit unless allowFailure. */
export function exec(
  command: string,
  args: readonly string[],
  options: ExecOptions = {}
): Promise<ExecResult> {
  const max = options.maxOutputBytes ?? 4 * 1024 * 1024
  const shown = displayCommand(command, args, options.secretArgs)
  options.logger?.info(`$ ${shown}`)
  const started = Date.now()
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: childEnv(options.env ?? process.env),
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(options.signal ? { signal: options.signal } : {})
    })
    const out = new Tail(max)
    const err = new Tail(max)
    let timedOut = false
    let killTimer: NodeJS.Timeout | undefined
    const timer =
      options.timeoutMs !== undefined
        ? setTimeout(() => {
            timedOut = true
            child.kill('SIGTERM')
            killTimer = setTimeout(() => child.kill('SIGKILL'), 5000)
          }, options.timeoutMs)
        : undefined
    // A callback that throws (a consumer refusing what it was given) ends the process
    // and rejects with that error, rather than escaping as an uncaught exception.
    let callbackError: { error: unknown } | undefined
    const call = (fn: ((chunk: Buffer) => void) | undefined, c: Buffer): void => {
      if (!fn || callbackError) return
      try {
        fn(c)
      } catch (error) {
        callbackError = { error }
        child.kill('SIGTERM')
      }
    }
    child.stdout.on('data', (c: Buffer) => {
      out.push(c)
      call(options.onStdout, c)
    })
    child.stderr.on('data', (c: Buffer) => {
      err.push(c)
      call(options.onStderr, c)
    })
    child.stdin.on('error', () => undefined)
    // A grandchild (a backgrounded process, a `sh -c` child the timeout did not reach)
    // can hold the output pipes open long after the child exited: stop waiting for it.
    let drainTimer: NodeJS.Timeout | undefined
    child.on('exit', () => {
      drainTimer = setTimeout(
        () => {
          child.stdout.destroy()
          child.stderr.destroy()
        },
        timedOut ? 500 : 2000
      )
      drainTimer.unref()
    })
    child.on('error', error => {
      clearTimeout(timer)
      clearTimeout(killTimer)
      const code = (error as NodeJS.ErrnoException).code
      const why =
        code === 'ENOENT'
          ? `${command}: command not found`
          : code === 'ABORT_ERR'
            ? `${command}: aborted`
            : `${command}: ${error.message}`
      reject(
        new ExecError(why, {
          code: -1,
          signal: null,
          stdout: '',
          stderr: '',
          truncated: false,
          timedOut: false,
          durationMs: Date.now() - started
        })
      )
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      clearTimeout(killTimer)
      clearTimeout(drainTimer)
      if (callbackError) {
        reject(callbackError.error)
        return
      }
      const result: ExecResult = {
        code: code ?? -1,
        signal,
        stdout: out.text(),
        stderr: err.text(),
        truncated: out.truncated || err.truncated,
        timedOut,
        durationMs: Date.now() - started
      }
      if ((result.code !== 0 || timedOut) && !options.allowFailure) {
        const why = timedOut
          ? `timed out after ${Math.round((options.timeoutMs ?? 0) / 1000)}s`
          : signal
            ? `killed by ${signal}`
            : `exited with code ${result.code}`
        const tail = lastLines(result.stderr || result.stdout, 20)
        reject(new ExecError(secrets.redact(`${shown} ${why}${tail ? `:\n${tail}` : ''}`), result))
        return
      }
      resolve(result)
    })
    if (options.input !== undefined) child.stdin.end(options.input)
    else child.stdin.end()
  })
}
