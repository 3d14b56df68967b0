/**
 * Errors a user can fix: a bad input, a bad services file, a server that says
 * the credentials are wrong. The top-level wrapper prints their message alone,
 * without a stack trace, since the stack would not help the user.
 */
export class ConfigurationError extends Error {
  override name = 'ConfigurationError'
}

/** A place in a file of the repository: what a GitHub annotation points at. */
export interface FileLocation {
  /** Path relative to the repository root (GITHUB_WORKSPACE), `/` separators. */
  file: string
  /** 1-based. */
  line: number
  /** 1-based. */
  col: number
}

/**
 * A mistake in a file of the repository (the services file): the top-level wrapper
 * prints it as an annotation on that file, line and column, so it shows on the file
 * in a pull request.
 */
export class FileConfigurationError extends ConfigurationError {
  override name = 'FileConfigurationError'
  constructor(
    message: string,
    public location: FileLocation
  ) {
    super(message)
  }
}

/** Quote a value for an error message, shortened so a huge input cannot flood the log. */
export function quote(value: string, max = 120): string {
  const shown = value.length > max ? `${value.slice(0, max)}… (${value.length} characters)` : value
  return JSON.stringify(shown)
}

/**
 * A ConfigurationError for an input: names the input, what it got and what was expected.
 * With `secret: true` the value is never shown, only its length.
 */
export function invalidInput(
  input: string,
  got: string,
  expected: string,
  options: { secret?: boolean } = {}
): ConfigurationError {
  const shown = options.secret ? `a value of ${got.length} characters` : quote(got)
  return new ConfigurationError(`input "${input}": got ${shown}, expected ${expected}`)
}

/** The message of anything thrown. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message
  return String(error)
}
