/**
 * A tiny base image for Dockerfiles with RUN steps, made locally from the static
 * busybox binary (no public registry is reachable here), and an isolated buildah
 * environment (vfs storage in a temp dir by default, or overlay, chroot isolation) for
 * tests and benchmarks. No test framework imports.
 */
import { execFileSync } from 'node:child_process'
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** An isolated buildah/skopeo environment. */
export interface BuildahEnv {
  env: NodeJS.ProcessEnv
  dir: string
  cleanup(): void
}

/** The storage of `isolatedBuildahEnv`: vfs (the default), or overlay (kernel or a mount program). */
export interface StorageChoice {
  driver?: 'vfs' | 'overlay'
  /** overlay only: e.g. `/usr/bin/fuse-overlayfs` (the layers then keep `.wh.` whiteout files). */
  mountProgram?: string
}

/** Mount points under `dir` (overlay's own bind mount of its home, containers' merged dirs), deepest first. */
function mountsUnder(dir: string): string[] {
  let text = ''
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8')
  } catch {
    return []
  }
  return text
    .split('\n')
    .map(line => line.split(' ')[4]?.replace(/\\040/g, ' '))
    .filter((m): m is string => m !== undefined && m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length)
}

/** Storage under a fresh temp dir (vfs unless asked otherwise); chroot isolation; no user config. */
export function isolatedBuildahEnv(storage: StorageChoice = {}): BuildahEnv {
  const driver = storage.driver ?? 'vfs'
  const dir = mkdtempSync(join(tmpdir(), 'conveyor-buildah-'))
  const conf = join(dir, 'storage.conf')
  const program = storage.mountProgram
    ? `[storage.options.overlay]\nmount_program = "${storage.mountProgram}"\n`
    : ''
  writeFileSync(
    conf,
    `[storage]\ndriver = "${driver}"\ngraphroot = "${join(dir, 'graph')}"\nrunroot = "${join(dir, 'run')}"\n${program}`
  )
  const env: NodeJS.ProcessEnv = {
    CONTAINERS_STORAGE_CONF: conf,
    STORAGE_DRIVER: driver,
    BUILDAH_ISOLATION: 'chroot',
    BUILDAH_LAYERS: 'true',
    XDG_RUNTIME_DIR: join(dir, 'xdg-run')
  }
  mkdirSync(env.XDG_RUNTIME_DIR!, { recursive: true, mode: 0o700 })
  return {
    env,
    dir,
    cleanup: () => {
      try {
        execFileSync('buildah', ['rm', '--all'], {
          env: { ...process.env, ...env },
          stdio: 'ignore'
        })
      } catch {
        // nothing to remove
      }
      // overlay bind-mounts its home onto itself (and a container left mounted has its merged dir)
      for (const mount of mountsUnder(dir)) {
        try {
          execFileSync('umount', ['-l', mount], { stdio: 'ignore' })
        } catch {
          // not ours to unmount after all
        }
      }
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

/** The static busybox binary. */
export const BUSYBOX = '/bin/busybox'

/** Write a busybox root file system context (Dockerfile FROM scratch) into `dir`. */
export function writeBusyboxContext(dir: string): void {
  const bin = join(dir, 'rootfs', 'bin')
  mkdirSync(bin, { recursive: true })
  copyFileSync(BUSYBOX, join(bin, 'busybox'))
  chmodSync(join(bin, 'busybox'), 0o755)
  for (const tool of ['sh', 'echo', 'cat', 'ls', 'mkdir', 'touch', 'env', 'true', 'sleep']) {
    symlinkSync('busybox', join(bin, tool))
  }
  mkdirSync(join(dir, 'rootfs', 'tmp'), { recursive: true })
  writeFileSync(
    join(dir, 'Dockerfile'),
    'FROM scratch\nCOPY rootfs/ /\nENV PATH=/bin\nCMD ["/bin/sh"]\n'
  )
}

/**
 * Build the busybox base image with buildah and push it to `ref` (e.g.
 * `127.0.0.1:5000/base/busybox:1`). `authFile`/`certDir`/`insecure` as for buildah push.
 */
export function pushBusyboxBase(
  ref: string,
  buildah: BuildahEnv,
  options: { authFile?: string; certDir?: string; insecure?: boolean } = {}
): void {
  const dir = mkdtempSync(join(tmpdir(), 'conveyor-base-'))
  try {
    writeBusyboxContext(dir)
    const env = { ...process.env, ...buildah.env }
    execFileSync('buildah', ['bud', '--tag', ref, dir], { env, stdio: 'pipe' })
    const flags = [
      ...(options.authFile ? ['--authfile', options.authFile] : []),
      ...(options.certDir ? ['--cert-dir', options.certDir] : []),
      ...(options.insecure ? ['--tls-verify=false'] : [])
    ]
    execFileSync('buildah', ['push', ...flags, ref, `docker://${ref}`], { env, stdio: 'pipe' })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** A docker-style auth file for `user`/`password` at `registry`, 0600, in a new temp dir. */
export function writeTestAuthFile(registry: string, user: string, password: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'conveyor-testauth-'))
  const file = join(dir, 'auth.json')
  const auth = Buffer.from(`${user}:${password}`).toString('base64')
  writeFileSync(file, JSON.stringify({ auths: { [registry]: { auth } } }), { mode: 0o600 })
  return file
}
