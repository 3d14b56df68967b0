/**
 * Errors a user can fix: a bad input, a bad services file, a server that says
 * the credentials are wrong. The top-level wrapper prints their message alone,
 * without a stack trace, since the stack would not help the user.
 */
export class ConfigurationError extends Error {
  override name = 'ConfigurationError'
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
