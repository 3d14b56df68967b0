/**
 * Run the Argo CD simulator as a standalone server (for the dogfooding CI job and for
 * trying argocd-sync by hand):
 *   npx tsx scripts/argocd-sim.ts --token T (--apps a,b | --examples) [--git URL=GITDIR]
 *     [--url-file F] [--step-ms 30] [--scenario healthy]
 * `--examples` serves the Applications of examples/argocd; `--git` makes the simulator
 * follow a real repository for a repoURL (as Argo CD polls it). Prints the URL, writes
 * it to --url-file, and runs until SIGINT or SIGTERM.
 */
import { writeFileSync } from 'node:fs'
import { simAppsFromExamples } from '../test/support/argocd-examples.js'
import { startArgoSim, type Scenario } from '../test/support/argocd-sim.js'
import { followGitRepo } from '../test/support/argocd-sim-git.js'

const args = process.argv.slice(2)
const opt = (name: string, fallback = ''): string => {
  const at = args.indexOf(`--${name}`)
  return at >= 0 && args[at + 1] !== undefined ? args[at + 1]! : fallback
}
const token = opt('token')
const examples = args.includes('--examples')
const names = opt('apps')
  .split(',')
  .map(s => s.trim())
  .filter(Boolean)
if (token === '' || (names.length === 0 && !examples)) {
  console.error(
    'usage: argocd-sim --token <token> (--apps <a,b,...> | --examples) [--git URL=GITDIR] [--url-file F] [--step-ms N] [--scenario S]'
  )
  process.exit(2)
}
const scenario = opt('scenario', 'healthy') as Scenario
const apps = examples ? simAppsFromExamples() : names.map(name => ({ name, scenario }))
const sim = await startArgoSim({ tokens: [token], stepMs: Number(opt('step-ms', '30')), apps })
const git = opt('git')
const follower = git
  ? followGitRepo(sim, git.slice(0, git.lastIndexOf('=')), git.slice(git.lastIndexOf('=') + 1), {
      intervalMs: 500
    })
  : undefined
const urlFile = opt('url-file')
if (urlFile) writeFileSync(urlFile, sim.url)
console.log(`argocd-sim: ${sim.url} (apps: ${apps.map(a => a.name).join(', ')})`)
const stop = (): void => {
  follower?.stop()
  void sim.stop().then(() => process.exit(0))
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
