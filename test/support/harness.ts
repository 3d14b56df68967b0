/**
 * The runner harness: runs a committed bundle exactly as the GitHub runner does
 * (Node 24, INPUT_* variables, the file commands, an event payload), then its post
 * step with the saved state, and parses what came out.
 */
import { spawn, execFileSync } from 'node:child_process'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse as parseYaml } from 'yaml'

export const ROOT = join(import.meta.dirname, '..', '..')

/** The Node 24 binary from the `node` devDependency. */
export function node24(): string {
  const bin = join(ROOT, 'node_modules', 'node', 'bin', 'node')
  if (!existsSync(bin)) {
    throw new Error(
      `Node 24 is missing at ${bin}: run "npm ci" (the "node" devDependency provides it)`
    )
  }
  return bin
}

let checked = false
function checkNode24(bin: string): void {
  if (checked) return
  const version = execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim()
  if (!version.startsWith('v24.')) throw new Error(`expected Node 24 at ${bin}, found ${version}`)
  checked = true
}

/** A workflow command printed on stdout (`::name props::message`). */
export interface WorkflowCommand {
  name: string
  props: Record<string, string>
  message: string
}

function unescapeData(s: string): string {
  return s.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%')
}
function unescapeProp(s: string): string {
  return unescapeData(s).replace(/%3A/g, ':').replace(/%2C/g, ',')
}

/** Parse the workflow commands in a stdout text. */
export function parseCommands(stdout: string): WorkflowCommand[] {
  const out: WorkflowCommand[] = []
  for (const line of stdout.split(/\r?\n/)) {
    const m = /^::([a-zA-Z-]+)( [^:]*)?::(.*)$/.exec(line)
    if (!m) continue
    const props: Record<string, string> = {}
    for (const pair of (m[2] ?? '').trim().split(',')) {
      const at = pair.indexOf('=')
      if (at > 0) props[pair.slice(0, at)] = unescapeProp(pair.slice(at + 1))
    }
    out.push({ name: m[1]!, props, message: unescapeData(m[3] ?? '') })
  }
  return out
}

/** Parse a file-command file (GITHUB_OUTPUT, GITHUB_STATE, GITHUB_ENV). */
export function parseFileCommands(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    if (line === '') continue
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line)
    if (heredoc) {
      const [, name, delimiter] = heredoc
      const value: string[] = []
      i++
      while (i < lines.length && lines[i] !== delimiter) value.push(lines[i++]!)
      if (i >= lines.length)
        throw new Error(`unterminated value for ${name} (delimiter ${delimiter})`)
      out[name!] = value.join('\n')
      continue
    }
    const at = line.indexOf('=')
    if (at <= 0) throw new Error(`malformed file command line: ${JSON.stringify(line)}`)
    out[line.slice(0, at)] = line.slice(at + 1)
  }
  return out
}

/** argv and environment of one process the step started, read from /proc. */
export interface ProcessSample {
  pid: number
  /** The step's own node process, whose environment the runner fills with INPUT_*. */
  root: boolean
  argv: string[]
  environ: string
}

/** What one step (main or post) left behind. */
export interface StepResult {
  code: number
  stdout: string
  stderr: string
  outputs: Record<string, string>
  state: Record<string, string>
  env: Record<string, string>
  summary: string
  commands: WorkflowCommand[]
  masks: string[]
  errors: string[]
  warnings: string[]
  notices: string[]
  durationMs: number
  processes: ProcessSample[]
}

/** One action run: main, then post when the action has one. */
export interface ActionRun {
  main: StepResult
  post?: StepResult
  runnerTemp: string
  workspace: string
  /** Every file left under RUNNER_TEMP after the post step: path → content. */
  leftoverFiles(): Record<string, string>
  /** Every file in the workspace except git's object store: path → content. */
  workspaceFiles(): Record<string, string>
  /** Every text the run produced, by channel name, for leak scans. */
  channels(): Record<string, string>
}

/** Options of `runAction`. */
export interface RunOptions {
  inputs?: Record<string, string>
  env?: Record<string, string | undefined>
  eventName?: string
  event?: unknown
  sha?: string
  ref?: string
  repository?: string
  /** The working directory and GITHUB_WORKSPACE; a fresh temp dir by default. */
  workspace?: string
  runnerTemp?: string
  /** Run the post step too (default: when action.yml declares one). */
  post?: boolean
  timeoutMs?: number
  /** Sample argv and environ of every descendant process from /proc while running. */
  sampleProcesses?: boolean
  /** Use another bundle than dist/<name>/index.js (for fixtures). */
  bundle?: { main: string; post?: string }
  /** Called with each stdout chunk (progress in long tests). */
  onStdout?: (chunk: string) => void
}

