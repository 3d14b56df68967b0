/**
 * The local runner as a user meets it: `node path/to/conveyor/bin/conveyor.mjs run ...`
 * from the user's own repository, with a copy of Conveyor that has no node_modules at
 * all (what `npx` on a clone or a plain clone without `npm install` gives). It runs the
 * committed bundles, keeps the files its outputs point to, prints outputs whole and
 * post-step lines once, and the README's own example (`--input base=HEAD~3`) works.
 */
import { spawn } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanup, makeRepo, sh, tempDir, type TestRepo } from '../support/gitrepo.js'
import { node24, ROOT } from '../support/harness.js'

let conveyor: string
let repo: TestRepo
let clone: string

/** Run the CLI of the copy from `cwd`; resolves with its exit code and output. */
function cli(
  args: string[],
  cwd: string
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise(resolve => {
    const child = spawn(node24(), [join(conveyor, 'bin', 'conveyor.mjs'), ...args], {
      cwd,
      // No NODE_PATH, no tsx loader: only what the copy holds.
      env: { PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C.UTF-8' },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', c => (stdout += c))
    child.stderr.on('data', c => (stderr += c))
    child.on('close', code => resolve({ code: code ?? -1, stdout, stderr }))
  })
}

beforeAll(() => {
  // A copy of Conveyor as a clone ships it: no node_modules, no devDependencies.
  conveyor = join(tempDir('conveyor-copy-'), 'conveyor')
  mkdirSync(conveyor)
  for (const entry of ['bin', 'dist', 'actions', 'package.json'])
    cpSync(join(ROOT, entry), join(conveyor, entry), { recursive: true })
  expect(existsSync(join(conveyor, 'node_modules'))).toBe(false)
  // The user's repository: many services, so the matrix is longer than any cut-off.
  const files: Record<string, string> = {}
  for (let i = 0; i < 12; i++)
    files[`services/service-with-a-long-name-${i}/Dockerfile`] = 'FROM scratch\n'
  repo = makeRepo(files)
  for (let i = 0; i < 4; i++) {
    const changed: Record<string, string> = {}
    for (let j = 0; j < 12; j++) changed[`services/service-with-a-long-name-${j}/f${i}`] = `${i}\n`
    repo.commit(changed)
  }
  repo.push('main')
  clone = join(tempDir('conveyor-user-'), 'shop')
  sh(join(clone, '..'), ['clone', '-q', repo.url, 'shop'])
})
afterAll(() => cleanup())

describe('conveyor run, from a user repository, without devDependencies', () => {
  it('plan --input base=HEAD~3 (the README example) works; outputs whole; files kept', async () => {
    const r = await cli(['run', 'plan', '--event', 'push', '--input', 'base=HEAD~3'], clone)
    expect(r.stderr).not.toMatch(/tsx|Cannot find (module|package)/)
    expect(r.code, r.stdout.slice(-2000)).toBe(0)
    expect(r.stdout).toContain('plan: succeeded')
    const matrix = /^matrix: (.*)$/m.exec(r.stdout)![1]!
    expect(matrix.length).toBeGreaterThan(400)
    expect((JSON.parse(matrix) as { include: unknown[] }).include).toHaveLength(12)
    expect(/^base: (\w+)$/m.exec(r.stdout)![1]).toBe(sh(clone, ['rev-parse', 'HEAD~3']))
    // The file an output points to outlives the run, in the directory it printed.
    const listed = /^changed-files-path: (.*)$/m.exec(r.stdout)![1]!
    const dir = /^files of this run \(RUNNER_TEMP, file commands\): (\S+) \(kept/m.exec(
      r.stdout
    )![1]!
    expect(listed.startsWith(dir)).toBe(true)
    expect(JSON.parse(readFileSync(listed, 'utf8'))).toHaveLength(36)
  })

  it('prints the post step lines once, and fails with the main step', async () => {
    const r = await cli(['run', 'build', '--input', 'service=nope'], clone)
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/::error::build failed: unknown service "nope"/)
    expect(r.stdout.split('no registry login to clean up').length - 1).toBe(1)
    expect(r.stdout).toContain('build: failed (exit 1)')
  })

  it('--runner-temp reuses one directory; a bad command prints the usage', async () => {
    const dir = tempDir('conveyor-cli-rt-')
    const r = await cli(
      ['run', 'plan', '--runner-temp', dir, '--input', 'base=HEAD~1', '--workspace', clone],
      conveyor
    )
    expect(r.code).toBe(0)
    expect(existsSync(join(dir, 'runner-temp', 'conveyor'))).toBe(true)
    const bad = await cli(['run', 'nope'], clone)
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('usage: conveyor run <plan|build|deploy|argocd-sync>')
  })
})
