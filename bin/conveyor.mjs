#!/usr/bin/env node
// conveyor run <action> [options]: run one of Conveyor's committed bundles locally, as
// the GitHub runner would (INPUT_*, file commands, an event payload, then the post step),
// against your own repository. Plain Node ESM, no dependencies: it works from a clone
// without `npm install` (`node path/to/conveyor/bin/conveyor.mjs run plan`) or with npx.
import { execFileSync } from 'node:child_process'
import { readFileSync, realpathSync } from 'node:fs'
import { basename, resolve } from 'node:path'
import { ACTIONS, runAction } from './run-action.mjs'

const usage = `usage: conveyor run <${ACTIONS.join('|')}> [options]

options:
  --workspace <dir>     the repository to run in (default: the current directory)
  --input <name=value>  an action input; repeat for more
  --env <NAME=value>    an extra environment variable; repeat for more
  --event <name>        the event name (default: push)
  --event-path <file>   a JSON event payload (default: a minimal one for the event)
  --sha <sha>           GITHUB_SHA (default: HEAD of the workspace)
  --ref <ref>           GITHUB_REF (default: the workspace's current branch)
  --repository <o/n>    GITHUB_REPOSITORY (default: local/<directory name>)
  --runner-temp <dir>   the run's directory (RUNNER_TEMP and the file commands); reuse one
                        to pass files between runs (build's results to deploy). Default: a
                        new directory, kept and printed, since outputs point into it
  --no-post             skip the post step

Inputs win over the services file's defaults (e.g. --input registry=... over
defaults.registry); each action logs which value it used and where it came from.`

function fail(message) {
  process.stderr.write(`conveyor: ${message}\n\n${usage}\n`)
  process.exit(2)
}

const argv = process.argv.slice(2)
if (argv[0] === '--help' || argv[0] === '-h' || argv.length === 0) {
  process.stdout.write(`${usage}\n`)
  process.exit(argv.length === 0 ? 2 : 0)
}
if (argv[0] !== 'run') fail(`unknown command "${argv[0]}"`)
const action = argv[1]
if (!ACTIONS.includes(action ?? '')) fail(`unknown action "${action ?? ''}"`)
const major = Number(process.versions.node.split('.')[0])
if (major < 20)
  fail(
    `Node ${process.versions.node} is too old: use Node 24 (GitHub runs these actions on node24)`
  )
if (major < 24)
  process.stderr.write(
    `conveyor: warning: Node ${process.versions.node}; GitHub runs these actions on Node 24\n`
  )

const o = { action, inputs: {}, env: {}, eventName: 'push' }
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
      o.inputs[k] = v
      break
    }
    case '--env': {
      const [k, v] = pair(value(), 'NAME')
      o.env[k] = v
      break
    }
    case '--event':
      o.eventName = value()
      break
    case '--event-path':
      eventPath = resolve(value())
      break
    case '--sha':
      o.sha = value()
      break
    case '--ref':
      o.ref = value()
      break
    case '--repository':
      o.repository = value()
      break
    case '--runner-temp':
      o.dir = resolve(value())
      break
    case '--no-post':
      o.post = false
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
try {
  workspace = realpathSync(workspace)
} catch {
  fail(`--workspace ${workspace} does not exist`)
}
o.workspace = workspace
o.sha ??= git(['rev-parse', 'HEAD']) || undefined
if (!o.ref) {
  const branch = git(['symbolic-ref', '--short', '-q', 'HEAD'])
  o.ref = branch ? `refs/heads/${branch}` : undefined
}
o.repository ??= `local/${basename(workspace)}`
const defaultBranch =
  git(['symbolic-ref', '--short', '-q', 'refs/remotes/origin/HEAD']).replace(/^origin\//, '') ||
  (o.ref ?? '').replace(/^refs\/heads\//, '') ||
  'main'
o.event = eventPath
  ? JSON.parse(readFileSync(eventPath, 'utf8'))
  : {
      ref: o.ref,
      after: o.sha,
      repository: { full_name: o.repository, default_branch: defaultBranch }
    }

const run = await runAction(o, {
  stdout: chunk => process.stdout.write(chunk),
  stderr: chunk => process.stderr.write(chunk)
})
const lines = ['', '── outputs ──']
for (const [k, v] of Object.entries(run.outputs)) {
  // Whole, as a later step would read it; a multi-line value starts on its own line.
  lines.push(v.includes('\n') ? `${k}:\n${v.replace(/^/gm, '  ')}` : `${k}: ${v}`)
}
if (run.summary.trim()) lines.push('', '── step summary ──', run.summary.trimEnd())
lines.push(
  '',
  `files of this run (RUNNER_TEMP, file commands): ${run.dir} (kept: outputs point into it; remove it when done)`,
  `${action}: ${run.code === 0 ? 'succeeded' : `failed (exit ${run.code})`}`
)
process.stdout.write(`${lines.join('\n')}\n`)
process.exit(run.code)
