import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { confinedPath, isWithin, realPath, symlinkOnPath } from '../../../src/core/confine.js'
import { ConfigurationError } from '../../../src/core/errors.js'

describe('isWithin', () => {
  it.each([
    ['/w', '/w', true],
    ['/w', '/w/a/b', true],
    ['/w', '/w/..a', true],
    ['/w', '/w2', false],
    ['/w', '/', false],
    ['/w', '/etc/passwd', false],
    ['/w/a', '/w', false]
  ])('%s contains %s: %s', (root, path, expected) => {
    expect(isWithin(root, path)).toBe(expected)
  })
})

describe('confinedPath', () => {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'conveyor-confine-')))
  afterAll(() => rmSync(root, { recursive: true, force: true }))
  mkdirSync(join(root, 'ws', 'dir'), { recursive: true })
  writeFileSync(join(root, 'ws', 'dir', 'file'), 'x')
  writeFileSync(join(root, 'outside'), 'secret')
  symlinkSync(join(root, 'outside'), join(root, 'ws', 'out-link'))
  symlinkSync(join(root, 'ws', 'dir', 'file'), join(root, 'ws', 'in-link'))
  symlinkSync(root, join(root, 'ws', 'up'))
  symlinkSync('/nonexistent/target', join(root, 'ws', 'dangling'))
  const ws = join(root, 'ws')
  const ok = (p: string): string => confinedPath(ws, p, { input: 'config' })
  const fail = (p: string): string => {
    try {
      ok(p)
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigurationError)
      return (e as Error).message
    }
    throw new Error(`expected ${p} to be refused`)
  }

  it('resolves paths inside, through links that stay inside', () => {
    expect(ok('dir/file')).toBe(join(ws, 'dir', 'file'))
    expect(ok('in-link')).toBe(join(ws, 'dir', 'file'))
    expect(ok('dir/not-yet')).toBe(join(ws, 'dir', 'not-yet'))
    expect(ok(join(ws, 'dir'))).toBe(join(ws, 'dir'))
  })

  it('refuses a link out, a link to a parent, and lexical traversal', () => {
    expect(fail('out-link')).toMatch(
      /^config "out-link" is outside the workspace .* \(through a symlink\)$/
    )
    expect(fail('up/outside')).toMatch(/through a symlink/)
    expect(fail('up/not-there/x')).toMatch(/through a symlink/)
    expect(fail('../outside')).toMatch(/^config "\.\.\/outside" is outside the workspace [^(]*$/)
    expect(fail('/etc/passwd')).toMatch(/outside the workspace/)
  })

  it('names the root and appends the hint', () => {
    expect(() =>
      confinedPath(ws, 'out-link', {
        input: 'dockerfile',
        rootName: 'the working directory',
        hint: 'why'
      })
    ).toThrow(/^dockerfile "out-link" is outside the working directory .*; why$/)
  })

  it('a dangling link is judged by where it sits (nothing to read there)', () => {
    expect(realPath(ws, 'dangling')).toBe(join(ws, 'dangling'))
  })
})

describe('links through directories', () => {
  let dir: string
  let root: string
  beforeAll(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'conveyor-confine-dirs-')))
    root = join(dir, 'root')
    mkdirSync(join(root, 'a', 'b'), { recursive: true })
    writeFileSync(join(root, 'a', 'b', 'f.yaml'), 'x')
    writeFileSync(join(dir, 'outside.txt'), 'secret')
    symlinkSync(join(dir, 'outside.txt'), join(root, 'a', 'out.txt'))
    symlinkSync('b', join(root, 'a', 'inner'))
    symlinkSync(dir, join(root, 'up'))
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('confinedPath follows a directory link that stays inside, and a path not there yet', () => {
    const confined = (p: string): string => confinedPath(root, p, { input: 'input "x":' })
    expect(confined('a/inner/f.yaml')).toBe(join(root, 'a', 'b', 'f.yaml'))
    expect(confined('a/new/file')).toBe(join(root, 'a', 'new', 'file'))
    for (const p of ['a/out.txt', 'up/outside.txt', 'up/not-yet/x']) {
      expect(() => confined(p)).toThrow(ConfigurationError)
      expect(() => confined(p)).toThrow(/^input "x": ".*" is outside the workspace /)
    }
  })

  it('symlinkOnPath names the first link on the way, even one that stays inside', () => {
    expect(symlinkOnPath(root, 'a/b/f.yaml')).toBeUndefined()
    expect(symlinkOnPath(root, 'a/out.txt')).toBe('a/out.txt')
    expect(symlinkOnPath(root, 'a/inner/f.yaml')).toBe('a/inner')
    expect(symlinkOnPath(root, './up/x')).toBe('up')
    expect(symlinkOnPath(root, 'missing/x')).toBeUndefined()
  })
})
