/**
 * Run the Argo CD simulator as a standalone server (for the dogfooding CI job and for
 * trying argocd-sync by hand):
 *   npx tsx scripts/argocd-sim.ts --token T --apps a,b [--url-file F] [--step-ms 30] [--scenario healthy]
 * Prints the URL, writes it to --url-file, and runs until SIGINT or SIGTERM.
 */
import { writeFileSync } from 'node:fs'
import { startArgoSim, type Scenario } from '../test/support/argocd-sim.js'

const args = process.argv.slice(2)
const opt = (name: string, fallback = ''): string => {
  const at = args.indexOf(`--${name}`)
  return at >= 0 && args[at + 1] !== undefined ? args[at + 1]! : fallback
}
const token = opt('token')
const apps = opt('apps')
  .split(',')
  .map(s => s.trim())
  .filter(Boolean)
if (token === '' || apps.length === 0) {
  console.error(
    'usage: argocd-sim --token <token> --apps <a,b,...> [--url-file F] [--step-ms N] [--scenario S]'
  )
  process.exit(2)
}
const scenario = opt('scenario', 'healthy') as Scenario
const sim = await startArgoSim({
  tokens: [token],
  stepMs: Number(opt('step-ms', '30')),
  apps: apps.map(name => ({ name, scenario }))
})
const urlFile = opt('url-file')
if (urlFile) writeFileSync(urlFile, sim.url)
console.log(`argocd-sim: ${sim.url} (apps: ${apps.join(', ')})`)
const stop = (): void => {
  void sim.stop().then(() => process.exit(0))
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
