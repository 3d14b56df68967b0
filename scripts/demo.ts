/**
 * npm run demo: the whole pipeline, locally, with the committed bundles, in the order
 * the reusable workflow runs them: plan → build (each selected service) → deploy →
 * argocd-sync. It starts a real registry (TLS + htpasswd), a bare config repository
 * and the Argo CD simulator on 127.0.0.1, replays a series of commits on a copy of
 * examples/monorepo, shows what happened at each step, and tears everything down.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isolatedBuildahEnv, type BuildahEnv } from '../test/support/base-image.js'
import { simAppsFromExamples } from '../test/support/argocd-examples.js'
import { startArgoSim, type ArgoSim } from '../test/support/argocd-sim.js'
import { followGitRepo, type GitFollower } from '../test/support/argocd-sim-git.js'
import { ROOT, runAction, type ActionRun } from '../test/support/harness.js'
import { startRegistry, type TestRegistry } from '../test/support/registry.js'

const REGISTRY_USER = 'demo'
const REGISTRY_PASSWORD = `demo-registry-${Math.random().toString(36).slice(2, 12)}`
const ARGOCD_TOKEN = `demo-argocd-${Math.random().toString(36).slice(2, 12)}`
const ZERO = '0000000000000000000000000000000000000000'
/** The config repository's URL in examples/argocd (the demo's bare repository stands in for it). */
const CONFIG_REPO_URL = 'https://github.com/acme/shop-config.git'

const started = Date.now()
const bold = (s: string): string => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s)
const dim = (s: string): string => (process.stdout.isTTY ? `\x1b[2m${s}\x1b[0m` : s)
const say = (s: string): void => console.log(s)
const step = (s: string): void =>
  say(`${dim(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s]`)} ${s}`)

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 'Demo Developer',
      GIT_AUTHOR_EMAIL: 'dev@example.com',
      GIT_COMMITTER_NAME: 'Demo Developer',
      GIT_COMMITTER_EMAIL: 'dev@example.com'
    }
  }).trim()
}

function fail(message: string, run?: ActionRun): never {
  say(`\n${bold('demo failed:')} ${message}`)
  if (run) {
    const errors = [...run.main.errors, ...(run.post?.errors ?? [])]
    for (const e of errors) say(`  ::error:: ${e}`)
    // The step's own log, for what led there.
    say(run.main.stdout.split('\n').slice(-30).join('\n'))
  }
  throw new Error(message)
}

interface Row {
  commit: string
  planned: string
  built: string
  reused: string
  config: string
  argocd: string
  seconds: string
}

interface Env {
  tmp: string
  registry: TestRegistry
  buildah: BuildahEnv
  sim: ArgoSim
  /** The simulator polling the config repository, as Argo CD polls its repositories. */
  follower: GitFollower
  origin: string
  dev: string
  config: string
}

async function setUp(): Promise<Env> {
  step('installing what is missing (scripts/setup-test-env.sh)')
  const setup = spawnSync('bash', [join(ROOT, 'scripts', 'setup-test-env.sh')], {
    stdio: 'inherit'
  })
  if (setup.status !== 0)
    fail('the setup script could not install the Debian packages the demo needs')
  const tmp = mkdtempSync(join(tmpdir(), 'conveyor-demo-'))
  step('starting a registry (distribution, TLS from a throwaway CA, htpasswd login)')
  const registry = await startRegistry({ users: { [REGISTRY_USER]: REGISTRY_PASSWORD } })
  const buildah = isolatedBuildahEnv()
  step('starting the Argo CD simulator with the example shop applications')
  const sim = await startArgoSim({
    tokens: [ARGOCD_TOKEN],
    stepMs: 40,
    apps: simAppsFromExamples()
  })

  step('making the monorepo (a copy of examples/monorepo) and its bare origin')
  const dev = join(tmp, 'dev')
  cpSync(join(ROOT, 'examples', 'monorepo'), dev, { recursive: true })
  git(dev, 'init', '-q', '-b', 'main')
  git(dev, 'add', '-A')
  git(dev, 'commit', '-q', '-m', 'Initial import of the shop')
  const origin = join(tmp, 'monorepo.git')
  git(tmp, 'init', '-q', '--bare', '-b', 'main', origin)
  git(dev, 'remote', 'add', 'origin', `file://${origin}`)

  step('making the GitOps config repository (a copy of examples/config-repo)')
  const configSrc = join(tmp, 'config-src')
  cpSync(join(ROOT, 'examples', 'config-repo'), configSrc, { recursive: true })
  // The manifests name ghcr.io/acme/shop-*; the overlay points them at the registry the
  // demo builds to (newName), as a config repository does for its own registry. deploy
  // finds each entry by that newName and verifies that the new image renders.
  const overlay = join(configSrc, 'overlays', 'prod', 'kustomization.yaml')
  writeFileSync(
    overlay,
    readFileSync(overlay, 'utf8')
      .replace(
        /( {4}newName: )registry\.acme\.internal:5000\/payments\/(shop-payments)\n/,
        `$1${registry.host}/acme/$2\n`
      )
      .replace(
        /( {2}- name: ghcr\.io\/acme\/(shop-(?:frontend|cart|checkout))\n)/g,
        `$1    newName: ${registry.host}/acme/$2\n`
      )
  )
  git(configSrc, 'init', '-q', '-b', 'main')
  git(configSrc, 'add', '-A')
  git(configSrc, 'commit', '-q', '-m', 'Initial config')
  const config = join(tmp, 'config.git')
  git(tmp, 'init', '-q', '--bare', '-b', 'main', config)
  git(configSrc, 'push', '-q', `file://${config}`, 'main')
  const follower = followGitRepo(sim, CONFIG_REPO_URL, config, { intervalMs: 500 })
  return { tmp, registry, buildah, sim, follower, origin, dev, config }
}

