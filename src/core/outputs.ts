/**
 * Outputs, state and environment through the runner's file commands, kept far below
 * the runner's 1 MB per-job output limit: large data goes to a file under
 * RUNNER_TEMP and only its path becomes an output. A value that holds a registered
 * secret is refused, never written: the runner would mask it, silently changing it.
 */
import { randomUUID } from 'node:crypto'
import {
  appendFileSync,
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  writeSync
} from 'node:fs'
import { join } from 'node:path'
import { secrets } from './secrets.js'

/** Largest single output value we write (bytes). */
export const MAX_OUTPUT_BYTES = 256 * 1024
/** Largest total of all outputs of one step (bytes). */
export const MAX_TOTAL_OUTPUT_BYTES = 512 * 1024

let totalBytes = 0

function fileCommand(file: string | undefined, name: string, value: string): boolean {
  if (!file) return false
  let delimiter = `ghadelimiter_${randomUUID()}`
  while (value.includes(delimiter) || name.includes(delimiter))
    delimiter = `ghadelimiter_${randomUUID()}`
  appendFileSync(file, `${name}<<${delimiter}\n${value}\n${delimiter}\n`, 'utf8')
  return true
}

/** Thrown when an output would be too large; the caller should write a file instead. */
export class OutputTooLargeError extends Error {
  override name = 'OutputTooLargeError'
}

/**
 * Set a step output. A value that holds a registered secret (in any encoding) is
 * refused with a MaskedValueError naming the output: the runner would mask it, and a
 * digest or a path silently turned into `***` breaks whatever reads it. Free text that
 * may quote a secret (a server's message) is redacted by the caller first, visibly.
 * Refuses values that would bring the step near the runner's output limit.
 */
export function setOutput(name: string, value: string | number | boolean | object): void {
  const text =
    typeof value === 'string'
      ? value
      : typeof value === 'object'
        ? JSON.stringify(value)
        : String(value)
  secrets.assertUnmasked(`output "${name}"`, text)
  const safe = text
  const bytes = Buffer.byteLength(safe) + Buffer.byteLength(name)
  if (bytes > MAX_OUTPUT_BYTES || totalBytes + bytes > MAX_TOTAL_OUTPUT_BYTES) {
    throw new OutputTooLargeError(
      `output "${name}" would be ${bytes} bytes (step total ${totalBytes + bytes}); outputs are capped at ${MAX_OUTPUT_BYTES} bytes each and ${MAX_TOTAL_OUTPUT_BYTES} in all to stay under the runner's 1 MB limit`
    )
  }
  totalBytes += bytes
  if (!fileCommand(process.env.GITHUB_OUTPUT, name, safe)) {
    process.stdout.write(`output ${name}=${safe}\n`)
  }
}

/** Reset the running output total; for tests. */
export function resetOutputTotals(): void {
  totalBytes = 0
}

/**
 * Save state for the post step (read there with `getState`). GITHUB_STATE is a file
 * on the runner, so a value holding a secret is refused (save a path to a 0600 file
 * under RUNNER_TEMP instead).
 */
export function saveState(name: string, value: string): void {
  if (secrets.leaks(value)) throw new Error(`refusing to save state ${name}: it holds a secret`)
  fileCommand(process.env.GITHUB_STATE, name, value)
}

/** State saved by the main step. */
export function getState(name: string): string {
  return process.env[`STATE_${name}`] ?? ''
}

/** Export an environment variable to later steps. Refuses secrets. */
export function exportVariable(name: string, value: string): void {
  if (secrets.leaks(value)) throw new Error(`refusing to export ${name}: it holds a secret`)
  process.env[name] = value
  fileCommand(process.env.GITHUB_ENV, name, value)
}

/** RUNNER_TEMP (or the OS temp dir outside a runner) plus `conveyor/`. */
export function runnerTemp(): string {
  const base = process.env.RUNNER_TEMP || process.env.TMPDIR || '/tmp'
  const dir = join(base, 'conveyor')
  mkdirSync(dir, { recursive: true })
  return dir
}

/**
 * Write data too large for an output to a file under RUNNER_TEMP; returns its path.
 * Text holding a registered secret is refused (MaskedValueError), never rewritten.
 */
export function writeDataFile(fileName: string, content: string | Buffer): string {
  const file = openDataFile(fileName)
  try {
    file.write(content)
  } finally {
    file.close()
  }
  return file.path
}

/** A data file under RUNNER_TEMP written piece by piece (each piece redacted). */
export interface DataFile {
  readonly path: string
  write(content: string | Buffer): void
  close(): void
}

/**
 * Create (or truncate) a 0600 data file under RUNNER_TEMP, for data written while it
 * is produced. A string piece that holds a registered secret (any encoding) is refused
 * with a MaskedValueError: write whole records, each is checked on its own.
 */
export function openDataFile(fileName: string): DataFile {
  if (fileName.includes('/') || fileName.includes('\\') || fileName.startsWith('.')) {
    throw new Error(`invalid data file name ${JSON.stringify(fileName)}`)
  }
  const path = join(runnerTemp(), fileName)
  // `mode` applies only when the file is created: tighten one that already exists
  // before writing into it.
  if (existsSync(path)) chmodSync(path, 0o600)
  let fd: number | undefined = openSync(path, 'w', 0o600)
  return {
    path,
    write(content) {
      if (fd === undefined) throw new Error(`data file ${fileName} is closed`)
      let bytes: Buffer
      let done = 0
      if (typeof content === 'string') {
        // A string goes to the file as it is encoded (no Buffer of it first); what a
        // short write leaves is written from its bytes. A piece holding a secret is
        // refused, never written changed: the file is data another step reads.
        secrets.assertUnmasked(`data file ${fileName}`, content)
        const text = content
        done = writeSync(fd, text)
        if (done === Buffer.byteLength(text)) return
        bytes = Buffer.from(text, 'utf8')
      } else bytes = content
      while (done < bytes.length) done += writeSync(fd, bytes, done)
    },
    close() {
      if (fd !== undefined) closeSync(fd)
      fd = undefined
    }
  }
}
