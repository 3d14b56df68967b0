/**
 * Inputs of `argocd-sync`, read and validated in one place before any request.
 */
import { ConfigurationError, invalidInput } from '../../core/errors.js'
import { caCertificate, InputReader } from '../../core/inputs.js'
import { checkCleartext, shownUrl } from '../../core/urls.js'
import { secrets } from '../../core/secrets.js'
import { parseSelector } from '../../argocd/select.js'
import type { SyncRequest } from '../../argocd/client.js'
import type { RolloutMode } from '../../argocd/rollout.js'
import type { WaitFor } from '../../argocd/verdict.js'

/** Validated inputs. */
export interface Inputs {
  /** Base URL without a trailing slash. */
  server: string
  token?: string
  username?: string
  password?: string
  applications: string[]
  selector?: string
  appNamespace?: string
  project?: string
  revision?: string
  /** The repoURL or name of the source `revision` belongs to (multi-source apps). */
  source?: string
  prune: boolean
  dryRun: boolean
  force: boolean
  syncOptions: string[]
  resources: NonNullable<SyncRequest['resources']>
  refresh?: 'normal' | 'hard'
  waitFor: WaitFor
  healthyStates: string[]
  timeoutMs: number
  degradedGraceMs: number
  onTimeout: 'fail' | 'terminate'
  onRunningOperation: 'wait' | 'fail' | 'terminate'
  concurrency: number
  ca?: string
  insecure: boolean
  /** Set when plain HTTP to another machine was allowed (insecure-http): log it. */
  cleartextWarning?: string
  headers: Record<string, string>
  watch: 'stream' | 'poll'
  pollIntervalMs: number
  /** What to do at a Rollout's pause without a duration. */
  rollout: RolloutMode
  rolloutPauseMinMs: number
  abortOnDegraded: boolean
}

const HEALTH = ['Healthy', 'Progressing', 'Degraded', 'Suspended', 'Missing', 'Unknown']
const FORBIDDEN_HEADERS = new Set([
  'authorization',
  'content-type',
  'content-length',
  'host',
  'cookie'
])

/** Parse `GROUP:KIND:NAME` or `GROUP:KIND:NAMESPACE/NAME` (the argocd CLI's --resource). */
export function parseResource(
  text: string
): NonNullable<SyncRequest['resources']>[number] | undefined {
  const m = /^([^:]*):([^:/]+):(?:([^:/]+)\/)?([^:/]+)$/.exec(text.trim())
  if (!m) return undefined
  return { group: m[1]!, kind: m[2]!, name: m[4]!, ...(m[3] ? { namespace: m[3] } : {}) }
}

