/**
 * deploy benchmark: 20 GitOps deploys (the committed bundle, one process each) started
 * at the same moment against one config repository served over smart HTTP with a
 * token, each bumping a different service. Reports wall time, pushes attempted
 * (receive-pack requests the server saw) and updates landed (must be 20 of 20),
 * against the time of one uncontended deploy times 20.
 */
import { rmSync } from 'node:fs'
import { dirname } from 'node:path'
import { cleanup, sh } from '../../test/support/gitrepo.js'
import { makeConfigRemote, startGitHttp } from '../../test/support/git-http.js'
import { runAction, type ActionRun } from '../../test/support/harness.js'
import { loadOverlay } from '../../test/support/kustomize.js'
import type { Bench } from './types.js'

const N = 20
const TOKEN = 'bench-deploy-token-0123456789'
const names = Array.from({ length: N }, (_, i) => `svc-${String(i + 1).padStart(2, '0')}`)

/** Run the benchmark. */
export const bench: Bench = async log => {
  const repo = makeConfigRemote(loadOverlay(names))
  sh(repo.origin, ['config', 'http.receivepack', 'true'])
  const server = await startGitHttp({ root: dirname(repo.origin), tokens: { [TOKEN]: 'write' } })
  const runs: ActionRun[] = []
  const deploy = async (service: string, tag: string): Promise<ActionRun> => {
    const run = await runAction('deploy', {
      inputs: {
        repository: server.url('origin.git'),
        token: TOKEN,
        images: `${service}=ghcr.io/acme/${service}:${tag}`,
        targets: 'kustomize:overlays/load'
      },
      timeoutMs: 170_000
    })
    runs.push(run)
    return run
  }
  try {
    const t0 = Date.now()
    const single = await deploy('svc-01', '1.5.0')
    const singleMs = Date.now() - t0
    if (single.main.code !== 0) throw new Error(`warm-up deploy failed: ${single.main.errors.join('; ')}`)
    log(`one uncontended deploy: ${singleMs} ms`)
    const before = server.requests.filter(r => r.method === 'POST' && r.url.endsWith('/git-receive-pack')).length
    const started = Date.now()
    const results = await Promise.all(names.map((n, i) => deploy(n, `2.0.${i}`)))
    const wallMs = Date.now() - started
    const pushes =
      server.requests.filter(r => r.method === 'POST' && r.url.endsWith('/git-receive-pack')).length - before
    const file = `${sh(repo.origin, ['show', 'main:overlays/load/kustomization.yaml'])}\n`
    const landed = names.filter((n, i) => file.includes(`- name: ghcr.io/acme/${n}\n    newTag: 2.0.${i}\n`)).length
    const linear = sh(repo.origin, ['rev-list', '--merges', 'main']) === ''
    const failed = results.filter(r => r.main.code !== 0).length
    log(`${N} concurrent: ${wallMs} ms, ${pushes} pushes, ${landed}/${N} landed, ${failed} failed, linear ${linear}`)
    const baseline = singleMs * N
    return [
      {
        scenario: `deploy: ${N} concurrent GitOps deploys to one repository (smart HTTP)`,
        figure: `${(wallMs / 1000).toFixed(1)} s wall, ${pushes} pushes attempted, ${landed}/${N} landed${linear ? ', linear history' : ''}`,
        baseline: `${N} x one uncontended deploy ${(baseline / 1000).toFixed(1)} s`,
        ratio: Number((wallMs / baseline).toFixed(2)),
        target: `${N}/${N} landed, zero lost`,
        met: landed === N && failed === 0 && linear
      }
    ]
  } finally {
    await server.stop()
    for (const r of runs) rmSync(dirname(r.runnerTemp), { recursive: true, force: true })
    cleanup()
  }
}
