/**
 * The one place that turns an action's errors into a failed step, and a post step's
 * errors into warnings. Also wires the secrets registry to the runner's masking.
 */
import * as core from '@actions/core'
import { ConfigurationError, errorMessage, FileConfigurationError } from './errors.js'
import { actionsLogger, type Logger } from './logger.js'
import { secrets } from './secrets.js'

/**
 * Connect the secrets registry to `::add-mask::`, and its warnings about short secrets
 * to `::warning::`. Idempotent. The forms of one secret (a signing key has about a
 * hundred) go out in one write: stdout to a pipe is written synchronously, one system
 * call per write, and the runner reads every one.
 */
export function wireMasking(): void {
  secrets.setMask(values => {
    process.stdout.cork()
    try {
      for (const value of values) core.setSecret(value)
    } finally {
      process.stdout.uncork()
    }
  })
  secrets.setWarn(message => core.warning(secrets.redact(message)))
}

/**
 * Run an action's main step: every error becomes `setFailed('<action> failed: ...')`,
 * redacted. A ConfigurationError is the user's to fix and is printed without a stack;
 * one that points into a file of the repository becomes an annotation on that file,
 * line and column (`::error file=...,line=...,col=...::`).
 */
export function runMain(action: string, main: (log: Logger) => Promise<void>): Promise<void> {
  return runStep(main, (error, log) => {
    if (!(error instanceof ConfigurationError) && error instanceof Error && error.stack) {
      log.debug(error.stack)
    }
    const message = secrets.redact(`${action} failed: ${errorMessage(error)}`)
    if (error instanceof FileConfigurationError) {
      process.exitCode = core.ExitCode.Failure
      core.error(message, {
        title: `${action}: ${secrets.redact(error.location.file)}`,
        file: secrets.redact(error.location.file),
        startLine: error.location.line,
        startColumn: error.location.col
      })
    } else core.setFailed(message)
  })
}

/** Run an action's post step: errors only warn, the job never fails here. */
export function runPost(action: string, post: (log: Logger) => Promise<void>): Promise<void> {
  return runStep(post, (error, log) => log.warning(`${action} cleanup: ${errorMessage(error)}`))
}

/** Run one step with masking wired and the runner's logger; `failed` takes what it throws. */
async function runStep(
  step: (log: Logger) => Promise<void>,
  failed: (error: unknown, log: Logger) => void
): Promise<void> {
  wireMasking()
  const log = actionsLogger()
  try {
    await step(log)
  } catch (error) {
    failed(error, log)
  }
}

/**
 * End the process once stdout and stderr have taken everything written to them. An
 * action's entry point calls this when its step is done: nothing still pending (a
 * keep-alive socket, a child's pipe, a garbage collection the heap began) can then
 * hold the step open, or add its teardown to the step's time (about 15 ms after a
 * large plan). The exit code is the one the step set.
 */
export function endProcess(): void {
  let pending = 2
  const flushed = (): void => {
    if (--pending === 0) process.exit()
  }
  process.stdout.write('', flushed)
  process.stderr.write('', flushed)
}
