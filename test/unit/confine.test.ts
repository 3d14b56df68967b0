import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { confinedPath, isWithin, symlinkOnPath } from '../../src/lib/confine.js'
import { ConfigurationError } from '../../src/lib/errors.js'

let dir: string
let root: string
beforeAll(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'conveyor-confine-')))
  root = join(dir, 'root')
  mkdirSync(join(root, 'a', 'b'), { recursive: true })
  writeFileSync(join(root, 'a', 'b', 'f.yaml'), 'x')
  writeFileSync(join(dir, 'outside.txt'), 'secret')
  symlinkSync(join(dir, 'outside.txt'), join(root, 'a', 'out.txt'))
  symlinkSync('b', join(root, 'a', 'inner'))
  symlinkSync(dir, join(root, 'up'))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('isWithin', () => {
  it.each([
    ['/w', '/w', true],
    ['/w', '/w/x/y', true],
    ['/w', '/w/..x', true],
    ['/w', '/wx', false],
    ['/w', '/', false],
    ['/w', '/w/../etc', false]
  ])('%s contains %s: %s', (r, p, ok) => {
    expect(isWithin(r, p)).toBe(ok)
  })
})

describe('confinedPath', () => {
  const confined = (p: string): string => confinedPath(root, p, { input: 'input "x":' })
  it('resolves paths inside, symlinks included', () => {
    expect(confined('a/b/f.yaml')).toBe(join(root, 'a', 'b', 'f.yaml'))
    expect(confined('a/inner/f.yaml')).toBe(join(root, 'a', 'b', 'f.yaml'))
    expect(confined('a/new/file')).toBe(join(root, 'a', 'new', 'file'))
  })
  it.each(['../outside.txt', '/etc/passwd', 'a/out.txt', 'up/outside.txt', 'up/not-yet/x'])(
    'refuses %s',
    p => {
      expect(() => confined(p)).toThrow(ConfigurationError)
      expect(() => confined(p)).toThrow(/^input "x": ".*" is outside the workspace /)
    }
  )
})

describe('symlinkOnPath', () => {
  it('names the first symlink on the way', () => {
    expect(symlinkOnPath(root, 'a/b/f.yaml')).toBeUndefined()
    expect(symlinkOnPath(root, 'a/out.txt')).toBe('a/out.txt')
    expect(symlinkOnPath(root, 'a/inner/f.yaml')).toBe('a/inner')
    expect(symlinkOnPath(root, './up/x')).toBe('up')
    expect(symlinkOnPath(root, 'missing/x')).toBeUndefined()
  })
})