function descendants(root: number): number[] {
  const parents = new Map<number, number>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      parents.set(Number(entry), ppid)
    } catch {
      // the process ended meanwhile
    }
  }
  const out: number[] = []
  for (const pid of parents.keys()) {
    let p: number | undefined = pid
    for (let depth = 0; p !== undefined && p > 1 && depth < 64; depth++) {
      if (p === root) {
        out.push(pid)
        break
      }
      p = parents.get(p)
    }
  }
  return out
}

function sample(root: number, seen: Map<string, ProcessSample>): void {
  for (const pid of descendants(root)) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean)
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').replace(/\0/g, '\n')
      const key = `${pid}:${argv.join(' ')}`
      if (!seen.has(key) && argv.length > 0)
        seen.set(key, { pid, root: pid === root, argv, environ })
    } catch {
      // gone
    }
  }
}

function readIf(path: string): string {
  return existsSync(path) ? readFileSync(path, 'utf8') : ''
}

async function runStep(
  script: string,
  env: NodeJS.ProcessEnv,
  cwd: string,
  files: { output: string; state: string; env: string; summary: string },
  options: RunOptions
): Promise<StepResult> {
  for (const f of Object.values(files)) writeFileSync(f, '')
  const bin = node24()
  checkNode24(bin)
  const started = Date.now()
  const child = spawn(bin, [script], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString('utf8')
    options.onStdout?.(c.toString('utf8'))
  })
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')))
  const seen = new Map<string, ProcessSample>()
  const sampler = options.sampleProcesses
    ? setInterval(() => child.pid !== undefined && sample(child.pid, seen), 15)
    : undefined
  const timeout = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000)
  const code = await new Promise<number>(resolve => child.on('close', c => resolve(c ?? -1)))
  clearTimeout(timeout)
  if (sampler) clearInterval(sampler)
  const commands = parseCommands(stdout)
  const pick = (n: string): string[] => commands.filter(c => c.name === n).map(c => c.message)
  return {
    code,
    stdout,
    stderr,
    outputs: parseFileCommands(readIf(files.output)),
    state: parseFileCommands(readIf(files.state)),
    env: parseFileCommands(readIf(files.env)),
    summary: readIf(files.summary),
    commands,
    masks: pick('add-mask'),
    errors: pick('error'),
    warnings: pick('warning'),
    notices: pick('notice'),
    durationMs: Date.now() - started,
    processes: [...seen.values()]
  }
}

function walk(dir: string, out: Record<string, string>, skip: Set<string>): void {
  if (!existsSync(dir)) return
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry)
    if (skip.has(path) || skip.has(entry)) continue
    const st = statSync(path, { throwIfNoEntry: false })
    if (!st) continue
    if (st.isDirectory()) walk(path, out, skip)
    else if (st.isFile() && st.size < 64 * 1024 * 1024)
      out[path] = readFileSync(path).toString('latin1')
  }
}

const tempDirs: string[] = []
// Remove every run's temp dirs when the test process ends (CONVEYOR_KEEP_TMP=1 keeps them).
process.once('exit', () => {
  if (process.env.CONVEYOR_KEEP_TMP) return
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true })
})

/** Whether an action declares a post step. */
export function hasPost(name: string): boolean {
  const file = join(ROOT, 'actions', name, 'action.yml')
  if (!existsSync(file)) return false
  const doc = parseYaml(readFileSync(file, 'utf8')) as { runs?: { post?: string } }
  return Boolean(doc.runs?.post)
}

/**
 * Run an action's committed bundle as the runner would: main, then (when the
 * action has one) post with the state main saved.
 */
