/**
 * A whole `argocd-sync` run against one Argo CD server: the preflight (version, then
 * the token or a login), the applications looked up (by name, glob or label
 * selector, each fetched once before any sync starts), then every app synced to its
 * verdict, `concurrency` at a time. Returns the per-app results; the outputs and the
 * summary are the action's.
 */
import { formatDuration } from '../core/duration.js'
import { ConfigurationError, errorMessage } from '../core/errors.js'
import { isGlob } from '../core/glob.js'
import { HttpClient } from '../core/http/client.js'
import type { Logger } from '../core/logger.js'
import { mapLimit } from '../core/pool.js'
import { secrets } from '../core/secrets.js'
import type { Application } from './application.js'
import { ArgoClient } from './client.js'
import { overall, type AppResult } from './result.js'
import { matchesSelector, parseSelector, selectApplications } from './select.js'
import { chooseSource } from './sources.js'
import { syncApplication, type SyncSettings } from './sync.js'

/** Where the Argo CD server is and how to reach and authenticate to it. */
export interface ArgoConnection {
  /** Base URL without a trailing slash. */
  server: string
  /** A bearer token; otherwise `username` and `password` log in. */
  token?: string
  username?: string
  password?: string
  /** PEM of the CA that signs the server's certificate. */
  ca?: string
  /** Skip TLS verification (warned about by the caller). */
  insecure: boolean
  /** Extra request headers. */
  headers: Record<string, string>
}

/** What to sync, where and how. */
export interface SyncJob {
  connection: ArgoConnection
  /** Names or globs (with `selector`, may be empty: every app the selector matches). */
  applications: string[]
  /** A label selector the apps must match. */
  selector?: string
  /** Apps looked up and synced at the same time. */
  concurrency: number
  /** How each app is synced and judged (scope, revision, refresh, timeouts, watch). */
  settings: SyncSettings
}

/** What a sync run found: every app's result and the overall one. */
export interface SyncRun {
  results: AppResult[]
  result: AppResult['result']
}

/**
 * The applications to sync, each fetched once (with the refresh when asked) before
 * any sync starts, so a wrong name fails the step before anything changed.
 */
async function resolveApps(
  client: ArgoClient,
  job: SyncJob,
  log: Logger
): Promise<Map<string, Application>> {
  const { scope, refresh, source, revision } = job.settings
  const { applications, selector } = job
  const needList = selector !== undefined || applications.some(isGlob)
  let names = [...new Set(applications)]
  if (needList) {
    const listed = await client.list({ ...scope, selector })
    // Filter again locally: a server that ignores the selector must not widen the set.
    const requirements = selector ? parseSelector(selector)! : []
    const apps = listed.filter(a => matchesSelector(a.metadata.labels, requirements))
    const chosen = selectApplications(apps, applications)
    const where = `${selector ? ` with selector "${selector}"` : ''}${scope.project ? ` in project "${scope.project}"` : ''}${scope.appNamespace ? ` in namespace "${scope.appNamespace}"` : ''}`
    if (chosen.names.length === 0) {
      throw new ConfigurationError(
        `no application matched input "applications" (${applications.join(', ') || 'any'})${where}; the account sees ${listed.length} application(s)`
      )
    }
    for (const u of chosen.unmatched) {
      log.warning(`input "applications": "${u}" matched no application${where}`)
    }
    names = chosen.names
  }
  const fetched = await mapLimit(names, job.concurrency, async name => {
    try {
      return { name, app: await client.get(name, scope, refresh) }
    } catch (error) {
      return { name, error: error instanceof Error ? error : new Error(String(error)) }
    }
  })
  const errors = fetched.filter(f => f.error !== undefined).map(f => f.error!)
  if (errors.length > 0) {
    const text = errors.map(e => e.message).join('\n')
    // A user mistake (wrong name, RBAC) or a server/network failure: keep the kind.
    if (errors.every(e => e instanceof ConfigurationError)) throw new ConfigurationError(text)
    throw new Error(text)
  }
  const apps = new Map(fetched.map(f => [f.name, f.app!]))
  // Which source "revision" belongs to, for every app before any sync starts.
  const wrong = [...apps.values()].flatMap(app => {
    const choice = chooseSource(app, source, revision)
    return 'error' in choice ? [choice.error] : []
  })
  if (wrong.length > 0) throw new ConfigurationError(wrong.join('\n'))
  return apps
}

/** Sync one app to its verdict; an API error is that app's failure, not the run's. */
async function syncOne(
  client: ArgoClient,
  name: string,
  settings: SyncSettings,
  initial: Application | undefined,
  log: Logger
): Promise<AppResult> {
  try {
    const r = await syncApplication(client, name, settings, log, initial)
    const line = `${name}: ${r.result} (${r.phase}, ${r.sync}, ${r.health}) in ${formatDuration(r.durationMs)}: ${r.message}`
    if (r.result === 'succeeded') log.info(line)
    else log.error(line)
    for (const res of r.resources) log.info(`  ${name}: ${res}`)
    return r
  } catch (error) {
    // One app's API error (even a permission problem) is that app's failure;
    // the others run to their own verdicts.
    const r: AppResult = {
      name,
      result: 'failed',
      phase: 'Unknown',
      sync: 'Unknown',
      health: 'Unknown',
      revision: '',
      requested: '',
      revisions: [],
      durationMs: 0,
      message: errorMessage(error),
      resources: [],
      observedBy: settings.watch,
      terminated: false,
      rollouts: []
    }
    log.error(`${name}: failed: ${r.message}`)
    return r
  }
}

/**
 * Log in, find the applications and sync each to its verdict. Throws when the
 * server, the login or the lookup fails (nothing was synced); an app's failure is
 * its result.
 */
export async function syncApplications(job: SyncJob, log: Logger): Promise<SyncRun> {
  const { connection, settings } = job
  const http = new HttpClient({
    ca: connection.ca,
    insecure: connection.insecure,
    headers: connection.headers,
    timeoutMs: 30_000,
    retries: 4,
    backoffMs: Math.min(1000, settings.pollIntervalMs),
    maxBackoffMs: 15_000,
    logger: log
  })
  // The preflight and the lookup of the applications end within `timeout` too
  // (a server that accepts connections and never answers); each app's sync then
  // gets its own `timeout`.
  const client = new ArgoClient(http, connection.server, Date.now() + settings.timeoutMs)
  try {
    const version = await log.group('Preflight', async () => {
      const v = await client.version()
      if (connection.token) client.setToken(connection.token)
      else {
        const token = await client.login(connection.username!, connection.password!)
        secrets.add(token)
        log.info(`logged in as "${connection.username}" (session token masked)`)
      }
      return v
    })
    log.info(`Argo CD ${version.Version ?? '(version unknown)'} at ${connection.server}`)
    const initial = await log.group('Applications', async () => {
      const found = await resolveApps(client, job, log)
      log.info(`syncing ${found.size}: ${[...found.keys()].join(', ')}`)
      return found
    })
    if (settings.request.dryRun && settings.waitFor !== 'operation') {
      log.info(
        'dry-run: waiting for the operation only (a dry run changes neither sync status nor health)'
      )
    }
    const results = await log.group('Sync', () =>
      mapLimit([...initial.keys()], job.concurrency, name =>
        syncOne(client, name, settings, initial.get(name), log)
      )
    )
    return { results, result: overall(results) }
  } finally {
    await http.close()
  }
}