/** Read and validate every input. */
export function getInputs(reader = new InputReader()): Inputs {
  const serverUrl = reader.url('server', { required: true })!
  if (serverUrl.search !== '' || serverUrl.hash !== '' || /[?#]/.test(serverUrl.href)) {
    // The query is where a token hides (`?token=`): shown without it.
    throw invalidInput(
      'server',
      shownUrl(serverUrl.href),
      'the Argo CD base URL without a ?query or #fragment (e.g. https://argocd.example.com)'
    )
  }
  const server = serverUrl.href.replace(/\/+$/, '')
  const insecureHttp = reader.boolean('insecure-http', false)
  const cleartextWarning = checkCleartext(
    'server',
    serverUrl,
    insecureHttp,
    'the token or password, the session and the headers'
  )
  const token = reader.optional('token', { secret: true })
  const username = reader.optional('username')
  const password = reader.optional('password', { secret: true })
  if (token && (username || password)) {
    throw new ConfigurationError(
      'inputs "token" and "username"/"password" exclude each other: set one way to log in'
    )
  }
  if (!token && !(username && password)) {
    throw new ConfigurationError(
      username || password
        ? 'input "username" needs "password" and the other way round'
        : 'no credentials: set input "token" (an Argo CD account token), or "username" and "password"'
    )
  }
  // The session exchange sends user and password together: mask the pair too.
  if (password) secrets.add(password, { user: username, label: 'input "password"' })
  const applications = reader.list('applications', { commas: true })
  const selector = reader.optional('selector')
  if (selector !== undefined && !parseSelector(selector)) {
    throw invalidInput(
      'selector',
      selector,
      'a label selector such as "team=shop,tier in (web,api)"'
    )
  }
  if (applications.length === 0 && !selector) {
    throw new ConfigurationError(
      'set input "applications" (names or globs) or "selector" (a label selector)'
    )
  }
  for (const a of applications) {
    if (!/^[A-Za-z0-9*?[\]{}!@+()._,-]+$/.test(a)) {
      throw invalidInput('applications', a, 'application names or glob patterns such as "shop-*"')
    }
  }
  const name = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/
  const appNamespace =
    reader.line('app-namespace', { pattern: name, expected: 'a Kubernetes namespace name' }) ||
    undefined
  const project =
    reader.line('project', { pattern: name, expected: 'an Argo CD project name' }) || undefined
  const revision =
    reader.line('revision', { pattern: /^[^\s]+$/, expected: 'a commit SHA, tag or branch' }) ||
    undefined
  const source =
    reader.line('source', {
      expected: 'the repoURL (or name) of the application source that "revision" belongs to'
    }) || undefined
  const syncOptions = reader.list('sync-options', { commas: true })
  for (const o of syncOptions) {
    if (!/^[A-Za-z]+=[A-Za-z0-9._-]+$/.test(o)) {
      throw invalidInput(
        'sync-options',
        o,
        'options such as "ServerSideApply=true" or "PruneLast=true"'
      )
    }
  }
  const resources = reader.list('resources').map(r => {
    const parsed = parseResource(r)
    if (!parsed)
      throw invalidInput(
        'resources',
        r,
        'lines of GROUP:KIND:NAME or GROUP:KIND:NAMESPACE/NAME (empty group for core kinds: ":Service:web")'
      )
    return parsed
  })
  const refreshRaw = reader.choice('refresh', ['none', 'normal', 'hard'] as const, 'none')
  const healthyStates = reader.list('healthy-states', { commas: true })
  for (const h of healthyStates) {
    if (!HEALTH.includes(h))
      throw invalidInput('healthy-states', h, `health states among ${HEALTH.join(', ')}`)
  }
  const timeoutMs = reader.duration('timeout', '10m', { min: 1000 })
  const degradedGraceMs = reader.duration('degraded-grace', '60s', { min: 0 })
  const pollIntervalMs = reader.duration('poll-interval', '2s', { min: 50, max: 300_000 })
  const rollout = reader.choice('rollout', ['wait', 'promote', 'succeed'] as const, 'wait')
  const rolloutPauseMinMs = reader.duration('rollout-pause-min', '0s', { min: 0 })
  if (rollout === 'promote' && healthyStates.includes('Suspended')) {
    throw invalidInput(
      'healthy-states',
      healthyStates.join(','),
      'health states without "Suspended" when input "rollout" is "promote" (a Suspended app would count as done at the first pause, before any promotion); use "rollout: succeed" to accept a paused Rollout'
    )
  }
  if (rolloutPauseMinMs > 0 && rollout !== 'promote') {
    throw invalidInput(
      'rollout-pause-min',
      reader.optional('rollout-pause-min') ?? '',
      `"0s" unless input "rollout" is "promote" (it is "${rollout}": nothing is resumed, so there is no pause to hold)`
    )
  }
  // PEM text, or a PEM file inside the workspace (confined like every path input).
  const ca = caCertificate(reader, 'ca-cert')
  const headerMap = reader.keyValues('headers', {
    secret: true,
    colon: true,
    keyPattern: /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/
  })
  const headers: Record<string, string> = {}
  for (const [k, v] of headerMap) {
    if (FORBIDDEN_HEADERS.has(k.toLowerCase())) {
      throw invalidInput(
        'headers',
        k,
        'extra headers other than Authorization, Cookie, Host and Content-*',
        { secret: true }
      )
    }
    headers[k.toLowerCase()] = v
  }
  return {
    server,
    token,
    username,
    password,
    applications,
    selector,
    appNamespace,
    project,
    revision,
    source,
    prune: reader.boolean('prune', false),
    dryRun: reader.boolean('dry-run', false),
    force: reader.boolean('force', false),
    syncOptions,
    resources,
    refresh: refreshRaw === 'none' ? undefined : refreshRaw,
    waitFor: reader.choice('wait-for', ['operation', 'sync', 'health'] as const, 'health'),
    healthyStates: [
      ...(healthyStates.length > 0 ? healthyStates : ['Healthy']),
      // `succeed`: a paused Rollout (the app Suspended) counts as done.
      ...(rollout === 'succeed' && !healthyStates.includes('Suspended') ? ['Suspended'] : [])
    ],
    timeoutMs,
    degradedGraceMs,
    onTimeout: reader.choice('on-timeout', ['fail', 'terminate'] as const, 'fail'),
    onRunningOperation: reader.choice(
      'on-running-operation',
      ['wait', 'fail', 'terminate'] as const,
      'wait'
    ),
    concurrency: reader.integer('concurrency', { default: 4, min: 1, max: 32 }),
    ca,
    insecure: reader.boolean('insecure', false),
    cleartextWarning,
    headers,
    watch: reader.choice('watch', ['stream', 'poll'] as const, 'stream'),
    pollIntervalMs,
    rollout,
    rolloutPauseMinMs,
    abortOnDegraded: reader.boolean('abort-on-degraded', false)
  }
}
