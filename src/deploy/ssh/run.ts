/**
 * A whole SSH deploy: the local files collected once, then one release uploaded and
 * switched to on each host (in parallel or in sequence, stopping the rest on the
 * first failure when fail-fast). Returns every host's result; the outputs and the
 * summary are the action's.
 */
import type { Logger } from '../../core/logger.js'
import { collectSources, deployHost, type HostResult, type LocalTree } from './deploy-host.js'
import type { HostKeyPolicy, HostTarget } from './host-keys.js'
import { mapLimit } from '../../core/pool.js'

/** Everything an SSH deploy is asked to do. */
export interface SshJob {
  hosts: HostTarget[]
  username: string
  key: string
  passphrase?: string
  policy: HostKeyPolicy
  /** Absolute local paths to upload. */
  sources: string[]
  target: string
  keep: number
  script?: string
  /** Name → value, read from the process environment; every value registered as a secret. */
  env: Record<string, string>
  parallel: boolean
  failFast: boolean
  timeoutMs: number
}

/** Hosts deployed at the same time in parallel mode. */
export const MAX_PARALLEL_HOSTS = 16

/** `host:port`, `[v6]:port` for IPv6 addresses. */
export function hostLabel(target: HostTarget): string {
  return target.host.includes(':')
    ? `[${target.host}]:${target.port}`
    : `${target.host}:${target.port}`
}

/** Deploy release `release` to every host of the job; a host's failure is its result. */
export async function deployRelease(
  job: SshJob,
  release: string,
  log: Logger
): Promise<HostResult[]> {
  if (job.policy.insecure) {
    log.warning(
      'insecure-skip-host-key is true: host keys are NOT verified. A machine in the network path can impersonate the hosts and receive the uploaded files and every secret passed in "env". Pin keys with "known-hosts" or "fingerprints" instead.'
    )
  }
  const tree: LocalTree = await log.group('Collecting files', async () => {
    const t = await collectSources(job.sources)
    log.info(`${t.files.length} file(s), ${t.dirs.length} dir(s), ${t.bytes} bytes`)
    if (t.skipped.length > 0) {
      log.warning(`not uploaded (not regular files or directories): ${t.skipped.join(', ')}`)
    }
    return t
  })
  const controller = new AbortController()
  const deployOne = (target: HostTarget): Promise<HostResult> =>
    deployHost({
      target,
      username: job.username,
      privateKey: job.key,
      passphrase: job.passphrase,
      policy: job.policy,
      base: job.target,
      release,
      tree,
      script: job.script,
      env: job.env,
      keep: job.keep,
      timeoutMs: job.timeoutMs,
      log,
      signal: controller.signal
    }).then(r => {
      if (r.status !== 'deployed' && r.status !== 'cancelled') {
        log.error(`${hostLabel(r)}: ${r.status}: ${r.error ?? ''}`)
        if (job.failFast) controller.abort()
      }
      return r
    })
  return log.group(
    `Deploying release ${release} to ${job.hosts.length} host(s)${job.parallel ? ' in parallel' : ''}`,
    async () => {
      if (job.parallel) return mapLimit(job.hosts, MAX_PARALLEL_HOSTS, deployOne)
      const out: HostResult[] = []
      for (const target of job.hosts) {
        if (controller.signal.aborted) {
          out.push({
            host: target.host,
            port: target.port,
            status: 'skipped',
            release,
            files: tree.files.length,
            bytes: tree.bytes,
            pruned: [],
            durationMs: 0,
            error: 'skipped: an earlier host failed (fail-fast)'
          })
          continue
        }
        out.push(await deployOne(target))
      }
      return out
    }
  )
}

/** The step's error when a host was not deployed (the first real failure named); else undefined. */
export function failureOf(results: readonly HostResult[]): Error | undefined {
  const failed = results.filter(r => r.status !== 'deployed')
  if (failed.length === 0) return undefined
  const first = failed.find(r => r.status !== 'cancelled' && r.status !== 'skipped') ?? failed[0]!
  return new Error(
    `${failed.length} of ${results.length} host(s) not deployed; ${hostLabel(first)} ${first.status}: ${first.error ?? ''}`
  )
}
