/**
 * `argocd-sync`: sync Argo CD applications and succeed only when the cluster runs
 * the requested revision, synced and healthy.
 */
import { ArgoClient } from '../../argocd/client.js'
import { isGlob, parseSelector, matchesSelector, selectApplications } from '../../argocd/select.js'
import { chooseSource } from '../../argocd/sources.js'
import { syncApplication, type AppResult, type SyncSettings } from '../../argocd/sync.js'
import type { Application } from '../../argocd/application.js'
import { formatDuration } from '../../core/duration.js'
import { ConfigurationError, errorMessage } from '../../core/errors.js'
import { HttpClient } from '../../core/http/client.js'
import type { Logger } from '../../core/logger.js'
import { setOutput } from '../../core/outputs.js'
import { runMain } from '../../core/run.js'
import { secrets } from '../../core/secrets.js'
import { getInputs, type Inputs } from './inputs.js'
import { applicationsOutput, writeSummary } from './report.js'

/** The overall result from the per-app ones. */
export function overall(results: readonly AppResult[]): 'succeeded' | 'failed' | 'timed-out' {
  if (results.some(r => r.result === 'failed')) return 'failed'
  if (results.some(r => r.result === 'timed-out')) return 'timed-out'
  return 'succeeded'
}

/**
 * The applications to sync, each fetched once (with the refresh when asked) before
 * any sync starts, so a wrong name fails the step before anything changed.
 */
async function resolveApps(
  client: ArgoClient,
  inputs: Inputs,
  log: Logger
): Promise<Map<string, Application>> {
  const scope = { appNamespace: inputs.appNamespace, project: inputs.project }
  const needList = inputs.selector !== undefined || inputs.applications.some(isGlob)
  let names = [...new Set(inputs.applications)]
  if (needList) {
    const listed = await client.list({ ...scope, selector: inputs.selector })
    // Filter again locally: a server that ignores the selector must not widen the set.
    const requirements = inputs.selector ? parseSelector(inputs.selector)! : []
    const apps = listed.filter(a => matchesSelector(a.metadata.labels, requirements))
    const chosen = selectApplications(apps, inputs.applications)
    const where = `${inputs.selector ? ` with selector "${inputs.selector}"` : ''}${inputs.project ? ` in project "${inputs.project}"` : ''}${inputs.appNamespace ? ` in namespace "${inputs.appNamespace}"` : ''}`
    if (chosen.names.length === 0) {
      throw new ConfigurationError(
        `no application matched input "applications" (${inputs.applications.join(', ') || 'any'})${where}; the account sees ${listed.length} application(s)`
      )
    }
    for (const u of chosen.unmatched) {
      log.warning(`input "applications": "${u}" matched no application${where}`)
    }
    names = chosen.names
  }
  const fetched = await pool(names, inputs.concurrency, async name => {
    try {
      return { name, app: await client.get(name, scope, inputs.refresh) }
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
    const choice = chooseSource(app, inputs.source, inputs.revision)
    return 'error' in choice ? [choice.error] : []
  })
  if (wrong.length > 0) throw new ConfigurationError(wrong.join('\n'))
  return apps
}

async function pool<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>
): Promise<R[]> {
  const out: R[] = new Array<R>(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i]!)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return out
}

/** The action's entry point. */
export async function run(): Promise<void> {
  await runMain('argocd-sync', async log => {
    let inputs: Inputs
    try {
      inputs = getInputs()
    } catch (error) {
      // Later steps can branch on `result` even when the inputs were wrong.
      setOutput('result', 'failed')
      throw error
    }
    if (inputs.cleartextWarning) log.warning(inputs.cleartextWarning)
    if (inputs.insecure) {
      log.warning(
        'input "insecure" is true: TLS certificates of the Argo CD server are not verified; use "ca-cert" instead'
      )
    }
    const http = new HttpClient({
      ca: inputs.ca,
      insecure: inputs.insecure,
      headers: inputs.headers,
      timeoutMs: 30_000,
      retries: 4,
      backoffMs: Math.min(1000, inputs.pollIntervalMs),
      maxBackoffMs: 15_000,
      logger: log
    })
    // The preflight and the lookup of the applications end within `timeout` too
    // (a server that accepts connections and never answers); each app's sync then
    // gets its own `timeout`.
    const client = new ArgoClient(http, inputs.server, Date.now() + inputs.timeoutMs)
    let resultSet = false
    try {
      const version = await log.group('Preflight', async () => {
        const v = await client.version()
        if (inputs.token) client.setToken(inputs.token)
        else {
          const token = await client.login(inputs.username!, inputs.password!)
          secrets.add(token)
          log.info(`logged in as "${inputs.username}" (session token masked)`)
        }
        return v
      })
      log.info(`Argo CD ${version.Version ?? '(version unknown)'} at ${inputs.server}`)
      const initial = await log.group('Applications', async () => {
        const found = await resolveApps(client, inputs, log)
        log.info(`syncing ${found.size}: ${[...found.keys()].join(', ')}`)
        return found
      })
      const names = [...initial.keys()]
      const settings: SyncSettings = {
        scope: { appNamespace: inputs.appNamespace, project: inputs.project },
        revision: inputs.revision,
        source: inputs.source,
        request: {
          ...(inputs.prune ? { prune: true } : {}),
          ...(inputs.dryRun ? { dryRun: true } : {}),
          ...(inputs.force ? { strategy: { hook: { force: true } } } : {}),
          ...(inputs.syncOptions.length ? { syncOptions: { items: inputs.syncOptions } } : {}),
          ...(inputs.resources.length ? { resources: inputs.resources } : {})
        },
        refresh: inputs.refresh,
        waitFor: inputs.waitFor,
        healthyStates: inputs.healthyStates,
        timeoutMs: inputs.timeoutMs,
        degradedGraceMs: inputs.degradedGraceMs,
        onTimeout: inputs.onTimeout,
        onRunningOperation: inputs.onRunningOperation,
        watch: inputs.watch,
        pollIntervalMs: inputs.pollIntervalMs,
        rollout: {
          mode: inputs.rollout,
          pauseMinMs: inputs.rolloutPauseMinMs,
          abortOnDegraded: inputs.abortOnDegraded
        }
      }
      if (inputs.dryRun && inputs.waitFor !== 'operation') {
        log.info(
          'dry-run: waiting for the operation only (a dry run changes neither sync status nor health)'
        )
      }
      const results = await log.group('Sync', () =>
        pool(names, inputs.concurrency, async name => {
          try {
            const r = await syncApplication(client, name, settings, log, initial.get(name))
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
              observedBy: inputs.watch,
              terminated: false,
              rollouts: []
            }
            log.error(`${name}: failed: ${r.message}`)
            return r
          }
        })
      )
      const result = overall(results)
      setOutput('applications', applicationsOutput(results, secrets))
      setOutput('result', result)
      resultSet = true
      writeSummary(results, result, inputs.server)
      if (result !== 'succeeded') {
        const bad = results
          .filter(r => r.result !== 'succeeded')
          .map(r => `${r.name} ${r.result}: ${r.message}`)
        throw new Error(bad.join('; '))
      }
    } catch (error) {
      // Later steps can branch on `result` even when no app got as far as a verdict.
      if (!resultSet) setOutput('result', 'failed')
      throw error
    } finally {
      await http.close()
    }
  })
}
