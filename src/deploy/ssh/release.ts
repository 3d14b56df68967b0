/**
 * Pure decisions of an SSH release deploy: release names, which old releases to
 * prune, POSIX shell quoting, and the texts sent to the remote shell (over stdin).
 */

/** Release names this toolkit creates: `YYYYMMDD-HHMMSS-mmm-<short sha>`. */
export const RELEASE_NAME_RE = /^\d{8}-\d{6}-\d{3}-[0-9a-z]{1,40}$/

/** A release name from a time and a commit SHA (first 7 characters; `local` without one). */
export function releaseName(now: Date, sha: string | undefined): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0')
  const date = `${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}`
  const time = `${p(now.getUTCHours())}${p(now.getUTCMinutes())}${p(now.getUTCSeconds())}`
  const short =
    (sha ?? '')
      .toLowerCase()
      .replace(/[^0-9a-z]/g, '')
      .slice(0, 7) || 'local'
  return `${date}-${time}-${p(now.getUTCMilliseconds(), 3)}-${short}`
}

/**
 * The releases to delete so that `keep` remain, newest first by name. Names that
 * this toolkit did not create are never touched; `current` and `protect` (the new
 * release) are always kept.
 */
export function releasesToPrune(
  names: string[],
  keep: number,
  current: string | undefined,
  protect: string[] = []
): string[] {
  const ours = names.filter(n => RELEASE_NAME_RE.test(n)).sort((a, b) => (a < b ? 1 : -1))
  const kept = new Set<string>()
  for (const n of [...protect, current]) if (n && ours.includes(n)) kept.add(n)
  for (const n of ours) {
    if (kept.size >= keep) break
    kept.add(n)
  }
  return ours.filter(n => !kept.has(n)).sort()
}

/** Quote a string for a POSIX shell (single quotes). */
export function shellQuote(value: string): string {
  if (/^[A-Za-z0-9_./:=@%+-]+$/.test(value)) return value
  return `'${value.replace(/'/g, `'\\''`)}'`
}

/** The release name a `current` symlink points to (`releases/<name>` or an absolute path). */
export function releaseFromLink(link: string): string | undefined {
  const name = link.replace(/\/+$/, '').split('/').pop() ?? ''
  return RELEASE_NAME_RE.test(name) ? name : undefined
}

/** The remote layout under a target directory. */
export interface RemoteLayout {
  target: string
  release: string
  releasesDir: string
  releaseDir: string
  current: string
}

/** Paths of a release under `target`. */
export function remoteLayout(target: string, release: string): RemoteLayout {
  const base = target.replace(/\/+$/, '') || '/'
  const join = (...parts: string[]): string => [base === '/' ? '' : base, ...parts].join('/')
  return {
    target: base,
    release,
    releasesDir: join('releases'),
    releaseDir: join('releases', release),
    current: join('current')
  }
}

/**
 * A shell program that points `current` at `releases/<release>` atomically: a temp
 * symlink renamed over the old one (`mv -T` is one rename(2)).
 */
export function switchProgram(layout: RemoteLayout, release: string): string {
  return linkProgram(layout, `releases/${release}`)
}

/** Point `current` atomically at `linkTarget` exactly as given (a rollback restores the old link). */
export function linkProgram(layout: RemoteLayout, linkTarget: string): string {
  const tmp = `${layout.target}/.current-${layout.release}-${process.pid}`
  return [
    'set -eu',
    `ln -sfn ${shellQuote(linkTarget)} ${shellQuote(tmp)}`,
    `mv -fT ${shellQuote(tmp)} ${shellQuote(layout.current)}`,
    ''
  ].join('\n')
}

/** A shell program that removes `current` (rollback of a first deploy). */
export function unlinkProgram(layout: RemoteLayout): string {
  return `set -eu\nrm -f ${shellQuote(layout.current)}\n`
}

/** `export NAME='value'` lines for the remote script; the values travel over stdin only. */
export function exportLines(env: Record<string, string>): string {
  return Object.entries(env)
    .map(([k, v]) => `export ${k}=${shellQuote(v)}\n`)
    .join('')
}

/**
 * The program fed to `bash -s` on stdin: strict mode, the environment, `cd` into the
 * release, then the user's script inside a function that bash parses completely before
 * running it (so commands in the script that read stdin cannot eat the rest of it), with
 * stdin from /dev/null.
 */
export function scriptProgram(
  layout: RemoteLayout,
  script: string,
  env: Record<string, string>,
  previous: string | undefined,
  pidFile?: string
): string {
  const vars: Record<string, string> = {
    CONVEYOR_RELEASE: layout.release,
    CONVEYOR_RELEASE_DIR: layout.releaseDir,
    CONVEYOR_TARGET: layout.target,
    CONVEYOR_PREVIOUS_RELEASE: previous ?? ''
  }
  return [
    'set -euo pipefail',
    ...(pidFile ? [`echo $$ > ${shellQuote(pidFile)}`] : []),
    exportLines({ ...vars, ...env }).trimEnd(),
    `cd ${shellQuote(layout.releaseDir)}`,
    '__conveyor_script() {',
    'set -euo pipefail',
    script.replace(/\s+$/, ''),
    ':',
    '}',
    '__conveyor_script < /dev/null',
    ''
  ].join('\n')
}

/**
 * A shell program that kills the process group of the script whose bash wrote its pid
 * to `pidFile` (a script that outlived its timeout), then removes the file.
 */
export function killProgram(pidFile: string): string {
  const f = shellQuote(pidFile)
  return [
    `pid=$(cat ${f} 2>/dev/null || true)`,
    'if [ -n "$pid" ]; then',
    '  pgid=$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d " " || true)',
    '  if [ -n "$pgid" ]; then kill -KILL -- "-$pgid" 2>/dev/null || true; fi',
    '  kill -KILL "$pid" 2>/dev/null || true',
    'fi',
    `rm -f ${f}`,
    ''
  ].join('\n')
}

/**
 * The command that checks the manifest (on stdin) inside the release: GNU or BusyBox
 * `sha256sum -c`, or `shasum -a 256 -c` where there is no sha256sum (BSD, macOS).
 */
export function verifyCommand(layout: RemoteLayout): string {
  return `cd -- ${shellQuote(layout.releaseDir)} && if command -v sha256sum >/dev/null 2>&1; then sha256sum -c -; else shasum -a 256 -c -; fi`
}

/** The lines of a checksum run that report a problem (not `<path>: OK`). */
export function checksumProblems(output: string): string[] {
  return output
    .split('\n')
    .map(l => l.trim())
    .filter(l => l !== '' && !/: OK$/.test(l))
}

/** Lines for `sha256sum -c` (`<hex>  ./<path>`); paths are relative with `/` separators. */
export function checksumManifest(files: { path: string; sha256: string }[]): string {
  return files.map(f => `${f.sha256}  ./${f.path}\n`).join('')
}
