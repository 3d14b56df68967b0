/**
 * An isolated Docker daemon (Debian's dockerd 20.10) for tests: its own data-root,
 * exec-root, pidfile, config file and unix socket in a short temp dir, started with the
 * flags this machine needs (no iptables, no bridge, vfs). Builds need `--network host`.
 * Plain start/stop functions, no test framework imports.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** A running daemon. */
export interface TestDockerd {
  /** `unix:///.../docker.sock`, for DOCKER_HOST. */
  host: string
  dir: string
  /** Environment for the docker CLI talking to this daemon. */
  env: NodeJS.ProcessEnv
  log(): string
  stop(): Promise<void>
}

/** Lazily unmount whatever dockerd left mounted under `dir` (deepest first). */
function unmountUnder(dir: string): void {
  const mounts = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map(l => l.split(' ')[1] ?? '')
    .filter(m => m === dir || m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length)
  for (const m of mounts) {
    try {
      execFileSync('umount', ['-l', m], { stdio: 'ignore' })
    } catch {
      // already gone
    }
  }
}

/** Whether dockerd and the docker CLI are installed. */
export function haveDocker(): boolean {
  try {
    execFileSync('dockerd', ['--version'], { stdio: 'ignore' })
    execFileSync('docker', ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/** Start dockerd; `insecureRegistries` are `host:port` the daemon may use over HTTP. */
export async function startDockerd(
  options: { insecureRegistries?: string[]; timeoutMs?: number } = {}
): Promise<TestDockerd> {
  // Unix socket paths are limited to 108 bytes: keep the dir short.
  const dir = mkdtempSync('/tmp/dkd-')
  const sock = join(dir, 'docker.sock')
  const config = join(dir, 'daemon.json')
  writeFileSync(config, '{}\n')
  const args = [
    '--iptables=false',
    '--ip6tables=false',
    '--bridge=none',
    '--storage-driver=vfs',
    `--data-root=${join(dir, 'data')}`,
    `--exec-root=${join(dir, 'exec')}`,
    `--pidfile=${join(dir, 'docker.pid')}`,
    `--config-file=${config}`,
    `--host=unix://${sock}`,
    ...(options.insecureRegistries ?? []).map(r => `--insecure-registry=${r}`)
  ]
  let log = ''
  const child: ChildProcess = spawn('dockerd', args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH, HOME: dir }
  })
  child.stdout!.on('data', (c: Buffer) => (log += c.toString()))
  child.stderr!.on('data', (c: Buffer) => (log += c.toString()))
  let exited = false
  child.on('exit', () => (exited = true))
  const host = `unix://${sock}`
  const env: NodeJS.ProcessEnv = { DOCKER_HOST: host, DOCKER_CONFIG: join(dir, 'cli-config') }
  const deadline = Date.now() + (options.timeoutMs ?? 60_000)
  for (;;) {
    try {
      execFileSync('docker', ['version', '--format', '{{.Server.Version}}'], {
        env: { ...process.env, ...env },
        stdio: 'pipe'
      })
      break
    } catch {
      if (exited || Date.now() > deadline) {
        child.kill('SIGKILL')
        rmSync(dir, { recursive: true, force: true })
        throw new Error(`dockerd did not start:\n${log.slice(-3000)}`)
      }
      await new Promise(r => setTimeout(r, 250))
    }
  }
  return {
    host,
    dir,
    env,
    log: () => log,
    stop: async () => {
      if (!exited) {
        const done = new Promise(r => child.once('exit', r))
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
        await done
        clearTimeout(timer)
      }
      unmountUnder(dir)
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
