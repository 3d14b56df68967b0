/**
 * The workflow run an action runs in, read from the runner's environment in one place:
 * the event payload (`GITHUB_EVENT_PATH`), the server and API URLs (GitHub Enterprise
 * Server sets its own) and the run's URL. An unset or empty variable means the default;
 * an unreadable payload is an empty one.
 */
import { readFileSync } from 'node:fs'

/** A webhook event payload (`GITHUB_EVENT_PATH`), as parsed JSON. */
export type EventPayload = Readonly<Record<string, unknown>>

/**
 * The run's event payload: `{}` when `GITHUB_EVENT_PATH` is unset, names no file, or
 * holds anything but a JSON object.
 */
export function readEventPayload(env: NodeJS.ProcessEnv = process.env): EventPayload {
  const path = env.GITHUB_EVENT_PATH
  if (!path) return {}
  try {
    const value = JSON.parse(readFileSync(path, 'utf8')) as unknown
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as EventPayload)
      : {}
  } catch {
    return {}
  }
}

/** A nested field of a payload (`path` of keys), or undefined where any step is missing. */
export function payloadField(payload: unknown, ...path: string[]): unknown {
  let value = payload
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined
    value = (value as Record<string, unknown>)[key]
  }
  return value
}

/** The GitHub server's URL without a trailing slash (`GITHUB_SERVER_URL`). */
export function serverUrl(env: NodeJS.ProcessEnv = process.env): string {
  return (env.GITHUB_SERVER_URL?.trim() || 'https://github.com').replace(/\/+$/, '')
}

/** The REST API's URL without a trailing slash (`GITHUB_API_URL`; GHES serves `<server>/api/v3`). */
export function apiUrl(env: NodeJS.ProcessEnv = process.env): string {
  return (env.GITHUB_API_URL?.trim() || 'https://api.github.com').replace(/\/+$/, '')
}

/** This workflow run's page, or undefined outside a run (no repository or run id). */
export function runUrl(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const repository = env.GITHUB_REPOSITORY
  const runId = env.GITHUB_RUN_ID
  return repository && runId ? `${serverUrl(env)}/${repository}/actions/runs/${runId}` : undefined
}
