// Run one of Conveyor's committed bundles (dist/<action>/index.js) as the GitHub runner
// does: INPUT_* variables, the file commands (GITHUB_OUTPUT, GITHUB_STATE, GITHUB_ENV,
// GITHUB_STEP_SUMMARY), an event payload, RUNNER_TEMP, then the post step with the state
// the main step saved. Plain Node ESM with no dependencies, so that it works from a clone
// without devDependencies (`node path/to/conveyor/bin/conveyor.mjs`, or `npx`).
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

/** The repository this file belongs to: its dist/ and actions/ are what runs. */
export const CONVEYOR_ROOT = resolve(import.meta.dirname, '..')

/** The actions the CLI runs. */
export const ACTIONS = ['plan', 'build', 'deploy', 'argocd-sync']

/** Parse a file-command file (`name=value` lines and `name<<DELIMITER` blocks). */
export function parseFileCommands(text) {
  const out = {}
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]
    if (line === '') continue
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line)
    if (heredoc) {
      const [, name, delimiter] = heredoc
      const value = []
      i++
      while (i < lines.length && lines[i] !== delimiter) value.push(lines[i++])
      if (i >= lines.length) throw new Error(`unterminated value for ${name}`)
      out[name] = value.join('\n')
      continue
    }
    const at = line.indexOf('=')
    if (at > 0) out[line.slice(0, at)] = line.slice(at + 1)
  }
  return out
}

/** Whether the action declares a post step (`runs.post` in its action.yml). */
export function hasPost(action, root = CONVEYOR_ROOT) {
  const file = join(root, 'actions', action, 'action.yml')
  if (!existsSync(file)) return false
  return /^runs:\s*$[\s\S]*^\s+post:\s*\S/m.test(readFileSync(file, 'utf8'))
}

/** The variables a step gets from the runner (before inputs and state). */
function runnerEnv(o, files, runnerTemp) {
  const env = {}
  // The caller's own environment (PATH, HOME, DOCKER_HOST, proxies...), minus what the
  // runner itself sets for a step.
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(GITHUB_|RUNNER_|INPUT_|STATE_)/.test(k)) env[k] = v
  }
  const repository = o.repository ?? 'local/repository'
  Object.assign(env, {
    CI: 'true',
    GITHUB_ACTIONS: 'true',
    GITHUB_WORKSPACE: o.workspace,
    GITHUB_EVENT_NAME: o.eventName ?? 'push',
    GITHUB_EVENT_PATH: files.event,
    GITHUB_SHA: o.sha ?? '0000000000000000000000000000000000000000',
    GITHUB_REF: o.ref ?? 'refs/heads/main',
    GITHUB_REPOSITORY: repository,
    GITHUB_REPOSITORY_OWNER: repository.split('/')[0],
    GITHUB_SERVER_URL: process.env.GITHUB_SERVER_URL || 'https://github.com',
    GITHUB_API_URL: process.env.GITHUB_API_URL || 'https://api.github.com',
    GITHUB_RUN_ID: '1',
    GITHUB_RUN_NUMBER: '1',
    GITHUB_RUN_ATTEMPT: '1',
    GITHUB_JOB: 'local',
    GITHUB_ACTION: o.action,
    GITHUB_WORKFLOW: 'conveyor run',
    GITHUB_ACTOR: process.env.USER || 'local',
    RUNNER_TEMP: runnerTemp,
    RUNNER_OS: 'Linux',
    RUNNER_ARCH: 'X64',
    GITHUB_OUTPUT: files.output,
    GITHUB_STATE: files.state,
    GITHUB_ENV: files.env,
    GITHUB_STEP_SUMMARY: files.summary
  })
  for (const [k, v] of Object.entries(o.inputs ?? {})) {
    env[`INPUT_${k.replace(/ /g, '_').toUpperCase()}`] = v
  }
  for (const [k, v] of Object.entries(o.env ?? {})) env[k] = v
  return env
}

function step(script, env, cwd, out) {
  return new Promise(resolveStep => {
    const child = spawn(process.execPath, [script], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout.on('data', c => out.stdout(c))
    child.stderr.on('data', c => out.stderr(c))
    child.on('error', error => {
      out.stderr(Buffer.from(`${error.message}\n`))
      resolveStep(1)
    })
    child.on('close', code => resolveStep(code ?? 1))
  })
}

/**
 * Run an action's main step, then its post step. Every line the steps print goes to
 * `out.stdout` / `out.stderr` as it comes, once. The run's directory (RUNNER_TEMP, the
 * file commands) is kept: the files the outputs point to live there.
 */
export async function runAction(o, out) {
  const base = o.dir ?? mkdtempSync(join(tmpdir(), `conveyor-run-${o.action}-`))
  const runnerTemp = join(base, 'runner-temp')
  const commands = join(base, 'file-commands')
  for (const d of [runnerTemp, commands]) mkdirSync(d, { recursive: true })
  const files = {
    event: join(commands, 'event.json'),
    output: join(commands, 'output'),
    state: join(commands, 'state'),
    env: join(commands, 'env'),
    summary: join(commands, 'summary')
  }
  writeFileSync(files.event, JSON.stringify(o.event ?? {}))
  for (const f of [files.output, files.state, files.env, files.summary]) writeFileSync(f, '')
  const env = runnerEnv(o, files, runnerTemp)
  const main = join(CONVEYOR_ROOT, 'dist', o.action, 'index.js')
  if (!existsSync(main)) throw new Error(`${main} is missing: is this a Conveyor checkout?`)
  const mainCode = await step(main, env, o.workspace, out)
  const outputs = parseFileCommands(readFileSync(files.output, 'utf8'))
  const state = parseFileCommands(readFileSync(files.state, 'utf8'))
  const summary = readFileSync(files.summary, 'utf8')
  let postCode
  if (o.post !== false && hasPost(o.action)) {
    const postEnv = { ...env }
    for (const [k, v] of Object.entries(state)) postEnv[`STATE_${k}`] = v
    // The post step appends to the same summary file: keep the main step's apart.
    writeFileSync(files.summary, '')
    postCode = await step(
      join(CONVEYOR_ROOT, 'dist', o.action, 'post', 'index.js'),
      postEnv,
      o.workspace,
      out
    )
  }
  return {
    code: mainCode || postCode || 0,
    mainCode,
    postCode,
    outputs,
    state,
    summary,
    dir: base,
    runnerTemp
  }
}
