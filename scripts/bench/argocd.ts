/**
 * argocd-sync benchmark: latency from the simulator's final state change of an app
 * to the action's verdict line for it, through the watch stream and through
 * polling (default poll interval), and the API calls per application synced.
 * Runs the committed bundle through the runner harness against the simulator.
 */
import { rmSync } from 'node:fs'
import { dirname } from 'node:path'
import { runAction } from '../../test/support/harness.js'
import { startArgoSim, type ArgoSim } from '../../test/support/argocd-sim.js'
import type { Bench, BenchRow } from './types.js'

const TOKEN = 'bench-token-0123456789'
const APPS = ['frontend', 'cart', 'checkout', 'payments']

interface Sample {
  app: string
  latencyMs: number
}

/** One action run syncing every app; returns verdict latencies and the sim. */
async function once(
  watch: 'stream' | 'poll',
  pollInterval: string | undefined,
  stepMs = 150
): Promise<{ samples: Sample[]; sim: ArgoSim; code: number }> {
  const sim = await startArgoSim({
    tokens: [TOKEN],
    stepMs,
    apps: APPS.map(name => ({ name }))
  })
  const seen = new Map<string, number>()
  let buffer = ''
  try {
    const run = await runAction('argocd-sync', {
      inputs: {
        server: sim.url,
        token: TOKEN,
        applications: APPS.join(','),
        watch,
        ...(pollInterval ? { 'poll-interval': pollInterval } : {}),
        timeout: '60s'
      },
      timeoutMs: 120_000,
      onStdout: chunk => {
        const at = Date.now()
        buffer += chunk
        const lines = buffer.split('\n')
        buffer = lines.pop() ?? ''
        for (const line of lines) {
          const m = /^([a-z]+): (succeeded|failed|timed-out) \(/.exec(line)
          if (m && !seen.has(m[1]!)) seen.set(m[1]!, at)
        }
      }
    })
    const samples = APPS.map(app => ({
      app,
      latencyMs: (seen.get(app) ?? Number.NaN) - (sim.finalAt.get(app) ?? Number.NaN)
    }))
    rmSync(dirname(run.runnerTemp), { recursive: true, force: true })
    return { samples, sim, code: run.main.code }
  } finally {
    await sim.stop()
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

/** The argocd-sync benchmark rows. */
export const bench: Bench = async log => {
  const rows: BenchRow[] = []

  // Through the stream: three runs of four concurrent apps.
  const stream: Sample[] = []
  const calls: number[] = []
  for (let i = 0; i < 3; i++) {
    const r = await once('stream', undefined)
    if (r.code !== 0) throw new Error(`argocd bench: stream run ${i} failed (exit ${r.code})`)
    stream.push(...r.samples)
    for (const app of APPS) calls.push(r.sim.callsFor(app))
    log(`argocd stream run ${i + 1}: ${r.samples.map(s => `${s.app} ${s.latencyMs}ms`).join(', ')}`)
  }
  const sLat = stream.map(s => s.latencyMs)
  const sMax = Math.max(...sLat)
  rows.push({
    scenario: `argocd-sync: final state change → verdict via the stream (${sLat.length} apps)`,
    figure: `median ${median(sLat)} ms, max ${sMax} ms`,
    baseline: 'target 500 ms',
    ratio: Number((sMax / 500).toFixed(3)),
    target: '<= 500 ms (max)',
    met: sMax <= 500
  })

  // Through polling, at the default poll interval (2 s): three runs with different
  // step lengths, so the final change lands at different points of the poll cycle.
  const pLat: number[] = []
  const pollCalls: number[] = []
  for (let i = 0; i < 3; i++) {
    const poll = await once('poll', undefined, [150, 260, 370][i])
    if (poll.code !== 0) throw new Error(`argocd bench: polling run ${i} failed (exit ${poll.code})`)
    pLat.push(...poll.samples.map(s => s.latencyMs))
    for (const app of APPS) pollCalls.push(poll.sim.callsFor(app))
    log(`argocd poll run ${i + 1}: ${poll.samples.map(s => `${s.app} ${s.latencyMs}ms`).join(', ')}`)
  }
  const pMax = Math.max(...pLat)
  rows.push({
    scenario: `argocd-sync: final state change → verdict via polling (default 2 s interval, ${pLat.length} apps)`,
    figure: `median ${median(pLat)} ms, max ${pMax} ms`,
    baseline: 'poll interval 2000 ms',
    ratio: Number((pMax / 2000).toFixed(3)),
    target: '<= 1 poll interval (max)',
    met: pMax <= 2000 + 100
  })

  const maxCalls = Math.max(...calls)
  rows.push({
    scenario: 'argocd-sync: API calls per application synced (stream; plus 1 shared /api/version)',
    figure: `max ${maxCalls}, median ${median(calls)} (polling: median ${median(pollCalls)})`,
    baseline: 'bound 5',
    ratio: Number((maxCalls / 5).toFixed(3)),
    target: '<= 5 per app',
    met: maxCalls <= 5
  })
  return rows
}