/** Push the developer's commit, then run the pipeline as a push workflow would. */
async function pipeline(env: Env, title: string, change: () => void): Promise<Row> {
  const t0 = Date.now()
  say(`\n${bold(`── ${title} ──`)}`)
  let before = ZERO
  try {
    before = git(env.dev, 'rev-parse', '-q', '--verify', 'refs/remotes/origin/main')
  } catch {
    // the first push: the branch does not exist on the remote yet
  }
  change()
  git(env.dev, 'push', '-q', 'origin', 'main')
  git(env.dev, 'fetch', '-q', 'origin')
  const after = git(env.dev, 'rev-parse', 'HEAD')
  step(`pushed ${after.slice(0, 7)} (${git(env.dev, 'log', '-1', '--format=%s')})`)

  // What actions/checkout leaves: a depth-1 clone, detached at the commit.
  const workspace = join(env.tmp, `ws-${after.slice(0, 7)}`)
  git(env.tmp, 'clone', '-q', '--depth', '1', '--no-tags', `file://${env.origin}`, workspace)
  const common = {
    workspace,
    sha: after,
    ref: 'refs/heads/main',
    repository: 'acme/shop',
    eventName: 'push',
    event: {
      ref: 'refs/heads/main',
      before,
      after,
      created: before === ZERO,
      forced: false,
      repository: { full_name: 'acme/shop', default_branch: 'main' }
    },
    timeoutMs: 300_000
  }

  const plan = await runAction('plan', { ...common })
  if (plan.main.code !== 0) fail('plan failed', plan)
  const matrix = JSON.parse(plan.main.outputs.matrix ?? '{"include":[]}') as {
    include: { service: string; reasons?: string[] }[]
  }
  step(
    `plan: ${matrix.include.length} of the services selected (base ${(plan.main.outputs.base || 'none').slice(0, 7)})`
  )
  for (const leg of matrix.include)
    say(`         ${leg.service}: ${(leg.reasons ?? []).join('; ')}`)
  if (matrix.include.length === 0) {
    step('nothing to build: build, deploy and sync are skipped (the `if: count != 0` guard)')
    return {
      commit: title,
      planned: '—',
      built: '—',
      reused: '—',
      config: '—',
      argocd: 'skipped',
      seconds: secs(t0)
    }
  }

  const results = join(env.tmp, `results-${after.slice(0, 7)}`)
  mkdirSync(results)
  const built: string[] = []
  const reused: string[] = []
  for (const leg of matrix.include) {
    const build = await runAction('build', {
      ...common,
      env: env.buildah.env,
      inputs: {
        service: leg.service,
        registry: `${env.registry.host}/acme`,
        'registry-username': REGISTRY_USER,
        'registry-password': REGISTRY_PASSWORD,
        'registry-ca-cert': env.registry.caPem ?? '',
        backend: 'buildah',
        cache: 'none'
      }
    })
    if (build.main.code !== 0) fail(`build of ${leg.service} failed`, build)
    const isReused = build.main.outputs.reused === 'true'
    ;(isReused ? reused : built).push(leg.service)
    step(
      `build ${leg.service}: ${isReused ? 'reused (same content already in the registry, no build)' : 'built and pushed'} ${dim(
        `${build.main.outputs.digest?.slice(0, 19) ?? ''} ${formatSeconds(build.main.durationMs)}`
      )}`
    )
    const file = build.main.outputs['result-file']
    if (!file) fail(`build of ${leg.service} wrote no result-file output`, build)
    cpSync(file, join(results, `${leg.service}.json`))
  }

  const deploy = await runAction('deploy', {
    ...common,
    inputs: {
      results,
      repository: `file://${env.config}`,
      ref: 'main'
    }
  })
  if (deploy.main.code !== 0) fail('deploy failed', deploy)
  const commit = deploy.main.outputs.commit ?? ''
  const changed = git(env.tmp, '--git-dir', env.config, 'log', '-1', '--format=%s')
  step(
    `deploy: config repository ${commit ? `commit ${commit.slice(0, 7)}: ${changed}` : 'unchanged (nothing new to write)'}`
  )

  // The push reaches Argo CD (a webhook makes it look at the repository now).
  env.follower.poll()
  const apps = matrix.include.map(leg => `shop-${leg.service}`)
  // shop-web is multi-source: the frontend's chart with its values in the config repository.
  if (apps.includes('shop-frontend')) apps.push('shop-web')
  const sync = await runAction('argocd-sync', {
    ...common,
    inputs: {
      server: env.sim.url,
      token: ARGOCD_TOKEN,
      applications: apps.join('\n'),
      ...(commit ? { revision: commit } : {}),
      // The source "revision" belongs to in shop-web (the values), as the reusable workflow passes it.
      source: 'acme/shop-config',
      // shop-checkout is an Argo Rollouts canary (examples/config-repo/base/checkout.yaml):
      // the action promotes it through its pause.
      rollout: 'promote',
      timeout: '60s'
    }
  })
  const verdict = sync.main.outputs.result ?? (sync.main.code === 0 ? 'succeeded' : 'failed')
  if (sync.main.code !== 0) fail('argocd-sync failed', sync)
  step(
    `argocd-sync: ${apps.join(', ')} → ${verdict} (our revision synced and Healthy${apps.includes('shop-web') ? '; shop-web judged by its values source' : ''})`
  )
  // The canary: each Rollout and the steps it passed (the applications output's rollouts).
  const out = JSON.parse(sync.main.outputs.applications ?? '{}') as Record<
    string,
    { rollouts?: { name: string; result: string; step: number | null; steps: number | null }[] }
  >
  for (const [app, o] of Object.entries(out)) {
    for (const r of o.rollouts ?? []) {
      step(
        `argocd-sync: ${app}: Rollout ${r.name} ${r.result}${r.step !== null ? ` at step ${r.step} of ${r.steps}` : ''}`
      )
    }
  }
  return {
    commit: title,
    planned: matrix.include.map(l => l.service).join(', '),
    built: built.join(', ') || '—',
    reused: reused.join(', ') || '—',
    config: commit ? commit.slice(0, 7) : '—',
    argocd: verdict,
    seconds: secs(t0)
  }
}

