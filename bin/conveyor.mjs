#!/usr/bin/env node
// conveyor run <action> [options]: run one of Conveyor's committed bundles locally,
// exactly as the GitHub runner would (Node 24, INPUT_*, file commands, an event
// payload, then the post step), against your own repository.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { register } from 'tsx/esm/api'

const usage = `usage: conveyor run <plan|build|deploy|argocd-sync> [options]

options:
  --workspace <dir>     the repository to run in (default: the current directory)
  --input <name=value>  an action input; repeat for more
  --env <NAME=value>    an extra environment variable; repeat for more
  --event <name>        the event name (default: push)
  --event-path <file>   a JSON event payload (default: a minimal one for the event)
  --sha <sha>           GITHUB_SHA (default: HEAD of the workspace)
  --ref <ref>           GITHUB_REF (default: the workspace's current branch)
  --repository <o/n>    GITHUB_REPOSITORY (default: local/<dir name>)
  --no-post             skip the post step`

function fail(message) {
  console.error(`conveyor: ${message}\n\n${usage}`)
  process.exit(2)
}

const argv = process.argv.slice(2)
if (argv[0] === '--help' || argv[0] === '-h' || argv.length === 0) {
  console.log(usage)
  process.exit(argv.length === 0 ? 2 : 0)
}
if (argv[0] !== 'run') fail(`unknown command "${argv[0]}"`)
const action = argv[1]
if (!['plan', 'build', 'deploy', 'argocd-sync'].includes(action ?? ''))
  fail(`unknown action "${action ?? ''}"`)
const opts = { inputs: {}, env: {}, eventName: 'push', post: undefined }
let eventPath
let workspace = process.cwd()
for (let i = 2; i < argv.length; i++) {
  const flag = argv[i]
  const value = () => {
    const v = argv[++i]
    if (v === undefined) fail(`${flag} needs a value`)
    return v
  }
  const pair = (v, what) => {
    const at = v.indexOf('=')
    if (at <= 0) fail(`${flag} expects ${what}=value, got "${v}"`)
    return [v.slice(0, at), v.slice(at + 1)]
  }
  switch (flag) {
    case '--workspace':
      workspace = resolve(value())
      break
    case '--input': {
      const [k, v] = pair(value(), 'name')
      opts.inputs[k] = v
      break
    }
    case '--env': {
      const [k, v] = pair(value(), 'NAME')
      opts.env[k] = v
      break
    }
    case '--event':
      opts.eventName = value()
      break
    case '--event-path':
      eventPath = resolve(value())
      break
    case '--sha':
      opts.sha = value()
      break
    case '--ref':
      opts.ref = value()
      break
    case '--repository':
      opts.repository = value()
      break
    case '--no-post':
      opts.post = false
      break
    default:
      fail(`unknown option "${flag}"`)
  }
}
const git = args => {
  try {
    return execFileSync('git', args, {
      cwd: workspace,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore']
    }).trim()
  } catch {
    return ''
  }
}
opts.workspace = workspace
opts.sha ??= git(['rev-parse', 'HEAD']) || undefined
if (!opts.ref) {
  const branch = git(['symbolic-ref', '--short', '-q', 'HEAD'])
  opts.ref = branch ? `refs/heads/${branch}` : undefined
}
opts.repository ??= `local/${workspace.split('/').pop()}`
opts.event = eventPath
  ? JSON.parse(readFileSync(eventPath, 'utf8'))
  : {
      ref: opts.ref,
      after: opts.sha,
      repository: { full_name: opts.repository, default_branch: 'main' }
    }
for (const [k, v] of Object.entries(process.env)) {
  // Pass the caller's own INPUT_* and secrets-by-env through unchanged.
  if (!(k in opts.env) && (k.startsWith('INPUT_') || k === 'HTTPS_PROXY' || k === 'NO_PROXY'))
    opts.env[k] = v
}
opts.onStdout = chunk => process.stdout.write(chunk)
opts.timeoutMs = 60 * 60 * 1000

register()
const { runAction } = await import('../test/support/harness.ts')
const run = await runAction(action, opts)
for (const [label, step] of [
  ['main', run.main],
  ['post', run.post]
]) {
  if (!step) continue
  if (step.stderr.trim()) process.stderr.write(step.stderr)
  if (label === 'post') {
    process.stdout.write(step.stdout)
  }
}
console.log('\n── outputs ──')
for (const [k, v] of Object.entries(run.main.outputs))
  console.log(`${k}: ${v.length > 400 ? v.slice(0, 400) + '…' : v}`)
if (run.main.summary.trim()) console.log(`\n── step summary ──\n${run.main.summary}`)
const code = run.main.code || run.post?.code || 0
console.log(`\n${action}: ${code === 0 ? 'succeeded' : `failed (exit ${code})`}`)
process.exit(code)