export async function runAction(name: string, options: RunOptions = {}): Promise<ActionRun> {
  const base = mkdtempSync(join(tmpdir(), `conveyor-${name}-`))
  tempDirs.push(base)
  const runnerTemp = options.runnerTemp ?? join(base, 'runner-temp')
  const workspace = options.workspace ?? join(base, 'workspace')
  const cmdDir = join(base, 'file-commands')
  for (const d of [runnerTemp, workspace, cmdDir]) mkdirSync(d, { recursive: true })
  const eventPath = join(cmdDir, 'event.json')
  writeFileSync(eventPath, JSON.stringify(options.event ?? {}))
  const files = {
    output: join(cmdDir, 'output'),
    state: join(cmdDir, 'state'),
    env: join(cmdDir, 'env'),
    summary: join(cmdDir, 'summary')
  }
  const inputs: Record<string, string> = {}
  for (const [k, v] of Object.entries(options.inputs ?? {})) {
    inputs[`INPUT_${k.replace(/ /g, '_').toUpperCase()}`] = v
  }
  const baseEnv: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LANG: 'C.UTF-8',
    CI: 'true',
    GITHUB_ACTIONS: 'true',
    GITHUB_WORKSPACE: workspace,
    GITHUB_EVENT_NAME: options.eventName ?? 'push',
    GITHUB_EVENT_PATH: eventPath,
    GITHUB_SHA: options.sha ?? '0000000000000000000000000000000000000000',
    GITHUB_REF: options.ref ?? 'refs/heads/main',
    GITHUB_REPOSITORY: options.repository ?? 'acme/shop',
    GITHUB_REPOSITORY_OWNER: (options.repository ?? 'acme/shop').split('/')[0],
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_API_URL: 'https://api.github.com',
    GITHUB_RUN_ID: '1234567890',
    GITHUB_RUN_NUMBER: '42',
    GITHUB_RUN_ATTEMPT: '1',
    GITHUB_JOB: 'test',
    GITHUB_ACTION: name,
    GITHUB_WORKFLOW: 'CI',
    GITHUB_WORKFLOW_REF: `${options.repository ?? 'acme/shop'}/.github/workflows/ci.yml@${options.ref ?? 'refs/heads/main'}`,
    GITHUB_ACTOR: 'octocat',
    RUNNER_TEMP: runnerTemp,
    RUNNER_OS: 'Linux',
    RUNNER_ARCH: 'X64',
    RUNNER_DEBUG: '',
    GITHUB_OUTPUT: files.output,
    GITHUB_STATE: files.state,
    GITHUB_ENV: files.env,
    GITHUB_STEP_SUMMARY: files.summary,
    ...inputs
  }
  for (const [k, v] of Object.entries(options.env ?? {})) {
    if (v === undefined) delete baseEnv[k]
    else baseEnv[k] = v
  }
  const mainScript = options.bundle?.main ?? join(ROOT, 'dist', name, 'index.js')
  const postScript = options.bundle
    ? options.bundle.post
    : join(ROOT, 'dist', name, 'post', 'index.js')
  const main = await runStep(mainScript, baseEnv, workspace, files, options)
  let post: StepResult | undefined
  const wantPost = options.post ?? (options.bundle ? Boolean(options.bundle.post) : hasPost(name))
  if (wantPost && postScript) {
    const postEnv: NodeJS.ProcessEnv = { ...baseEnv }
    for (const [k, v] of Object.entries(main.state)) postEnv[`STATE_${k}`] = v
    post = await runStep(postScript, postEnv, workspace, files, options)
  }
  const leftoverFiles = (): Record<string, string> => {
    const out: Record<string, string> = {}
    walk(runnerTemp, out, new Set())
    return out
  }
  const workspaceFiles = (): Record<string, string> => {
    const out: Record<string, string> = {}
    walk(workspace, out, new Set([join(workspace, '.git', 'objects'), 'node_modules']))
    return out
  }
  return {
    main,
    post,
    runnerTemp,
    workspace,
    leftoverFiles,
    workspaceFiles,
    channels: () => {
      const ch: Record<string, string> = {}
      const steps: [string, StepResult | undefined][] = [
        ['main', main],
        ['post', post]
      ]
      for (const [label, s] of steps) {
        if (!s) continue
        // Masks are the one place a secret legitimately appears: drop those lines.
        ch[`${label}.stdout`] = s.stdout
          .split('\n')
          .filter(l => !l.startsWith('::add-mask::'))
          .join('\n')
        ch[`${label}.stderr`] = s.stderr
        ch[`${label}.GITHUB_OUTPUT`] = JSON.stringify(s.outputs)
        ch[`${label}.GITHUB_STATE`] = JSON.stringify(s.state)
        ch[`${label}.GITHUB_ENV`] = JSON.stringify(s.env)
        ch[`${label}.summary`] = s.summary
        s.processes.forEach((p, i) => {
          ch[`${label}.process[${i}].argv`] = p.argv.join(' ')
          // The step's own environment holds INPUT_* as the runner set it: not a leak.
          if (!p.root) ch[`${label}.process[${i}].environ`] = p.environ
        })
      }
      for (const [path, content] of Object.entries(leftoverFiles())) ch[`file:${path}`] = content
      for (const [path, content] of Object.entries(workspaceFiles()))
        ch[`workspace:${path}`] = content
      return ch
    }
  }
}