const secs = (t0: number): string => ((Date.now() - t0) / 1000).toFixed(1)
const formatSeconds = (ms: number): string => `${(ms / 1000).toFixed(1)}s`

function edit(dir: string, path: string, transform: (text: string) => string): void {
  const file = join(dir, path)
  writeFileSync(file, transform(readFileSync(file, 'utf8')))
}

async function main(): Promise<void> {
  say(bold('Conveyor demo: plan → build → deploy → argocd-sync on examples/monorepo\n'))
  const env = await setUp()
  const rows: Row[] = []
  try {
    const d = env.dev
    rows.push(await pipeline(env, 'first push of main', () => undefined))
    let original = ''
    rows.push(
      await pipeline(env, 'change one service (cart)', () => {
        edit(d, 'services/cart/app.txt', t => {
          original = t
          return `${t}free shipping over 50\n`
        })
        git(d, 'commit', '-q', '-am', 'cart: free shipping')
      })
    )
    rows.push(
      await pipeline(env, 'revert it (same content as before)', () => {
        writeFileSync(join(d, 'services/cart/app.txt'), original)
        git(d, 'commit', '-q', '-am', 'Revert "cart: free shipping"')
      })
    )
    rows.push(
      await pipeline(env, 'change the shared library', () => {
        edit(d, 'libs/money/money.txt', t => `${t}rounding: banker's\n`)
        git(d, 'commit', '-q', '-am', 'money: banker rounding')
      })
    )
    rows.push(
      await pipeline(env, 'move a file across services', () => {
        git(d, 'mv', 'services/cart/app.txt', 'services/checkout/cart-app.txt')
        git(d, 'commit', '-q', '-m', 'Move the cart text into checkout')
      })
    )
    rows.push(
      await pipeline(env, 'change nothing that builds (docs)', () => {
        edit(d, 'README.md', t => `${t}\nMore documentation.\n`)
        git(d, 'commit', '-q', '-am', 'docs: more')
      })
    )
  } finally {
    step('tearing down the registry, the simulator and the temp dirs')
    env.follower.stop()
    await env.sim.stop()
    await env.registry.stop()
    env.buildah.cleanup()
    rmSync(env.tmp, { recursive: true, force: true })
  }
  say(`\n${bold('Summary')}`)
  const header = ['commit', 'planned', 'built', 'reused', 'config commit', 'argocd', 'seconds']
  const table = [
    header,
    ...rows.map(r => [r.commit, r.planned, r.built, r.reused, r.config, r.argocd, r.seconds])
  ]
  const widths = header.map((_, i) => Math.max(...table.map(r => r[i]!.length)))
  for (const [i, r] of table.entries()) {
    say(r.map((c, j) => c.padEnd(widths[j]!)).join('  '))
    if (i === 0) say(widths.map(w => '─'.repeat(w)).join('  '))
  }
  say(`\ndone in ${secs(started)}s`)
}

main().catch(error => {
  console.error(error instanceof Error ? error.message : error)
  process.exit(1)
})
