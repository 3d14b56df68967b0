/**
 * The pre-push leak scan: everything that would leave the runner with a push or a pull
 * request (the diff, the full content of every changed file, the file paths, the commit
 * message, the branch name, the pull request's title and body) is searched for every
 * registered secret in every derived encoding. A hit names where, never what.
 */
import { ConfigurationError } from '../../core/errors.js'
import type { SecretRegistry } from '../../core/secrets.js'

/** One place a secret was found. */
export interface LeakHit {
  /** e.g. `file overlays/prod/deployment.yaml`, `commit message`, `branch name`. */
  where: string
  line?: number
}

/** The outgoing change to scan. */
export interface Outgoing {
  files: Map<string, string>
  diff: string
  message: string
  branch: string
  prTitle?: string
  prBody?: string
}

function linesWith(text: string, registry: SecretRegistry): number[] {
  const out: number[] = []
  text.split('\n').forEach((line, i) => {
    if (registry.leaks(line)) out.push(i + 1)
  })
  // A form spanning a line break still leaks: report the text as a whole.
  if (out.length === 0 && registry.leaks(text)) out.push(0)
  return out
}

/** Every hit in the outgoing change. Pure. */
export function scanOutgoing(out: Outgoing, registry: SecretRegistry): LeakHit[] {
  const hits: LeakHit[] = []
  const add = (where: string, text: string | undefined): void => {
    if (text === undefined) return
    for (const line of linesWith(text, registry))
      hits.push({ where, ...(line > 0 ? { line } : {}) })
  }
  for (const [file, content] of out.files) {
    if (registry.leaks(file)) hits.push({ where: 'a changed file path' })
    add(`file ${registry.leaks(file) ? '(a path holding a secret)' : file}`, content)
  }
  add('diff', out.diff)
  add('commit message', out.message)
  add('branch name', out.branch)
  add('pull request title', out.prTitle)
  add('pull request body', out.prBody)
  return hits
}

/** Throw when the outgoing change holds a secret, naming each place. */
export function assertNoLeak(out: Outgoing, registry: SecretRegistry): void {
  const hits = scanOutgoing(out, registry)
  if (hits.length === 0) return
  const shown = hits
    .slice(0, 10)
    .map(h => `${h.where}${h.line !== undefined ? ` line ${h.line}` : ''}`)
    .join('; ')
  throw new ConfigurationError(
    `refusing to push: the outgoing change holds a registered secret (in any encoding) at ${shown}${hits.length > 10 ? ` and ${hits.length - 10} more` : ''}. Nothing was pushed.`
  )
}
