/**
 * The logger every library function takes as an argument, so tests need no module
 * mocks. `actionsLogger()` is the thin adapter over @actions/core; `memoryLogger()`
 * records lines for tests. Every line goes through the secrets registry first.
 */
import * as core from '@actions/core'
import { secrets } from './secrets.js'

/** Where an annotation points. */
export interface AnnotationProps {
  title?: string
  file?: string
  startLine?: number
  endLine?: number
  startColumn?: number
}

/** The logging surface of the toolkit. */
export interface Logger {
  debug(message: string): void
  info(message: string): void
  notice(message: string, props?: AnnotationProps): void
  warning(message: string, props?: AnnotationProps): void
  error(message: string, props?: AnnotationProps): void
  /** Run `fn` inside a collapsible log group. */
  group<T>(name: string, fn: () => Promise<T>): Promise<T>
}

/**
 * Text for a plain log line that cannot issue a workflow command: a line of untrusted
 * text (a commit message, a tool's output) starting with `::` would otherwise be obeyed
 * by the runner, and `::stop-commands::` would switch off every later `::add-mask::`.
 */
export function neutralizeCommands(text: string): string {
  return text.replace(/^(\s*)::/gm, '$1:\u200b:')
}

/** A logger that writes workflow commands through @actions/core. */
export function actionsLogger(): Logger {
  const r = (s: string): string => secrets.redact(s)
  return {
    debug: m => core.debug(r(m)),
    info: m => core.info(neutralizeCommands(r(m))),
    notice: (m, p) => core.notice(r(m), p),
    warning: (m, p) => core.warning(r(m), p),
    error: (m, p) => core.error(r(m), p),
    group: (name, fn) => core.group(r(name), fn)
  }
}

/** One recorded line of a memory logger. */
export interface LogLine {
  level: 'debug' | 'info' | 'notice' | 'warning' | 'error' | 'group'
  message: string
  props?: AnnotationProps
}

/** A logger that records redacted lines in memory; for tests. */
export function memoryLogger(): Logger & { lines: LogLine[]; text(): string } {
  const lines: LogLine[] = []
  const push = (level: LogLine['level'], message: string, props?: AnnotationProps): void => {
    lines.push({ level, message: secrets.redact(message), props })
  }
  return {
    lines,
    text: () => lines.map(l => `${l.level}: ${l.message}`).join('\n'),
    debug: m => push('debug', m),
    info: m => push('info', m),
    notice: (m, p) => push('notice', m, p),
    warning: (m, p) => push('warning', m, p),
    error: (m, p) => push('error', m, p),
    group: async (name, fn) => {
      push('group', name)
      return fn()
    }
  }
}

/** A logger that drops everything. */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  notice: () => undefined,
  warning: () => undefined,
  error: () => undefined,
  group: (_name, fn) => fn()
}
