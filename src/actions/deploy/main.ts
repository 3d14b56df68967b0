/**
 * `deploy`: write new image references into a GitOps config repository (mode gitops:
 * in-place YAML edits, race-safe pushes, monotonic guard, leak scan, optional pull
 * request; src/deploy/gitops/run.ts) or upload and run a release over SSH (mode ssh;
 * src/deploy/ssh/run.ts). This entry reads the inputs and the run, runs the mode and
 * reports it.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { InputReader } from '../../core/inputs.js'
import type { Logger } from '../../core/logger.js'
import { runMain } from '../../core/run.js'
import { runGitOps, type SourceContext } from '../../deploy/gitops/run.js'
import { releaseName } from '../../deploy/ssh/release.js'
import { deployRelease, failureOf } from '../../deploy/ssh/run.js'
import { getInputs } from './inputs.js'
import { reportGitOps, reportSsh } from './report.js'
import { getSshInputs } from './ssh-inputs.js'

/** The source checkout and commit of the run, and that commit's time from the event. */
function sourceContext(env: NodeJS.ProcessEnv = process.env): SourceContext {
  const ws = env.GITHUB_WORKSPACE
  let eventTime: string | undefined
  try {
    const path = env.GITHUB_EVENT_PATH
    if (path && existsSync(path)) {
      const ev = JSON.parse(readFileSync(path, 'utf8')) as {
        head_commit?: { id?: string; timestamp?: string }
      }
      if (ev.head_commit?.id === env.GITHUB_SHA) eventTime = ev.head_commit?.timestamp
    }
  } catch {
    // no usable event
  }
  return {
    dir: ws && existsSync(join(ws, '.git')) ? ws : undefined,
    sha: env.GITHUB_SHA,
    eventTime
  }
}

async function gitOpsMode(reader: InputReader, log: Logger): Promise<void> {
  const inputs = await getInputs(reader, log)
  const result = await runGitOps(inputs, sourceContext(), log)
  reportGitOps(result, inputs.slug ?? inputs.url)
}

async function sshMode(reader: InputReader, log: Logger): Promise<void> {
  const inputs = getSshInputs(reader)
  const release = releaseName(new Date(), process.env.GITHUB_SHA)
  const results = await deployRelease(inputs, release, log)
  reportSsh(release, inputs.target, results)
  const failure = failureOf(results)
  if (failure) throw failure
  log.info(`release ${release} deployed to ${results.length} host(s)`)
}

/** The action's entry point. */
export async function run(): Promise<void> {
  await runMain('deploy', async log => {
    const reader = new InputReader()
    const mode = reader.choice('mode', ['gitops', 'ssh'] as const, 'gitops')
    if (mode === 'ssh') await sshMode(reader, log)
    else await gitOpsMode(reader, log)
  })
}
