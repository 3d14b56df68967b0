import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { afterAll, describe, expect, it } from 'vitest'
import { ConfigurationError } from '../../../../src/core/errors.js'
import { loadServices } from '../../../../src/model/services/load.js'

describe('loadServices', () => {
  const dirs: string[] = []
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })
  function tree(files: Record<string, string>): string {
    const d = mkdtempSync(join(tmpdir(), 'conveyor-services-'))
    dirs.push(d)
    for (const [p, c] of Object.entries(files)) {
      mkdirSync(dirname(join(d, p)), { recursive: true })
      writeFileSync(join(d, p), c)
    }
    return d
  }

  it('reads the default file', async () => {
    const d = tree({ '.github/conveyor.yml': 'services:\n  a: { path: a }\n' })
    const c = await loadServices({ workspace: d })
    expect(c.file).toBe('.github/conveyor.yml')
    expect(c.services.map(s => s.name)).toEqual(['a'])
  })

  it('discovers Dockerfiles by walking when there is no file and no git', async () => {
    const d = tree({ 'svc/one/Dockerfile': 'FROM scratch', 'node_modules/m/Dockerfile': 'x' })
    const c = await loadServices({ workspace: d })
    expect(c.file).toBeUndefined()
    expect(c.services.map(s => s.name)).toEqual(['one'])
  })

  it('in a git repository, respects .gitignore', async () => {
    const d = tree({
      'svc/one/Dockerfile': 'FROM scratch',
      'build-out/two/Dockerfile': 'FROM scratch',
      '.gitignore': 'build-out/\n'
    })
    execFileSync('git', ['init', '-q'], { cwd: d })
    const c = await loadServices({ workspace: d })
    expect(c.services.map(s => s.name)).toEqual(['one'])
  })

  it('requireFile: a missing file is an error', async () => {
    const d = tree({})
    await expect(
      loadServices({ workspace: d, config: 'ci/s.yml', requireFile: true })
    ).rejects.toThrow(/services file "ci\/s\.yml" does not exist/)
  })

  it('refuses a services file symlinked out of the workspace, without reading it', async () => {
    const outside = tree({ 'secret.yml': 'TOKEN=s3cr3t-value\n' })
    const d = tree({ 'svc/Dockerfile': 'FROM scratch' })
    mkdirSync(join(d, '.github'))
    symlinkSync(join(outside, 'secret.yml'), join(d, '.github', 'conveyor.yml'))
    const error = await loadServices({ workspace: d }).then(
      () => undefined,
      (e: unknown) => e as Error
    )
    expect(error).toBeInstanceOf(ConfigurationError)
    expect(error!.message).toMatch(
      /^config "\.github\/conveyor\.yml" is outside the workspace .* \(through a symlink\)/
    )
    expect(error!.message).not.toContain('s3cr3t')
  })

  it('refuses a services file under a symlinked directory, and /proc/self/environ', async () => {
    const d = tree({})
    symlinkSync('/proc/self', join(d, '.github'))
    await expect(
      loadServices({ workspace: d, config: '.github/environ', rootName: 'the working directory' })
    ).rejects.toThrow(/^config "\.github\/environ" is outside the working directory /)
  })

  it('follows a symlink that stays inside the workspace', async () => {
    const d = tree({ 'ci/real.yml': 'services:\n  a: { path: a }\n' })
    mkdirSync(join(d, '.github'))
    symlinkSync('../ci/real.yml', join(d, '.github', 'conveyor.yml'))
    const c = await loadServices({ workspace: d })
    expect(c.services.map(s => s.name)).toEqual(['a'])
  })

  it('refuses a services file that is not a regular file', async () => {
    const d = tree({ '.github/conveyor.yml/x': '' })
    await expect(loadServices({ workspace: d })).rejects.toThrow(
      /services file "\.github\/conveyor\.yml" is not a regular file/
    )
  })

  it('errors carry the configured path', async () => {
    const d = tree({ 'ci/s.yml': 'services:\n  a: { pth: a }\n' })
    await expect(loadServices({ workspace: d, config: 'ci/s.yml' })).rejects.toThrow(
      /^ci\/s\.yml:2:8: services\.a\.pth: unknown key "pth" \(did you mean "path"\?\)/
    )
  })
})
