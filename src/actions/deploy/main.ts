/**
 * `deploy`: write new image references into a GitOps config repository (mode gitops:
 * in-place YAML edits, race-safe pushes, monotonic guard, leak scan, optional pull
 * request; src/deploy/gitops/run.ts) or upload and run a release over SSH (mode ssh;
 * src/deploy/ssh/run.ts). This entry reads the inputs and the run, runs the mode and
 * reports it.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { payloadField, readEventPayload } from '../../core/context.js'
import { ConfigurationError } from '../../core/errors.js'
import { InputReader } from '../../core/inputs.js'
import type { Logger } from '../../core/logger.js'
import { runMain } from '../../core/run.js'
import { runGitOps, type SourceContext } from '../../deploy/gitops/run.js'
import { releaseName } from '../../deploy/ssh/release.js'
import { deployRelease, failureOf } from '../../deploy/ssh/run.js'
import { getInputs } from './inputs.js'
import { reportGitOps, reportSsh } from './report.js'
import { getSshInputs } from './ssh-inputs.js'
import { getVerifyInputs, sshImages, verifyImages } from './verify.js'

/** The source checkout and commit of the run, and that commit's time from the event. */
function sourceContext(env: NodeJS.ProcessEnv = process.env): SourceContext {
  const ws = env.GITHUB_WORKSPACE
  const head = payloadField(readEventPayload(env), 'head_commit')
  const timestamp = payloadField(head, 'timestamp')
  const eventTime =
    payloadField(head, 'id') === env.GITHUB_SHA && typeof timestamp === 'string'
      ? timestamp
      : undefined
  return {
    dir: ws && existsSync(join(ws, '.git')) ? ws : undefined,
    sha: env.GITHUB_SHA,
    eventTime
  }
}

async function gitOpsMode(reader: InputReader, log: Logger): Promise<void> {
  const verify = getVerifyInputs(reader)
  const inputs = await getInputs(reader, log)
  // Before anything is written: every image must verify, or nothing is deployed.
  await verifyImages(
    inputs.updates.map(u => ({ label: u.service, ref: u.ref })),
    verify,
    log
  )
  const result = await runGitOps(inputs, sourceContext(), log)
  reportGitOps(result, inputs.slug ?? inputs.url)
}

async function sshMode(reader: InputReader, log: Logger): Promise<void> {
  const inputs = getSshInputs(reader)
  const verify = getVerifyInputs(reader)
  const images = sshImages(reader)
  if (verify.mode !== 'none' && images.length === 0) {
    throw new ConfigurationError(
      'input "images" is required with verify: provenance in ssh mode: name=reference lines of the images the release runs'
    )
  }
  // Before any host is contacted: every image must verify, or nothing is deployed.
  await verifyImages(images, verify, log)
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
