import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  RELEASE_NAME_RE,
  checksumManifest,
  checksumProblems,
  exportLines,
  releaseFromLink,
  releaseName,
  releasesToPrune,
  remoteLayout,
  scriptProgram,
  shellQuote,
  switchProgram,
  verifyCommand
} from '../../../../src/deploy/ssh/release.js'

describe('releaseName', () => {
  it.each([
    ['2026-11-22T23:59:44.123Z', 'ABCDEF0123456789', '20261122-235944-123-abcdef0'],
    [
      '2026-01-02T03:04:05.006Z',
      '0000000000000000000000000000000000000000',
      '20260102-030405-006-0000000'
    ],
    ['2026-01-02T03:04:05.006Z', undefined, '20260102-030405-006-local'],
    ['2026-01-02T03:04:05.006Z', '', '20260102-030405-006-local']
  ])('%s + %s = %s', (time, sha, expected) => {
    const name = releaseName(new Date(time), sha)
    expect(name).toBe(expected)
    expect(RELEASE_NAME_RE.test(name)).toBe(true)
  })
  it('sorts by time', () => {
    const a = releaseName(new Date('2026-01-01T09:59:59.999Z'), 'fff')
    const b = releaseName(new Date('2026-01-01T10:00:00.000Z'), '000')
    expect(a < b).toBe(true)
  })
})

describe('releasesToPrune', () => {
  const r = (n: number): string => `2026010${n}-000000-000-abc1234`
  it.each([
    ['keeps the newest N', [r(1), r(2), r(3), r(4)], 2, r(4), [r(4)], [r(1), r(2)]],
    ['nothing to do', [r(1), r(2)], 5, r(2), [r(2)], []],
    ['never deletes current even when old', [r(1), r(2), r(3)], 2, r(1), [r(3)], [r(2)]],
    ['keep 1', [r(1), r(2), r(3)], 1, r(3), [r(3)], [r(1), r(2)]],
    ['ignores foreign names', ['shared', 'logs', r(1), r(2), r(3)], 1, r(3), [r(3)], [r(1), r(2)]],
    ['unordered input', [r(3), r(1), r(2)], 2, r(3), [r(3)], [r(1)]],
    [
      'protects the new release even when a newer one exists',
      [r(1), r(2), r(3)],
      1,
      r(2),
      [r(2)],
      [r(1), r(3)]
    ]
  ])('%s', (_label, names, keep, current, protect, expected) => {
    expect(releasesToPrune(names, keep, current, protect)).toEqual(expected)
  })
})

describe('shell quoting and programs', () => {
  const sh = (program: string, env: Record<string, string> = {}, stdin?: string): string =>
    execFileSync('bash', stdin === undefined ? ['-s'] : ['-c', program], {
      input: stdin ?? program,
      encoding: 'utf8',
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH, ...env }
    })

  it.each([["it's"], ['a b'], ['$(touch /tmp/pwned)'], ['`x`'], ['line1\nline2'], ['"\\'], ['']])(
    'shellQuote round-trips %j',
    value => {
      expect(sh(`printf %s ${shellQuote(value)}`)).toBe(value)
    }
  )
  it('leaves safe words unquoted', () => {
    expect(shellQuote('/srv/app/releases/x')).toBe('/srv/app/releases/x')
  })
  it('exportLines exports values exactly', () => {
    const program = `${exportLines({ A: "x'y", B: 'multi\nline $HOME' })}printf '%s|%s' "$A" "$B"`
    expect(sh(program)).toBe("x'y|multi\nline $HOME")
  })
  it('releaseFromLink', () => {
    expect(releaseFromLink('releases/20260101-000000-000-abc1234')).toBe(
      '20260101-000000-000-abc1234'
    )
    expect(releaseFromLink('/srv/app/releases/20260101-000000-000-abc1234/')).toBe(
      '20260101-000000-000-abc1234'
    )
    expect(releaseFromLink('/srv/elsewhere')).toBeUndefined()
  })
  it('remoteLayout', () => {
    expect(remoteLayout('/srv/app/', 'R')).toEqual({
      target: '/srv/app',
      release: 'R',
      releasesDir: '/srv/app/releases',
      releaseDir: '/srv/app/releases/R',
      current: '/srv/app/current'
    })
  })
  it('switchProgram uses a temp link and mv -T', () => {
    const p = switchProgram(remoteLayout('/srv/my app', 'R'), 'R')
    expect(p).toMatch(/ln -sfn releases\/R '\/srv\/my app\/\.current-R-\d+'/)
    expect(p).toMatch(/mv -fT '\/srv\/my app\/\.current-R-\d+' '\/srv\/my app\/current'/)
  })
  it('verifyCommand checks a manifest from stdin; checksumProblems keeps the failures', () => {
    const dir = mkdtempSync(join(tmpdir(), 'conveyor-verify-'))
    try {
      mkdirSync(join(dir, 'a b'))
      writeFileSync(join(dir, 'a b', 'x.txt'), 'x')
      writeFileSync(join(dir, 'y'), 'y')
      const sha = (t: string): string => createHash('sha256').update(t).digest('hex')
      const layout = { ...remoteLayout('/', 'R'), releaseDir: dir }
      const good = checksumManifest([
        { path: 'a b/x.txt', sha256: sha('x') },
        { path: 'y', sha256: sha('y') }
      ])
      expect(sh(verifyCommand(layout), {}, good)).toContain('./y: OK')
      const bad = checksumManifest([
        { path: 'a b/x.txt', sha256: sha('x') },
        { path: 'y', sha256: sha('tampered') }
      ])
      let output = ''
      try {
        sh(verifyCommand(layout), {}, bad)
      } catch (error) {
        const e = error as { stdout: string; stderr: string; status: number }
        expect(e.status).toBe(1)
        output = `${e.stdout}\n${e.stderr}`
      }
      const problems = checksumProblems(output)
      expect(problems[0]).toBe('./y: FAILED')
      expect(problems.some(p => p.includes('a b/x.txt'))).toBe(false)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('checksumManifest is sha256sum -c format', () => {
    expect(checksumManifest([{ path: 'a/b c.txt', sha256: 'ab'.repeat(32) }])).toBe(
      `${'ab'.repeat(32)}  ./a/b c.txt\n`
    )
  })
  it('scriptProgram: strict mode, env, cwd, exit status, stdin-reading commands cannot eat the script', () => {
    const layout = remoteLayout('/', 'R')
    const program = scriptProgram(
      { ...layout, releaseDir: '/tmp' },
      'cat\necho "$CONVEYOR_RELEASE $TOKEN $(pwd)"\nfalse\necho not reached',
      { TOKEN: 'tok en' },
      undefined
    )
    let out = ''
    try {
      sh(program)
    } catch (error) {
      out = String((error as { stdout: string }).stdout)
      expect((error as { status: number }).status).toBe(1)
    }
    expect(out).toBe('R tok en /tmp\n')
  })
  it('scriptProgram: pipefail and unset variables fail', () => {
    const layout = { ...remoteLayout('/', 'R'), releaseDir: '/tmp' }
    for (const script of ['false | true', 'echo $UNSET_VAR_X']) {
      expect(() => sh(scriptProgram(layout, script, {}, undefined))).toThrow()
    }
    expect(sh(scriptProgram(layout, 'echo ok # trailing comment', {}, 'P'))).toBe('ok\n')
  })
})
